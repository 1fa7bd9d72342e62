//go:build linux

// Stop stops its own daemon: asked first, killed after the graceful
// timeout, each signal once.

package lifecycle

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStopThroughShutdownEndpoint(t *testing.T) {
	d, cfg, h := ensureDaemon(t, "serve", new("/v1/shutdown"))
	var signals []syscall.Signal
	observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, d.gone(5*time.Second))
	assert.Empty(t, signals, "the endpoint stopped it, not a signal")
}

func TestStopWithSIGTERM(t *testing.T) {
	// No shutdown endpoint: Stop sends SIGTERM, which the daemon obeys
	// (Go's default on SIGTERM is to exit).
	d, cfg, h := ensureDaemon(t, "serve", nil)
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, d.gone(5*time.Second))
}

func TestStopKillsAStubbornDaemon(t *testing.T) {
	t.Parallel() // it mostly waits, and replaces no hook: see helpers_test.go
	tests := []struct {
		name     string
		endpoint *string
	}{
		{"shutdown request accepted, then ignored", new("/v1/shutdown")},
		{"no endpoint, SIGTERM ignored", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, cfg, h := ensureDaemon(t, "stubborn", tt.endpoint)
			began := time.Now()
			how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 1), cfg)
			took := time.Since(began)
			require.NoError(t, err)
			assert.Equal(t, Killed, how)
			assert.True(t, d.gone(5*time.Second))
			assert.GreaterOrEqual(t, took, time.Second, "SIGKILL only after graceful_timeout_secs")
			assert.Less(t, took, time.Second+KillWait, "and then promptly")
		})
	}
}

func TestStopWithZeroTimeoutKillsAtOnce(t *testing.T) {
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 0), cfg)
	require.NoError(t, err)
	assert.Equal(t, Killed, how)
	assert.True(t, d.gone(5*time.Second))
}

func TestStopKillsWhenTheContextEnds(t *testing.T) {
	d, cfg, h := ensureDaemon(t, "stubborn", new("/v1/shutdown"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	how, err := Stop(ctx, h, shutdownConfig(int(d.pid()), 60), cfg)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, Killed, how)
	assert.True(t, d.gone(5*time.Second), "SIGKILL at once, not after 60s")
}

func TestStopWithADoneContextKeepsTheGrace(t *testing.T) {
	// An already-cancelled context turned Stop into an immediate
	// SIGKILL with no grace period, so a keeper cleaning up after ^C killed
	// everything hard. Now the graceful request is made, and the daemon
	// gets the whole graceful timeout.
	done, cancel := context.WithCancel(context.Background())
	cancel()

	t.Run("the shutdown request is made", func(t *testing.T) {
		d, cfg, h := ensureDaemon(t, "serve", new("/v1/shutdown"))
		how, err := Stop(done, h, shutdownConfig(int(d.pid()), 5), cfg)
		require.NoError(t, err)
		assert.Equal(t, StoppedGracefully, how)
		require.True(t, d.gone(5*time.Second))
		assert.True(t, d.exitedByItself(), "it exited on its own, asked over HTTP: %v", d.state)
	})
	t.Run("SIGKILL only after the graceful timeout", func(t *testing.T) {
		d, cfg, h := ensureDaemon(t, "stubborn", new("/v1/shutdown"))
		began := time.Now()
		how, err := Stop(done, h, shutdownConfig(int(d.pid()), 1), cfg)
		took := time.Since(began)
		require.NoError(t, err)
		assert.Equal(t, Killed, how)
		assert.GreaterOrEqual(t, took, time.Second, "the full graceful_timeout_secs")
		assert.True(t, d.gone(5*time.Second))
	})
}

func TestStopReportsAFailedKill(t *testing.T) {
	// SIGKILL fails (as EPERM would make it) after SIGTERM was sent and
	// ignored: Stop did not end the process, and says so.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	failSignal(t, syscall.SIGKILL, syscall.EPERM)
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 0), cfg)
	assert.Equal(t, Refused, how)
	assert.ErrorIs(t, err, syscall.EPERM)
	assert.False(t, d.gone(200*time.Millisecond), "still running")
}

func TestAFailedKillIsRefusedWhenTheContextEnds(t *testing.T) {
	// A failed SIGKILL on the context path reported Killed. It is
	// Refused on every path.
	d, cfg, h := ensureDaemon(t, "stubborn", new("/v1/shutdown"))
	failSignal(t, syscall.SIGKILL, syscall.EPERM)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	how, err := Stop(ctx, h, shutdownConfig(int(d.pid()), 60), cfg)
	assert.Equal(t, Refused, how)
	assert.ErrorIs(t, err, syscall.EPERM)
	assert.False(t, d.gone(200*time.Millisecond), "still running")
}

