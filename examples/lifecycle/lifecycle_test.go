package lifecycle

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	ossignal "os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// The test binary doubles as the daemon under test: run with
// LIFECYCLE_TEST_DAEMON set, it serves HTTP on LIFECYCLE_TEST_ADDR instead of
// running tests. The mode says how it behaves:
//
//	serve     /health answers 200; a POST to /v1/shutdown makes it exit.
//	stubborn  /health answers 200; it accepts a POST to /v1/shutdown, then
//	          ignores it, and it ignores SIGTERM.
//	unhealthy /health answers 503.
//	redirect  /health answers 200; a POST to /v1/shutdown answers 307 to
//	          LIFECYCLE_TEST_REDIRECT. SIGTERM ends it.
//
// It also exits when its stdin closes, so it cannot outlive the test.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LIFECYCLE_TEST_DAEMON"); mode != "" {
		os.Exit(runDaemon(mode, os.Getenv("LIFECYCLE_TEST_ADDR")))
	}
	os.Exit(m.Run())
}

func runDaemon(mode, addr string) int {
	if mode == "stubborn" {
		ossignal.Ignore(syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 2
	}
	stop := make(chan struct{})
	var once sync.Once
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		if mode == "unhealthy" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, r *http.Request) {
		if mode == "redirect" {
			http.Redirect(w, r, os.Getenv("LIFECYCLE_TEST_REDIRECT"), http.StatusTemporaryRedirect)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		if mode == "serve" {
			once.Do(func() { close(stop) })
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); once.Do(func() { close(stop) }) }()
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	return 0
}

// daemon is a helper daemon process started by a test.
type daemon struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited and been reaped
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startDaemon starts the helper daemon in mode on addr, with env added to its
// environment. It reaps the process in a goroutine, as Ensure asks of a
// start function, and kills it when the test ends, whatever happened.
func startDaemon(t *testing.T, mode, addr string, env ...string) (*daemon, error) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_DAEMON="+mode, "LIFECYCLE_TEST_ADDR="+addr,
		// Under -race, a normal exit sleeps a second first (atexit_sleep_ms);
		// the daemon has nothing to report, so it exits at once.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	stdin, err := cmd.StdinPipe() // closed when the test ends: the daemon exits
	require.NoError(t, err)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		_ = stdin.Close()
		if !d.gone(0) {
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	return d, nil
}

// starter returns a start function for Ensure that starts the helper daemon,
// and a pointer to the daemon it started.
func starter(t *testing.T, mode, addr string) (func(context.Context) (uint32, error), **daemon) {
	var started *daemon
	return func(context.Context) (uint32, error) {
		d, err := startDaemon(t, mode, addr)
		if err != nil {
			return 0, err
		}
		started = d
		return uint32(d.cmd.Process.Pid), nil
	}, &started
}

// gone reports whether the process exits (and is reaped) within d.
func (d *daemon) gone(within time.Duration) bool {
	select {
	case <-d.exited:
		return true
	case <-time.After(within):
		return false
	}
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
	return healthy(context.Background(), "http://"+addr+"/health") == nil
}

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
	assert.Equal(t, (*started).cmd.Process.Pid, int(pid), "the handle carries the real pid")
	assert.True(t, answers(addr))
}

func TestStopThroughShutdownEndpoint(t *testing.T) {
	addr := freeAddr(t)
	start, started := starter(t, "serve", addr)
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	pid, _ := h.PID()

	var signals []syscall.Signal
	observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })
	how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, (*started).gone(5*time.Second))
	assert.NotContains(t, signals, syscall.SIGTERM, "the endpoint stopped it, not a signal")
	assert.NotContains(t, signals, syscall.SIGKILL)
}

func TestStopWithSIGTERM(t *testing.T) {
	// No shutdown endpoint: Stop sends SIGTERM, which the daemon obeys
	// (Go's default on SIGTERM is to exit).
	addr := freeAddr(t)
	start, started := starter(t, "serve", addr)
	cfg := config(addr, nil)
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	pid, _ := h.PID()

	how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, (*started).gone(5*time.Second))
}

