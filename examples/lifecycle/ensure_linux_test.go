//go:build linux

// Ensure starts a daemon only when nothing runs there, exactly one, and
// leaves none behind when it fails.

package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestEnsureStartsADaemon(t *testing.T) {
	addr := freeAddr(t)
	start, started := starter(t, "serve", addr)
	h, err := Ensure(context.Background(), config(addr, new("/v1/shutdown")), start)
	require.NoError(t, err)

	require.NotNil(t, *started)
	assert.True(t, h.ShouldCleanup())
	assert.Equal(t, "test-daemon", h.DaemonName())
	assert.Equal(t, "http://"+addr, h.BaseURL())
	pid, ok := h.PID()
	assert.True(t, ok)
	assert.Equal(t, (*started).pid(), pid, "the handle carries the real pid")
	id, ok := h.ProcessIdentity()
	assert.True(t, ok, "and the identity of its process")
	want, err := ProcessIdentity(pid)
	require.NoError(t, err)
	assert.Equal(t, want, id)
	assert.NoError(t, h.Validate())
	assert.True(t, answers(addr))
}

func TestEnsureProcessKeepsThePidfd(t *testing.T) {
	addr := freeAddr(t)
	cfg := config(addr, nil)
	var d *daemon
	h, err := EnsureProcess(context.Background(), cfg, func(context.Context) (*os.Process, error) {
		var err error
		d, err = startDaemon(t, "serve", addr)
		if err != nil {
			return nil, err
		}
		return d.cmd.Process, nil
	})
	require.NoError(t, err)
	pid, _ := h.PID()
	id, _ := h.ProcessIdentity()
	assert.Equal(t, d.pid(), pid)
	kept := started.get(pid, id)
	require.NotNil(t, kept, "Ensure keeps the process for Stop")
	assert.Same(t, d.cmd.Process, kept.p, "the caller's own *os.Process, with its pidfd")

	var signalled []*os.Process
	real := signal
	signal = func(p *os.Process, sig syscall.Signal) error { signalled = append(signalled, p); return real(p, sig) }
	t.Cleanup(func() { signal = real })
	how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	require.NotEmpty(t, signalled)
	for _, p := range signalled {
		assert.Same(t, d.cmd.Process, p, "every signal goes through the kept *os.Process")
	}
	assert.True(t, d.gone(5*time.Second))
	assert.Nil(t, started.get(pid, id), "and Stop forgets it")
}

func TestAlreadyRunningDaemonIsNeverSignalled(t *testing.T) {
	addr := freeAddr(t)
	running, err := startDaemon(t, "serve", addr)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return answers(addr) }, 10*time.Second, 20*time.Millisecond)

	cfg := config(addr, new("/v1/shutdown"))
	start, started := starter(t, "serve", addr)
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	assert.Nil(t, *started, "Ensure must not start a second daemon")
	assert.False(t, h.ShouldCleanup())
	_, ok := h.PID()
	assert.False(t, ok)

	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	how, err := Stop(context.Background(), h, shutdownConfig(int(running.pid()), 0), cfg)
	require.NoError(t, err)
	assert.Equal(t, NotOurs, how)
	assert.Empty(t, signalled, "not even signal 0")
	assert.False(t, running.gone(500*time.Millisecond), "still alive")
	assert.True(t, answers(addr), "and still answering")
}

func TestEnsureKillsADaemonThatNeverBecomesHealthy(t *testing.T) {
	addr := freeAddr(t)
	start, started := starter(t, "unhealthy", addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := Ensure(ctx, config(addr, nil), start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, *started)
	assert.True(t, (*started).gone(5*time.Second), "no process left behind")
}

func TestEnsureNoticesADaemonThatExits(t *testing.T) {
	// A daemon that cannot listen (the port is taken by something that is not
	// healthy) exits; Ensure stops waiting then, not at its deadline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.Close()
		}
	}()
	addr := ln.Addr().String()
	start, started := starter(t, "serve", addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Ensure(ctx, config(addr, nil), start)
	require.Error(t, err)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "exited")
	assert.True(t, (*started).gone(5*time.Second))
}

func TestConcurrentEnsureStartsOneDaemon(t *testing.T) {
	// Two concurrent Ensure
	// calls both returned started_by_us handles, and both started a
	// daemon. Now at most one daemon is started, and only its handle owns
	// it. Run with -count=20 -race.
	addr := freeAddr(t)
	cfg := config(addr, nil)
	var mu sync.Mutex
	var daemons []*daemon
	start := func(context.Context) (uint32, error) {
		d, err := startDaemon(t, "serve", addr)
		if err != nil {
			return 0, err
		}
		mu.Lock()
		daemons = append(daemons, d)
		mu.Unlock()
		return d.pid(), nil
	}

	const callers = 8
	handles := make([]daemoncontract.DaemonHandle, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { handles[i], errs[i] = Ensure(context.Background(), cfg, start) })
	}
	wg.Wait()

	var owners []daemoncontract.DaemonHandle
	for i := range callers {
		require.NoError(t, errs[i])
		if handles[i].ShouldCleanup() {
			owners = append(owners, handles[i])
		}
	}
	require.Len(t, daemons, 1, "exactly one daemon started")
	require.Len(t, owners, 1, "exactly one handle owns it")
	pid, _ := owners[0].PID()
	assert.Equal(t, daemons[0].pid(), pid)

	how, err := Stop(context.Background(), owners[0], shutdownConfig(int(pid), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
}

func TestEnsureReportsAFailedStart(t *testing.T) {
	boom := errors.New("no such binary")
	_, err := Ensure(context.Background(), config(freeAddr(t), nil), func(context.Context) (uint32, error) { return 0, boom })
	assert.ErrorIs(t, err, boom)
}

func TestEnsureGivesUpWaitingForItsTurn(t *testing.T) {
	// An Ensure that waits for another Ensure of the same daemon gives up
	// when its context ends.
	addr := freeAddr(t)
	inStart, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := Ensure(context.Background(), config(addr, nil), func(context.Context) (uint32, error) {
			close(inStart)
			<-release
			return 0, errors.New("not started")
		})
		first <- err
	}()
	<-inStart

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := Ensure(ctx, config(addr, nil), func(context.Context) (uint32, error) {
		t.Error("started while another Ensure of the daemon was under way")
		return 0, nil
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	close(release)
	assert.ErrorContains(t, <-first, "not started")
}

func TestEnsureStartsNothingWithoutAnAnswer(t *testing.T) {
	// With a context that was already done, or one that
	// ended before a slow but healthy daemon answered, the health check
	// failed and Ensure started a second daemon. No answer in time is not
	// "not running": Ensure now starts nothing and returns the context's
	// error.
	served := serveHTTP(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		time.Sleep(300 * time.Millisecond)
	}))
	cfg := config(served, nil)
	var starts atomic.Int32
	start := func(context.Context) (uint32, error) { starts.Add(1); return 0, os.ErrInvalid }

	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		_, err := Ensure(done, cfg, start)
		assert.ErrorIs(t, err, context.Canceled)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	_, err := Ensure(short, cfg, start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, starts.Load(), "start was never called")
}