func TestConcurrentStopSignalsOnce(t *testing.T) {
	// Concurrent Stop calls on one handle sent extra SIGTERM and
	// SIGKILL after the first had worked. Now the calls take turns: the
	// first stops the daemon, each signal goes once, and every later call
	// finds it gone. Run with -count=20 -race.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	var mu sync.Mutex
	count := map[syscall.Signal]int{}
	observe(t, func(_ int, sig syscall.Signal) { mu.Lock(); count[sig]++; mu.Unlock() })

	const callers = 8
	outcomes := make([]Outcome, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { outcomes[i], errs[i] = Stop(context.Background(), h, shutdownConfig(int(d.pid()), 0), cfg) })
	}
	wg.Wait()
	got := map[Outcome]int{}
	for i := range callers {
		assert.NoError(t, errs[i])
		got[outcomes[i]]++
	}
	assert.Equal(t, map[Outcome]int{Killed: 1, NotRunning: callers - 1}, got)
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1, syscall.SIGKILL: 1}, count, "each signal once")
	assert.True(t, d.gone(5*time.Second))

	// A later Stop finds it gone, and sends nothing.
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 0), cfg)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, how)
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1, syscall.SIGKILL: 1}, count)
}

func TestStopCountsAZombieAsExited(t *testing.T) {
	// A daemon that exits while nobody reaps it yet is a zombie: it keeps
	// its pid and identity. Stop counts it as exited, rather than waiting
	// out the graceful timeout and killing a dead process.
	addr := freeAddr(t)
	var d *daemon
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, func(context.Context) (uint32, error) {
		var err error
		d, err = spawn(t, "serve", addr, false)
		if err != nil {
			return 0, err
		}
		return d.pid(), nil
	})
	require.NoError(t, err)

	began := time.Now()
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.Less(t, time.Since(began), 4*time.Second, "not the graceful timeout")
}

func TestStopOfAnExitedDaemon(t *testing.T) {
	d, cfg, h := ensureDaemon(t, "serve", nil)
	require.NoError(t, d.cmd.Process.Kill())
	require.True(t, d.gone(5*time.Second))

	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, how)
	assert.Empty(t, signalled)
}

func TestStopSaysGracefullyWhenNoKillWasSent(t *testing.T) {
	// A daemon that exited between Stop's last look and
	// its SIGKILL was reported Killed, though no SIGKILL was sent. Here the
	// daemon ignores SIGTERM and exits on its own just as the graceful
	// timeout ends.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	var killsSent atomic.Int32
	real := signal
	signal = func(p *os.Process, sig syscall.Signal) error {
		if sig == syscall.SIGKILL {
			// The daemon exits on its own first (its stdin closes), and is
			// reaped: the SIGKILL finds no process.
			_ = d.stdin.Close()
			<-d.exited
			err := real(p, sig)
			if err == nil {
				killsSent.Add(1)
			}
			return err
		}
		return real(p, sig)
	}
	t.Cleanup(func() { signal = real })
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 0), cfg)
	require.NoError(t, err)
	assert.Zero(t, killsSent.Load(), "no SIGKILL reached a process")
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, d.exitedByItself())
}

func TestConcurrentStopsKeepTheirOwnContexts(t *testing.T) {
	// Concurrent Stop calls shared the first call's
	// context. A call with a context done at the start (which must get the
	// full graceful timeout) that joined a call with a 200 ms context was
	// killed at 200 ms with the other's error. Now the calls take turns:
	// the first kills at its own deadline, and the second finds the daemon
	// gone.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	signals := countSignals(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		how, err := Stop(ctx, h, shutdownConfig(int(d.pid()), 60), cfg)
		assert.Equal(t, Killed, how)
		first <- err
	}()
	require.Eventually(t, func() bool { return signals()[syscall.SIGTERM] == 1 }, 5*time.Second, time.Millisecond, "the first Stop has asked")

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	how, err := Stop(done, h, shutdownConfig(int(d.pid()), 60), cfg)
	assert.NoError(t, err)
	assert.Equal(t, NotRunning, how, "the daemon was gone when its turn came")
	assert.ErrorIs(t, <-first, context.DeadlineExceeded, "the first call's own context ended it")
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1, syscall.SIGKILL: 1}, signals())
}

func TestStopAfterAContextKillFindsTheDaemonGone(t *testing.T) {
	// A Stop whose context ended returned right after its
	// SIGKILL, and a Stop right after it found the process still dying,
	// sent SIGTERM again and said "stopped gracefully". Now Stop returns
	// once the process is gone.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	signals := countSignals(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	how, err := Stop(ctx, h, shutdownConfig(int(d.pid()), 60), cfg)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, Killed, how)

	how, err = Stop(context.Background(), h, shutdownConfig(int(d.pid()), 60), cfg)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, how)
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1, syscall.SIGKILL: 1}, signals())
}