func TestStopKillsAStubbornDaemon(t *testing.T) {
	tests := []struct {
		name     string
		endpoint *string
	}{
		{"shutdown request accepted, then ignored", new("/v1/shutdown")},
		{"no endpoint, SIGTERM ignored", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := freeAddr(t)
			start, started := starter(t, "stubborn", addr)
			cfg := config(addr, tt.endpoint)
			h, err := Ensure(context.Background(), cfg, start)
			require.NoError(t, err)
			pid, _ := h.PID()

			began := time.Now()
			how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 1), cfg)
			took := time.Since(began)
			require.NoError(t, err)
			assert.Equal(t, Killed, how)
			assert.True(t, (*started).gone(5*time.Second))
			assert.GreaterOrEqual(t, took, time.Second, "SIGKILL only after graceful_timeout_secs")
			assert.Less(t, took, time.Second+KillWait, "and then promptly")
		})
	}
}

func TestStopWithZeroTimeoutKillsAtOnce(t *testing.T) {
	addr := freeAddr(t)
	start, started := starter(t, "stubborn", addr)
	cfg := config(addr, nil)
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	pid, _ := h.PID()

	how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 0), cfg)
	require.NoError(t, err)
	assert.Equal(t, Killed, how)
	assert.True(t, (*started).gone(5*time.Second))
}

func TestStopKillsWhenTheContextEnds(t *testing.T) {
	addr := freeAddr(t)
	start, started := starter(t, "stubborn", addr)
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	pid, _ := h.PID()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	how, err := Stop(ctx, h, shutdownConfig(int(pid), 60), cfg)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, Killed, how)
	assert.True(t, (*started).gone(5*time.Second), "SIGKILL at once, not after 60s")
}

func TestStopReportsAFailedKill(t *testing.T) {
	// SIGKILL fails (as EPERM would make it) after SIGTERM was sent and
	// ignored: Stop did not end the process, and says so.
	addr := freeAddr(t)
	start, started := starter(t, "stubborn", addr)
	cfg := config(addr, nil)
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	pid, _ := h.PID()

	real := signal
	signal = func(pid int, sig syscall.Signal) error {
		if sig == syscall.SIGKILL {
			return syscall.EPERM
		}
		return real(pid, sig)
	}
	t.Cleanup(func() { signal = real })

	how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 0), cfg)
	assert.Equal(t, Refused, how)
	assert.ErrorIs(t, err, syscall.EPERM)
	assert.False(t, (*started).gone(200*time.Millisecond), "still running")
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
	how, err := Stop(context.Background(), h, shutdownConfig(running.cmd.Process.Pid, 0), cfg)
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

func TestUnsafePIDsAreNeverSignalled(t *testing.T) {
	// These tests run as root: a real kill(0) or kill(-1) would hit the test
	// itself or every process. Every signal is recorded instead.
	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	addr := freeAddr(t)
	cfg := config(addr, new("/v1/shutdown"))

	for _, pid := range []uint32{0, 2147483648, 4294967295} {
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
	h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, new(uint32(4242)))
	how, err := Stop(context.Background(), h, shutdownConfig(4243, 5), config(addr, nil))
	assert.Equal(t, Refused, how)
	assert.ErrorContains(t, err, "holds pid 4242")
	assert.Empty(t, signalled)
}

func TestStopOfAnExitedDaemon(t *testing.T) {
	addr := freeAddr(t)
	d, err := startDaemon(t, "unhealthy", addr)
	require.NoError(t, err)
	pid := d.cmd.Process.Pid
	require.NoError(t, d.cmd.Process.Kill())
	require.True(t, d.gone(5*time.Second))

	h := daemoncontract.StartedByUs("test-daemon", "http://"+addr, new(uint32(pid)))
	how, err := Stop(context.Background(), h, shutdownConfig(pid, 5), config(addr, nil))
	require.NoError(t, err)
	assert.Equal(t, NotRunning, how)
}

