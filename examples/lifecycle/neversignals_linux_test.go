//go:build linux

// Stop never signals a process that its handle does not vouch for.

package lifecycle

import (
	"context"
	"net/http"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestStopNeverSignalsAPIDTheHandleDoesNotCarry(t *testing.T) {
	// StartedByUs(name, url, nil) plus
	// a ShutdownConfig naming an unrelated pid made Stop signal that pid;
	// the pid check ran only when the handle had a pid. A handle without a
	// pid is never signalled: Stop only asks over HTTP.
	bystander, err := startDaemon(t, "record", "")
	require.NoError(t, err)
	bystander.ready(t)

	var posts int
	var mu sync.Mutex
	served := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts++
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	addr := served

	h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, nil)
	how, err := Stop(context.Background(), h, shutdownConfig(int(bystander.pid()), 0), config(addr, new("/v1/shutdown")))
	require.NoError(t, err)
	assert.Equal(t, AskedOverHTTP, how)
	mu.Lock()
	assert.Equal(t, 1, posts, "asked once over HTTP")
	mu.Unlock()

	assert.False(t, bystander.gone(200*time.Millisecond), "the unrelated process is alive")
	require.NoError(t, bystander.stdin.Close())
	require.True(t, bystander.gone(5*time.Second))
	assert.Equal(t, "ready\ndone\n", bystander.out.String(), "and received no signal")
	assert.True(t, bystander.exitedByItself())
}

func TestStopOfAHandleWithoutIdentityOnlyAsks(t *testing.T) {
	// A handle with a pid but no process_identity (from a Rust peer, or an
	// older version) is never signalled: Stop asks over HTTP where it can,
	// says so, and otherwise refuses.
	t.Run("with a shutdown endpoint", func(t *testing.T) {
		addr := freeAddr(t)
		d, err := startDaemon(t, "serve", addr)
		require.NoError(t, err)
		d.ready(t)
		var signals []syscall.Signal
		observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })

		pid := d.pid()
		h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, &pid)
		how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 5), config(addr, new("/v1/shutdown")))
		require.NoError(t, err)
		assert.Equal(t, AskedOverHTTP, how)
		assert.Equal(t, "asked over HTTP", how.String())
		require.True(t, d.gone(5*time.Second), "the request was made")
		assert.True(t, d.exitedByItself())
		assert.Empty(t, signals)
	})
	t.Run("without one", func(t *testing.T) {
		addr := freeAddr(t)
		d, err := startDaemon(t, "serve", addr)
		require.NoError(t, err)
		d.ready(t)
		var signals []syscall.Signal
		observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })

		pid := d.pid()
		h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, &pid)
		how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 0), config(addr, nil))
		assert.Equal(t, Refused, how)
		assert.ErrorContains(t, err, "process_identity")
		assert.ErrorIs(t, err, daemoncontract.ErrNoShutdownEndpoint)
		assert.False(t, d.gone(200*time.Millisecond), "still running")
		assert.Empty(t, signals)
	})
}

func TestStopRefusesAnotherDaemonsConfig(t *testing.T) {
	// Our handle plus
	// another daemon's HttpDaemonConfig, all valid, made Stop POST the
	// other daemon's shutdown endpoint, and it exited; our own daemon got
	// only SIGKILL. The handle, the HttpDaemonConfig and the
	// ShutdownConfig must be about one daemon.
	tests := []struct {
		name    string
		change  func(cfg *daemoncontract.ShutdownConfig, daemon *daemoncontract.HttpDaemonConfig, other string)
		message string
	}{
		{"another daemon's health_url", func(_ *daemoncontract.ShutdownConfig, d *daemoncontract.HttpDaemonConfig, other string) {
			d.HealthURL = "http://" + other + "/health"
		}, "base_url"},
		{"another name in the HttpDaemonConfig", func(_ *daemoncontract.ShutdownConfig, d *daemoncontract.HttpDaemonConfig, _ string) {
			d.DaemonName = "other-daemon"
		}, "same daemon"},
		{"another name in the ShutdownConfig", func(c *daemoncontract.ShutdownConfig, _ *daemoncontract.HttpDaemonConfig, _ string) {
			c.DaemonName = "other-daemon"
		}, "same daemon"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours, cfg, h := ensureDaemon(t, "serve", new("/v1/shutdown"))
			otherAddr := freeAddr(t)
			other, err := startDaemon(t, "serve", otherAddr)
			require.NoError(t, err)
			other.ready(t)

			shutdown := shutdownConfig(int(ours.pid()), 1)
			tt.change(&shutdown, &cfg, otherAddr)
			var signals []syscall.Signal
			observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })
			how, err := Stop(context.Background(), h, shutdown, cfg)
			assert.Equal(t, Refused, how)
			assert.ErrorContains(t, err, tt.message)
			assert.Empty(t, signals)
			assert.False(t, other.gone(300*time.Millisecond), "the other daemon was not asked to stop")
			assert.False(t, ours.gone(0), "nor was ours")
		})
	}
}

func TestUnsafePIDsAreNeverSignalled(t *testing.T) {
	// These tests run as root: a real kill(0) or kill(-1) would hit the test
	// itself or every process. Every signal is recorded instead.
	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	addr := freeAddr(t)
	cfg := config(addr, new("/v1/shutdown"))

	for _, pid := range []uint32{0, 1, 2147483648, 4294967295} {
		h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, nil)
		how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 5), cfg)
		assert.Equal(t, Refused, how, "pid %d", pid)
		var fe *daemoncontract.FieldError
		require.ErrorAs(t, err, &fe, "pid %d", pid)
		assert.Equal(t, "pid", fe.Field)

		_, err = Ensure(context.Background(), cfg, func(context.Context) (uint32, error) { return pid, nil })
		require.ErrorAs(t, err, &fe, "pid %d", pid)
		assert.Equal(t, "pid", fe.Field)
	}
	assert.Empty(t, signalled, "no signal at all")
}

func TestStopRefusesAPIDTheHandleDoesNotHold(t *testing.T) {
	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	addr := freeAddr(t)
	h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, new(uint32(4242))).WithProcessIdentity("linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:1")
	how, err := Stop(context.Background(), h, shutdownConfig(4243, 5), config(addr, nil))
	assert.Equal(t, Refused, how)
	assert.ErrorContains(t, err, "holds pid 4242")
	assert.Empty(t, signalled)
}

func TestSignalRefusesProcessGroups(t *testing.T) {
	// The real signal function, with pids that must never reach kill(2).
	for _, pid := range []int{0, -1, -4242, 2147483648, 4294967295, 1 << 40} {
		assert.ErrorIs(t, signal(&os.Process{Pid: pid}, 0), errUnsafePID, "pid %d", pid)
	}
}
