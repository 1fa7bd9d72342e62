//go:build linux

// A request meant for the daemon reaches only the daemon's own process.

package lifecycle

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnsureRefusesASquatter(t *testing.T) {
	// A health check that passes does not prove
	// that the answer came from our process. Here another process holds
	// the port: it is not healthy when Ensure first looks, and answers 200
	// once our child has failed to listen and exited. Ensure returned a
	// started_by_us handle for it; now it is an error, and no handle.
	childGone := make(chan struct{})
	served := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-childGone:
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	addr := served

	var child *daemon
	start := func(context.Context) (uint32, error) {
		d, err := startDaemon(t, "serve", addr)
		if err != nil {
			return 0, err
		}
		child = d
		go func() { <-d.exited; close(childGone) }()
		return d.pid(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := Ensure(ctx, config(addr, new("/v1/shutdown")), start)
	require.Error(t, err, "got handle %v", h)
	assert.False(t, h.ShouldCleanup(), "never a started_by_us handle")
	// Whether the squatter's answer comes before or after the child gives
	// up, the error says that another process answers, or that the child
	// exited.
	assert.Regexp(t, "another process answers|the process exited", err.Error())
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, child)
	assert.True(t, child.gone(5*time.Second))
}

func TestStopPostsOnlyToItsOwnProcess(t *testing.T) {
	// Stop POSTed the shutdown request to whatever served
	// the URL, so another process on the same address (while ours still
	// ran) exited, and ours was SIGKILLed. The POST now goes only over a
	// connection that the daemon's own process accepted; here another
	// process serves the address, so Stop sends SIGTERM to ours instead.
	d, cfg, h := ensureDaemon(t, "serve", new("/v1/shutdown"))
	var posts atomic.Int32
	served := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))

	// The handle and the config point at the other server's address, as a
	// rebinding of the daemon's host name would.
	moved := h.WithDiscoveredURL("http://" + served)
	cfg.HealthURL = "http://" + served + "/health"
	signals := countSignals(t)
	how, err := Stop(context.Background(), moved, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.Zero(t, posts.Load(), "the other server got no request")
	assert.Equal(t, 1, signals()[syscall.SIGTERM], "our daemon was asked with SIGTERM instead")
	assert.True(t, d.gone(5*time.Second))
}

func TestStopAsksNoStrangerOnADualStackName(t *testing.T) {
	// With the usual /etc/hosts, localhost is
	// both ::1 and 127.0.0.1. Our daemon listens on 127.0.0.1:P, another
	// process on [::1]:P; Go dials ::1 first, and the other process got our
	// shutdown request and exited. The test runs in a mount namespace of
	// its own, where /etc/hosts says that.
	if os.Getenv("LIFECYCLE_TEST_HOSTS") == "" {
		runWithDualStackHosts(t)
		return
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(context.Background(), "localhost")
	require.NoError(t, err)
	t.Logf("localhost is %v", addrs)
	port := strings.TrimPrefix(freeAddr(t), "127.0.0.1:")
	cfg := config("localhost:"+port, new("/v1/shutdown"))
	var ours *daemon
	h, err := Ensure(context.Background(), cfg, func(context.Context) (uint32, error) {
		var err error
		ours, err = startDaemon(t, "serve", "127.0.0.1:"+port)
		if err != nil {
			return 0, err
		}
		return ours.pid(), nil
	})
	require.NoError(t, err)
	theirs := startStranger(t, "serve", "[::1]:"+port)

	how, err := Stop(context.Background(), h, shutdownConfig(int(ours.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, ours.gone(5*time.Second))
	assert.Empty(t, theirs.ended(300*time.Millisecond), "the other daemon, on [::1], still runs")
}

// runWithDualStackHosts runs TestStopAsksNoStrangerOnADualStackName again in
// a new mount namespace whose /etc/hosts names localhost 127.0.0.1 and ::1.
func runWithDualStackHosts(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipf(t, "needs unshare (util-linux): %v", err)
	}
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		skipf(t, "needs IPv6 on loopback: %v", err)
	} else {
		ln.Close()
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	require.NoError(t, os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), 0o644))
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$LIFECYCLE_TEST_HOSTS" /etc/hosts && exec "$@"`, "sh",
		exe, "-test.run=^TestStopAsksNoStrangerOnADualStackName$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_HOSTS="+hosts, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	t.Logf("in a new mount namespace:\n%s", out)
	if err != nil && (strings.Contains(string(out), "unshare failed") || strings.Contains(string(out), "mount:")) {
		skipf(t, "a mount namespace is not permitted here: %v", err)
	}
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: TestStopAsksNoStrangerOnADualStackName")
}

func TestEnsureRefusesAnAnswerFromAnotherProcess(t *testing.T) {
	// While our child ran without
	// listening, another process's answer made Ensure return a
	// started_by_us handle. The health check now counts only an answer
	// from the child itself.
	var hits atomic.Int32
	served := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable) // not running when Ensure first looks
		}
	}))

	var child *daemon
	h, err := Ensure(context.Background(), config(served, nil), func(context.Context) (uint32, error) {
		var err error
		child, err = startDaemon(t, "record", "") // runs, and listens nowhere
		if err != nil {
			return 0, err
		}
		return child.pid(), nil
	})
	require.Error(t, err)
	assert.ErrorContains(t, err, "another process answers")
	assert.False(t, h.ShouldCleanup(), "no handle")
	assert.True(t, child.gone(5*time.Second), "its own child was killed: it cannot serve there")
}
