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
	"strconv"
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
	t.Parallel() // it mostly waits, and replaces no hook: see helpers_test.go
	addr := freeAddr(t)
	start, started := starter(t, "unhealthy", addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := Ensure(ctx, config(addr, nil), start)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ErrNotHealthy)
	assert.ErrorContains(t, err, "was killed (SIGKILL)")
	require.NotNil(t, *started)
	done, err := exited((*started).cmd.Process)
	require.NoError(t, err)
	assert.True(t, done, "no process left behind: Ensure returns once it has exited")
	assert.True(t, (*started).gone(5*time.Second))
}

func TestEnsureNoticesADaemonThatExits(t *testing.T) {
	// A daemon that cannot listen (a socket bound to the port, and not
	// listening, refuses connections and takes the port) exits; Ensure
	// stops waiting then, not at its deadline, and kills nothing.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))

	start, started := starter(t, "serve", addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = Ensure(ctx, config(addr, nil), start)
	require.Error(t, err)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ErrNotHealthy)
	assert.ErrorContains(t, err, "exited before it answered, so nothing was killed")
	assert.True(t, (*started).gone(5*time.Second))
	assert.Equal(t, 2, (*started).state.ExitCode(), "it could not listen")
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
	assert.ErrorContains(t, err, "waiting for another Ensure of it")
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

func TestEnsureLaunchesNothingBesideASlowDaemon(t *testing.T) {
	t.Parallel() // it mostly waits, and replaces no hook: see helpers_test.go
	// A healthy daemon that accepted at once and answered /health after
	// 3 s got a second launch: Ensure's health check timed out after 2 s,
	// Ensure took that for "not running" and called start, and the second
	// daemon failed to bind, after its side effects. A health check that
	// times out is no answer yet: Ensure waits for the answer, and finds
	// the daemon running.
	addr := freeAddr(t)
	running, err := startDaemon(t, "slow", addr, "LIFECYCLE_TEST_DELAY=2500ms")
	require.NoError(t, err)
	running.ready(t)
	var starts atomic.Int32
	start, _ := starter(t, "serve", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := Ensure(ctx, config(addr, nil), func(ctx context.Context) (uint32, error) {
		starts.Add(1)
		return start(ctx)
	})
	require.NoError(t, err)
	assert.Equal(t, daemoncontract.AlreadyRunning("test-daemon", "http://"+addr), h)
	assert.Zero(t, starts.Load(), "no second launch")
}

func TestEnsureWaitsForAListenerThatDoesNotAnswer(t *testing.T) {
	t.Parallel() // it mostly waits, and replaces no hook: see helpers_test.go
	// Something accepts connections at the health address but gives no
	// 2xx answer: a daemon that does not answer in time, one that answers
	// 503 (loading), one that redirects. Ensure launches nothing beside
	// it (a second daemon could not listen there): it waits until its
	// context ends, and says that a process listens but did not answer.
	tests := []struct {
		name string
		addr func(t *testing.T) string
		last string
	}{
		{"no answer", func(t *testing.T) string {
			addr := freeAddr(t)
			d, err := startDaemon(t, "slow", addr, "LIFECYCLE_TEST_DELAY=1h")
			require.NoError(t, err)
			d.ready(t)
			return addr
		}, "context deadline exceeded"},
		{"503", func(t *testing.T) string {
			addr := freeAddr(t)
			d, err := startDaemon(t, "unhealthy", addr)
			require.NoError(t, err)
			d.ready(t)
			return addr
		}, "503 Service Unavailable"},
		{"a redirect", func(t *testing.T) string {
			return redirector(t, http.StatusFound, "http://"+freeAddr(t)+"/health")
		}, "302 Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := tt.addr(t)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			h, err := Ensure(ctx, config(addr, nil), func(context.Context) (uint32, error) {
				t.Error("start called beside a listener")
				return 0, errors.New("start called")
			})
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrNotAnswering)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorContains(t, err, "something accepts connections at http://"+addr+"/health but gave no 2xx answer")
			assert.ErrorContains(t, err, tt.last)
			assert.Zero(t, h, "no handle")
		})
	}
}

func TestEnsureStartsNothingWhileConnectionsHang(t *testing.T) {
	t.Parallel() // it mostly waits, and replaces no hook: see helpers_test.go
	// A listener whose accept queue is full drops new connections (the
	// kernel ignores their SYN), so they neither connect nor fail: Ensure
	// cannot tell whether a daemon runs, and starts nothing.
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	require.NoError(t, syscall.Listen(fd, 0)) // never accepts
	sa, err := syscall.Getsockname(fd)
	require.NoError(t, err)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	filler, err := net.Dial("tcp", addr) // fills the queue
	require.NoError(t, err)
	defer filler.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = Ensure(ctx, config(addr, nil), func(context.Context) (uint32, error) {
		t.Error("start called")
		return 0, errors.New("start called")
	})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "the context ended before the health check at http://"+addr+"/health could tell whether the daemon runs; nothing was started")
}