func TestSignalRefusesProcessGroups(t *testing.T) {
	// The real signal function, with pids that must never reach kill(2).
	for _, pid := range []int{0, -1, -4242, 2147483648, 4294967295, 1 << 40} {
		assert.ErrorIs(t, signal(pid, 0), errUnsafePID, "pid %d", pid)
	}
}

func TestStatus(t *testing.T) {
	addr := freeAddr(t)
	cfg := config(addr, nil)
	req := daemoncontract.StatusRequest{ID: "workstation"}

	resp, err := Status(context.Background(), cfg, req)
	require.NoError(t, err)
	assert.Equal(t, "workstation", resp.ID)
	assert.False(t, resp.IsRunning)
	require.NotNil(t, resp.HealthStatus)
	assert.Equal(t, "no answer", *resp.HealthStatus)

	_, err = startDaemon(t, "serve", addr)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return answers(addr) }, 10*time.Second, 20*time.Millisecond)
	resp, err = Status(context.Background(), cfg, req)
	require.NoError(t, err)
	assert.True(t, resp.IsRunning)
	assert.Equal(t, "200 OK", *resp.HealthStatus)

	_, err = Status(context.Background(), cfg, daemoncontract.StatusRequest{})
	var fe *daemoncontract.FieldError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "id", fe.Field)
}

func TestStopFollowsNoRedirect(t *testing.T) {
	// Finding 4 (redirects): the HTTP client followed them. A 307 from
	// /v1/shutdown re-POSTed to another host, and that host's 2xx counted
	// as "accepted". Now the 307 is the answer: not accepted, so Stop
	// sends SIGTERM to its own daemon, and the other server hears nothing.
	var mu sync.Mutex
	var elsewhere []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere = append(elsewhere, r.Method+" "+r.URL.Path)
		mu.Unlock()
	}), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	addr := freeAddr(t)
	var d *daemon
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, func(context.Context) (uint32, error) {
		var err error
		d, err = startDaemon(t, "redirect", addr, "LIFECYCLE_TEST_REDIRECT=http://"+ln.Addr().String()+"/v1/shutdown")
		if err != nil {
			return 0, err
		}
		return uint32(d.cmd.Process.Pid), nil
	})
	require.NoError(t, err)

	var signals []syscall.Signal
	observe(t, func(_ int, sig syscall.Signal) { signals = append(signals, sig) })
	how, err := Stop(context.Background(), h, shutdownConfig(d.cmd.Process.Pid, 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.Contains(t, signals, syscall.SIGTERM, "the 307 was not an accepted request")
	mu.Lock()
	assert.Empty(t, elsewhere, "nothing reached the other server")
	mu.Unlock()
}

// redirector serves a redirect to target, with status code, for every request.
func redirector(t *testing.T, code int, target string) string {
	t.Helper()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, code)
	}), ReadHeaderTimeout: time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

func TestStatusFollowsNoRedirect(t *testing.T) {
	// Finding 4 (redirects): a 302 on /health made Status report our
	// daemon healthy with another server's answer. Now a redirect is not
	// healthy, for Status or Ensure.
	healthy := freeAddr(t)
	_, err := startDaemon(t, "serve", healthy)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return answers(healthy) }, 10*time.Second, 20*time.Millisecond)
	addr := redirector(t, http.StatusFound, "http://"+healthy+"/health")
	cfg := config(addr, nil)

	resp, err := Status(context.Background(), cfg, daemoncontract.StatusRequest{ID: "hive"})
	require.NoError(t, err)
	assert.False(t, resp.IsRunning, "a redirect is not healthy")
	require.NotNil(t, resp.HealthStatus)
	assert.Equal(t, "302 Found", *resp.HealthStatus)

	boom := errors.New("start called")
	_, err = Ensure(context.Background(), cfg, func(context.Context) (uint32, error) { return 0, boom })
	assert.ErrorIs(t, err, boom, "Ensure does not take the redirect for a running daemon")
}

