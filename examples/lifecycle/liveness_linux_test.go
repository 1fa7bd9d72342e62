//go:build linux

// A process runs until its whole thread group has exited: its pidfd says
// so, not the state of its leader thread. A daemon whose main thread exits
// while its other threads serve (common in C daemons) is running: Ensure
// vouches for it, Stop stops it, and a failed Ensure kills it.

package lifecycle

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// leaderExited waits until the helper's main thread has exited: its
// leader shows Z (zombie) in /proc/<pid>/stat.
func leaderExited(t *testing.T, d *daemon) {
	t.Helper()
	d.waitFor(t, "leader exits")
	require.Eventually(t, func() bool { return d.leaderState(t) == 'Z' }, 10*time.Second, time.Millisecond, "the leader thread is a zombie")
}

func TestAPidfdIsReadableOnlyOnceTheWholeProcessHasExited(t *testing.T) {
	// pidfd_open(2), and the kernel's pidfd_poll: readable once the whole
	// thread group has exited, not when its leader has.
	addr := freeAddr(t)
	d, err := spawn(t, "serve", addr, false, "LIFECYCLE_TEST_LEADER_EXIT=ready") // not reaped: it stays a zombie
	require.NoError(t, err)
	leaderExited(t, d)
	require.True(t, answers(addr), "its other threads serve")
	done, err := exited(d.cmd.Process)
	require.NoError(t, err)
	assert.False(t, done, "running, although its leader is a zombie")

	require.NoError(t, d.stdin.Close()) // exit_group from another thread
	require.Eventually(t, func() bool {
		done, err := exited(d.cmd.Process)
		return err == nil && done
	}, 10*time.Second, time.Millisecond, "readable once the process has exited")
	assert.Equal(t, byte('Z'), d.leaderState(t), "an exited, unreaped process: a zombie")
}

func TestEnsureVouchesForADaemonWhoseMainThreadExits(t *testing.T) {
	// The daemon's main thread exits as soon as it listens; its other
	// threads answer. Ensure took it for exited, or its answer for another
	// process's (the leader's fd table is empty): the daemon's file
	// descriptors are its threads'.
	addr := freeAddr(t)
	start, started := starter(t, "serve", addr, "LIFECYCLE_TEST_LEADER_EXIT=ready")
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	d := *started
	leaderExited(t, d)
	assert.True(t, h.ShouldCleanup())

	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	require.True(t, d.gone(5*time.Second))
	assert.True(t, d.exitedByItself(), "asked over HTTP, by a request its own threads accepted: %v", d.state)
}

func TestStopStopsADaemonWhoseMainThreadExited(t *testing.T) {
	// Stop reported NotRunning for a daemon whose main thread had exited
	// while its other threads served, and left it running, with its handle
	// used up. Stop now asks the pidfd, and stops it, whichever way it
	// asks: the shutdown endpoint, SIGTERM, SIGKILL; through the process
	// Ensure kept, or through a pidfd it opens (a handle read back in
	// another process).
	tests := []struct {
		name     string
		mode     string
		endpoint *string
		timeout  uint64
		want     Outcome
		byItself bool
		forget   bool
	}{
		{"shutdown endpoint", "serve", new("/v1/shutdown"), 5, StoppedGracefully, true, false},
		{"SIGTERM", "serve", nil, 5, StoppedGracefully, false, false},
		{"SIGKILL", "stubborn", nil, 0, Killed, false, false},
		{"from a handle alone", "serve", new("/v1/shutdown"), 5, StoppedGracefully, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, cfg, h := ensureDaemon(t, tt.mode, tt.endpoint)
			d.send(t, "exit-leader")
			leaderExited(t, d)
			require.True(t, answers(d.addr), "its other threads serve")
			if tt.forget {
				pid, _ := h.PID()
				id, _ := h.ProcessIdentity()
				started.remove(pid, id) // as in a new process: Stop opens the pid itself
			}
			how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), tt.timeout), cfg)
			require.NoError(t, err)
			assert.Equal(t, tt.want, how)
			require.True(t, d.gone(5*time.Second), "stopped")
			assert.Equal(t, tt.byItself, d.exitedByItself(), "%v", d.state)
		})
	}
}

