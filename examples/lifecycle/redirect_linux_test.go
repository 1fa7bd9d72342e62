//go:build linux

// Requests go to exactly the URL the contract names: no redirect is
// followed.

package lifecycle

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestStopFollowsNoRedirect(t *testing.T) {
	// The HTTP client followed them. A 307 from
	// /v1/shutdown re-POSTed to another host, and that host's 2xx counted
	// as "accepted". Now the 307 is the answer: not accepted, so Stop
	// sends SIGTERM to its own daemon, and the other server hears nothing.
	var mu sync.Mutex
	var elsewhere []string
	served := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}))

	addr := freeAddr(t)
	var d *daemon
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, func(context.Context) (uint32, error) {
		var err error
		d, err = startDaemon(t, "redirect", addr, "LIFECYCLE_TEST_REDIRECT=http://"+served+"/v1/shutdown")
		if err != nil {
			return 0, err
		}
		return d.pid(), nil
	})
	require.NoError(t, err)

	var signals []syscall.Signal
	observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.Equal(t, []syscall.Signal{syscall.SIGTERM}, signals, "the 307 was not an accepted request")
	mu.Lock()
	assert.Empty(t, elsewhere, "nothing reached the other server")
	mu.Unlock()
}

func TestStatusFollowsNoRedirect(t *testing.T) {
	// A 302 on /health made Status report our
	// daemon healthy with another server's answer. Now a redirect is not
	// healthy, for Status or Ensure.
	healthy := freeAddr(t)
	other, err := startDaemon(t, "serve", healthy)
	require.NoError(t, err)
	other.ready(t)
	addr := redirector(t, http.StatusFound, "http://"+healthy+"/health")
	cfg := config(addr, nil)

	resp, err := Status(context.Background(), cfg, daemoncontract.StatusRequest{ID: "hive"})
	require.NoError(t, err)
	assert.False(t, resp.IsRunning, "a redirect is not healthy")
	require.NotNil(t, resp.HealthStatus)
	assert.Equal(t, "302 Found", *resp.HealthStatus)

	// Nor for Ensure: the redirect is an answer that is not healthy, from
	// something that listens; Ensure starts nothing beside it.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	h, err := Ensure(ctx, cfg, func(context.Context) (uint32, error) { return 0, errors.New("start called") })
	assert.ErrorIs(t, err, ErrNotAnswering, "Ensure does not take the redirect for a running daemon")
	assert.ErrorContains(t, err, "302 Found")
	assert.Zero(t, h)
}