func TestStatusWritesNoCredentials(t *testing.T) {
	// Finding: Status wrote http://admin:s3cret@… into health_status, by
	// following a redirect to it and quoting the error. Now health_status
	// holds the status alone, or a fixed text when there is no answer.
	closed := freeAddr(t)
	addr := redirector(t, http.StatusFound, "http://admin:s3cret@"+closed+"/health")
	resp, err := Status(context.Background(), config(addr, nil), daemoncontract.StatusRequest{ID: "hive"})
	require.NoError(t, err)
	require.NotNil(t, resp.HealthStatus)
	assert.Equal(t, "302 Found", *resp.HealthStatus)
	assert.NotContains(t, *resp.HealthStatus, "admin")

	resp, err = Status(context.Background(), config(closed, nil), daemoncontract.StatusRequest{ID: "hive"})
	require.NoError(t, err)
	assert.False(t, resp.IsRunning)
	assert.Equal(t, "no answer", *resp.HealthStatus, "not net/http's error, which quotes the URL")
	assert.NoError(t, resp.Validate())
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

func TestStatusHealthStatusIsCodeAndText(t *testing.T) {
	// Finding: health_status copied the server's reason phrase verbatim,
	// up to megabytes; one with NUL and \xff made a StatusResponse that
	// failed its own Validate and could not be marshalled. Now it is the
	// code and http.StatusText, and never the reason phrase or the body.
	tests := []struct {
		name, statusLine string
		running          bool
		want             string
	}{
		{"NUL, \\xff and 100 KB in the reason phrase", "200 OK\x00\xff" + strings.Repeat("x", 100_000), true, "200 OK"},
		{"another reason phrase", "503 the password is s3cret", false, "503 Service Unavailable"},
		{"a code without a standard text", "299 Whatever", true, "299"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, "HTTP/1.1 "+tt.statusLine+"\r\nContent-Length: 12\r\nConnection: close\r\n\r\nsecret body\n")
			resp, err := Status(context.Background(), config(addr, nil), daemoncontract.StatusRequest{ID: "worker-1"})
			require.NoError(t, err)
			assert.Equal(t, tt.running, resp.IsRunning)
			require.NotNil(t, resp.HealthStatus)
			assert.Equal(t, tt.want, *resp.HealthStatus)
			assert.NoError(t, resp.Validate())
			_, err = resp.MarshalJSON()
			assert.NoError(t, err)
		})
	}
}

func TestEnsureRejectsAnInvalidConfig(t *testing.T) {
	called := false
	_, err := Ensure(context.Background(), config("", new("//evil.example/x")), func(context.Context) (uint32, error) {
		called = true
		return 1, nil
	})
	assert.Error(t, err)
	assert.False(t, called)
}

func TestEnsureReportsAFailedStart(t *testing.T) {
	boom := errors.New("no such binary")
	_, err := Ensure(context.Background(), config(freeAddr(t), nil), func(context.Context) (uint32, error) { return 0, boom })
	assert.ErrorIs(t, err, boom)
}

func TestOutcomeText(t *testing.T) {
	want := map[Outcome]string{
		Refused: "refused", NotOurs: "not ours", NotRunning: "not running",
		StoppedGracefully: "stopped gracefully", Killed: "killed", Outcome(9): "Outcome(9)",
	}
	for o, s := range want {
		assert.Equal(t, s, o.String())
		b, err := o.MarshalText()
		assert.NoError(t, err)
		assert.Equal(t, s, string(b))
	}
}

// observe lets f see every signal the package sends, pid and signal, until
// the test ends. The signals are still sent.
func observe(t *testing.T, f func(pid int, sig syscall.Signal)) {
	t.Helper()
	real := signal
	signal = func(pid int, sig syscall.Signal) error {
		f(pid, sig)
		return real(pid, sig)
	}
	t.Cleanup(func() { signal = real })
}

// intercept sends every signal the package would send to f instead, until
// the test ends. Nothing reaches kill(2).
func intercept(t *testing.T, f func(pid int, sig syscall.Signal)) {
	t.Helper()
	real := signal
	signal = func(pid int, sig syscall.Signal) error {
		f(pid, sig)
		return nil
	}
	t.Cleanup(func() { signal = real })
}
