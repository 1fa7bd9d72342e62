// Helpers of the tests that work on every platform: loopback servers and
// the configs of the test daemon.
//
// Tests replace package variables to observe or to break things (signal,
// socketInode, lookupOne, netlinkSocket, pollReadable): such a test runs
// alone. A test that replaces none, and mostly waits, may call t.Parallel:
// the parallel tests run together, after all the others.

package lifecycle

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// syncBuffer is a bytes.Buffer that a process writes to while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a loopback address with a port that was free a moment ago.
// On Linux, where all of 127.0.0.0/8 is the loopback interface's, the
// address is a random one of it, not 127.0.0.1: tests of other packages run
// at the same time, and take ports of their own between this one's release
// and its daemon's listen; on another address they cannot take this one.
func freeAddr(t testing.TB) string {
	t.Helper()
	host := "127.0.0.1"
	if runtime.GOOS == "linux" {
		host = fmt.Sprintf("127.%d.%d.%d", rand.IntN(256), rand.IntN(256), 2+rand.IntN(253))
	}
	return freeAddrOn(t, host)
}

// freeAddrOn returns host with a port that was free on it a moment ago.
func freeAddrOn(t testing.TB, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// portOfAddr returns the port of addr, a host:port.
func portOfAddr(t testing.TB, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return port
}

// serveHTTP serves h on a loopback address, in the test process, until the
// test ends, and returns the address.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func config(addr string, endpoint *string) daemoncontract.HttpDaemonConfig {
	return daemoncontract.HttpDaemonConfig{
		DaemonName:       "test-daemon",
		HealthURL:        "http://" + addr + "/health",
		ShutdownEndpoint: endpoint,
	}
}

func shutdownConfig(pid int, timeoutSecs uint64) daemoncontract.ShutdownConfig {
	return daemoncontract.ShutdownConfig{DaemonName: "test-daemon", PID: uint32(pid), GracefulTimeoutSecs: timeoutSecs}
}

// answers reports whether the daemon at addr answers its health check.
func answers(addr string) bool {
	resp, err := http.Get("http://" + addr + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// redirector serves a redirect to target, with status code, for every request.
func redirector(t *testing.T, code int, target string) string {
	t.Helper()
	return serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, code)
	}))
}

// rawServer answers every connection with response, as bytes, and closes it.
func rawServer(t *testing.T, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				_, _ = conn.Read(buf) // the request, small and in one piece
				_, _ = io.WriteString(conn, response)
			}()
		}
	}()
	return ln.Addr().String()
}