func TestAFailedEnsureKillsADaemonWhoseMainThreadExited(t *testing.T) {
	t.Parallel() // it mostly waits, and replaces no hook: see helpers_test.go
	// When such a daemon never became healthy, Ensure said that it "was
	// killed: the process exited", and nothing was killed: it served on,
	// and the next Ensure found a daemon nobody owned.
	addr := freeAddr(t)
	start, started := starter(t, "unhealthy", addr, "LIFECYCLE_TEST_LEADER_EXIT=ready")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := Ensure(ctx, config(addr, nil), start)
	require.Error(t, err)
	require.NotNil(t, *started)
	assert.ErrorIs(t, err, ErrNotHealthy)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "was killed (SIGKILL)")
	assert.NotContains(t, err.Error(), "exited")
	require.True(t, (*started).gone(5*time.Second), "it was killed, as the error says")
	assert.False(t, (*started).exitedByItself())
}

// runningProc starts the helper, listening nowhere, and returns it and the
// proc Ensure would vouch for.
func runningProc(t *testing.T) (*daemon, *proc) {
	t.Helper()
	d, err := startDaemon(t, "record", "")
	require.NoError(t, err)
	d.ready(t)
	pr, err := vouch(d.pid(), d.cmd.Process)
	require.NoError(t, err)
	return d, pr
}

// countPolls counts the polls of a pidfd until the test ends.
func countPolls(t *testing.T) *atomic.Int32 {
	var n atomic.Int32
	real := pollReadable
	pollReadable = func(fd int, timeout time.Duration) (bool, error) { n.Add(1); return real(fd, timeout) }
	t.Cleanup(func() { pollReadable = real })
	return &n
}

func TestTheWaitForAnExitIsWokenByThePidfd(t *testing.T) {
	// Stop waited for an exit by looking every 20 ms, and returned up to
	// 20 ms late. The wait now sleeps on the pidfd's readiness, and wakes
	// once the process has exited: a wait of any length polls the pidfd a
	// few times, where a polling loop would poll it every interval.
	d, pr := runningProc(t)
	polls := countPolls(t)
	done := make(chan error, 1)
	go func() { done <- waitExit(context.Background(), pr, time.Hour) }()
	time.Sleep(300 * time.Millisecond) // a 20 ms loop would poll 15 times meanwhile
	require.NoError(t, d.stdin.Close())
	require.NoError(t, <-done)
	assert.LessOrEqual(t, polls.Load(), int32(6), "polls")
}

func TestTheWaitOnOlderKernelsPollsThePidfd(t *testing.T) {
	// Before Linux 5.10 a pidfd cannot be opened non-blocking, so the wait
	// cannot sleep in the runtime's poller: it polls the pidfd, up to
	// 10 ms at a time, and still returns for an exit, a timeout, or the
	// context.
	d, pr := runningProc(t)
	assert.ErrorIs(t, waitExitPolling(context.Background(), pr, time.Now().Add(50*time.Millisecond)), errTimeout)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, waitExitPolling(ctx, pr, time.Now().Add(time.Hour)), context.Canceled)
	done := make(chan error, 1)
	go func() { done <- waitExitPolling(context.Background(), pr, time.Now().Add(time.Hour)) }()
	require.NoError(t, d.stdin.Close())
	assert.NoError(t, <-done)
}

func TestAnOrdinaryKeeperVouchesForADaemonWhoseMainThreadExits(t *testing.T) {
	// The README: a daemon whose main thread exits while its other threads
	// serve "is running: Ensure vouches for it, Stop stops it". For a
	// keeper that runs as an ordinary user it did not: once the leader
	// has exited, proc(5) gives /proc/<pid>/fd to root (the leader has no
	// mm, so task_dump_owner makes the entry root's), reading it fails
	// with "permission denied", and Ensure returned ErrCannotVouch, saying
	// the daemon "is not dumpable", which it is not. The daemon's own
	// threads' tables (/proc/<pid>/task/<tid>/fd) are the user's.
	if os.Getenv("LIFECYCLE_TEST_UNPRIVILEGED") == "" {
		runUnprivileged(t, "TestAnOrdinaryKeeperVouchesForADaemonWhoseMainThreadExits")
		return
	}
	require.NotZero(t, os.Geteuid(), "an unprivileged keeper")
	addr := freeAddr(t)
	var d *daemon
	cfg := config(addr, new("/v1/shutdown"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := EnsureProcess(ctx, cfg, func(context.Context) (*os.Process, error) {
		var err error
		if d, err = startDaemon(t, "serve", addr, "LIFECYCLE_TEST_LEADER_EXIT=ready"); err != nil {
			return nil, err
		}
		leaderExited(t, d) // it serves, with its leader a zombie, before Ensure looks
		return d.cmd.Process, nil
	})
	require.NoError(t, err)
	assert.True(t, h.ShouldCleanup())

	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	require.True(t, d.gone(5*time.Second))
	assert.True(t, d.exitedByItself(), "asked over HTTP, by a request its own threads accepted: %v", d.state)
}
