//go:build linux

// Errors say what happened, and only that.

package lifecycle

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestEnsureWithADoneContextSaysSo(t *testing.T) {
	// An Ensure whose context was done said "waiting for another Ensure of
	// it: context canceled" when no other Ensure was running.
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Ensure(done, config(freeAddr(t), nil), func(context.Context) (uint32, error) {
		t.Error("start called")
		return 0, nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.NotContains(t, err.Error(), "waiting for another Ensure")
	assert.ErrorContains(t, err, "the context ended before the health check")
	assert.ErrorContains(t, err, "nothing was started")
}

func TestStopOfAHandleWithoutAPIDSaysSo(t *testing.T) {
	// A handle without a pid was refused for having "no process_identity".
	handle := func(addr string, pid *uint32) daemoncontract.DaemonHandle {
		return daemoncontract.StartedByUs("test-daemon", "http://"+addr, pid)
	}
	refused := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	tests := []struct {
		name     string
		pid      *uint32
		endpoint *string
		want     string
	}{
		{"no pid, no endpoint", nil, nil, "the handle has no pid"},
		{"no pid, the request refused", nil, new("/v1/shutdown"), "the handle has no pid"},
		{"a pid without an identity, no endpoint", new(uint32(4242)), nil, "the handle has a pid but no process_identity"},
		{"a pid without an identity, the request refused", new(uint32(4242)), new("/v1/shutdown"), "the handle has a pid but no process_identity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			how, err := Stop(context.Background(), handle(refused, tt.pid), shutdownConfig(4242, 0), config(refused, tt.endpoint))
			assert.Equal(t, Refused, how)
			assert.ErrorContains(t, err, tt.want)
			if tt.pid == nil {
				assert.NotContains(t, err.Error(), "process_identity")
			}
		})
	}
}

func TestEnsureOfAReapedPIDSaysSo(t *testing.T) {
	// A start function that returned the pid of a child that had exited
	// and been reaped got "no pidfd for the process (Linux 5.4 or later is
	// needed)".
	d, err := startDaemon(t, "record", "")
	require.NoError(t, err)
	d.ready(t)
	require.NoError(t, d.stdin.Close())
	require.True(t, d.gone(5*time.Second))
	_, err = Ensure(context.Background(), config(freeAddr(t), nil), func(context.Context) (uint32, error) { return d.pid(), nil })
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "Linux 5.4")
	assert.ErrorIs(t, err, ErrNotHealthy)
	assert.ErrorContains(t, err, "had exited and been reaped before Ensure could open it")
}

func TestEnsureOfAThreadIDSaysSo(t *testing.T) {
	// A start function that returns the id of one of its child's threads,
	// not the child's pid, is refused (ErrCannotVouch), but the error
	// blamed the kernel: "pidfd_open: no such file or directory (pidfds
	// need Linux 5.4 or later, and no seccomp filter that forbids them)".
	// pidfd_open(2) refuses a pid that is not a thread-group leader; the
	// error should say that the pid names a thread, and whose.
	addr := freeAddr(t)
	var d *daemon
	var tid uint32
	_, err := Ensure(context.Background(), config(addr, nil), func(context.Context) (uint32, error) {
		var err error
		if d, err = startDaemon(t, "serve", addr); err != nil {
			return 0, err
		}
		d.ready(t)
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(int(d.pid())) + "/task")
		require.NoError(t, err)
		for _, task := range tasks {
			if n, _ := strconv.Atoi(task.Name()); n != int(d.pid()) {
				tid = uint32(n)
				return tid, nil
			}
		}
		return 0, errors.New("the helper has no other thread")
	})
	require.NotZero(t, tid)
	assert.ErrorIs(t, err, ErrCannotVouch)
	assert.NotContains(t, err.Error(), "Linux 5.4", "the kernel is not the cause")
	assert.ErrorContains(t, err, "thread")
	assert.False(t, d.gone(0), "left alone")
}

func TestTheSentinelsAreDistinct(t *testing.T) {
	sentinels := []error{ErrOtherProcess, ErrNotAnswering, ErrNotHealthy, ErrCannotVouch, ErrUnsupportedPlatform}
	for i, a := range sentinels {
		for j, b := range sentinels {
			assert.Equal(t, i == j, errors.Is(a, b), "%v / %v", a, b)
		}
	}
	assert.ErrorIs(t, ErrUnsupportedPlatform, errors.ErrUnsupported)
}
