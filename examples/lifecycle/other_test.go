//go:build !linux

// Elsewhere than Linux there is no process identity and no pidfd: Ensure
// starts nothing, and Stop signals nothing. (CI runs on Linux: these tests
// are compiled for darwin, freebsd and windows there, not run.)

package lifecycle

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestEnsureStartsNothingHere(t *testing.T) {
	addr := serveHTTP(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	h, err := Ensure(context.Background(), config(addr, nil), func(context.Context) (uint32, error) {
		t.Error("start called")
		return 0, nil
	})
	require.NoError(t, err, "a daemon that answers runs already")
	assert.Equal(t, daemoncontract.AlreadyRunning("test-daemon", "http://"+addr), h)

	_, err = Ensure(context.Background(), config(freeAddr(t), nil), func(context.Context) (uint32, error) {
		t.Error("start called")
		return 0, nil
	})
	assert.ErrorIs(t, err, ErrUnsupportedPlatform)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = ProcessIdentity(1)
	assert.ErrorIs(t, err, ErrUnsupportedPlatform)
}

func TestStopSignalsNothingHere(t *testing.T) {
	var posts atomic.Int32
	addr := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })

	h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, new(uint32(4242))).WithProcessIdentity("linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:1")
	how, err := Stop(context.Background(), h, shutdownConfig(4242, 0), config(addr, new("/v1/shutdown")))
	assert.Equal(t, Refused, how)
	assert.ErrorIs(t, err, ErrUnsupportedPlatform)
	assert.Zero(t, posts.Load(), "a handle with an identity is not asked over HTTP either")

	how, err = Stop(context.Background(), daemoncontract.StartedByUs("test-daemon", "http://"+addr, nil), shutdownConfig(4242, 0), config(addr, new("/v1/shutdown")))
	require.NoError(t, err)
	assert.Equal(t, AskedOverHTTP, how)
	assert.Equal(t, int32(1), posts.Load())
	assert.Empty(t, signalled)
}
