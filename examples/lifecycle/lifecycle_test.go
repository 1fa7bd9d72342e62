package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
// LIFECYCLE_TEST_DAEMON set, it runs as a helper process instead of running
// tests, and serves HTTP on LIFECYCLE_TEST_ADDR when that is set. The mode
// says how it behaves:
//
//	serve     /health answers 200; a POST to /v1/shutdown makes it exit.
//	stubborn  /health answers 200; it accepts a POST to /v1/shutdown, then
//	          ignores it, and it ignores SIGTERM.
//	unhealthy /health answers 503.
//	redirect  /health answers 200; a POST to /v1/shutdown answers 307 to
//	          LIFECYCLE_TEST_REDIRECT. SIGTERM ends it.
//	record    catches SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2,
//	          and writes "signal <name>" to stdout for each, instead of
//	          exiting. (Signal 0 is never delivered, and SIGKILL cannot be
//	          caught: it shows as the way the process ended.)
//	rename    sets its command name to "x) y (z", which /proc/<pid>/stat
//	          shows in field 2.
//
// Every mode writes "ready" to stdout once it is ready, and "done" when it
// exits on its own. It also exits when its stdin closes, so it cannot
// outlive the test.
func TestMain(m *testing.M) {
	if mode := os.Getenv("LIFECYCLE_TEST_DAEMON"); mode != "" {
		os.Exit(runDaemon(mode, os.Getenv("LIFECYCLE_TEST_ADDR")))
	}
	os.Exit(m.Run())
}

func runDaemon(mode, addr string) int {
	var out sync.Mutex // one line at a time on stdout
	say := func(s string) { out.Lock(); fmt.Println(s); out.Unlock() }
	switch mode {
	case "stubborn":
		ossignal.Ignore(syscall.SIGTERM)
	case "record":
		sigs := make(chan os.Signal, 16)
		ossignal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
		go func() {
			for sig := range sigs {
				say("signal " + sig.String())
			}
		}()
	case "rename":
		if err := os.WriteFile("/proc/self/comm", []byte("x) y (z"), 0); err != nil {
			return 3
		}
	}
	stop := make(chan struct{})
	var once sync.Once
	var srv *http.Server
	if addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return 2
		}
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
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
		go func() { _ = srv.Serve(ln) }()
	}
	say("ready")
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); once.Do(func() { close(stop) }) }()
	<-stop
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	say("done")
	return 0
}

// daemon is a helper process started by a test.
type daemon struct {
	cmd    *exec.Cmd
	stdin  io.Closer     // closing it makes the helper exit
	out    *syncBuffer   // what it wrote to stdout
	exited chan struct{} // closed once the process has exited and been reaped
	state  *os.ProcessState
}

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
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
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

// startDaemon starts the helper in mode, serving on addr unless it is "",
// with env added to its environment. It reaps the process in a goroutine,
// as Ensure asks of a start function, and kills it when the test ends,
// whatever happened. It may be called from any goroutine.
func startDaemon(t *testing.T, mode, addr string, env ...string) (*daemon, error) {
	return spawn(t, mode, addr, true, env...)
}

// spawn is startDaemon, which reaps the process only if reap is true;
// otherwise the test reaps it when it ends, and until then an exited helper
// is a zombie.
func spawn(t *testing.T, mode, addr string, reap bool, env ...string) (*daemon, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_DAEMON="+mode, "LIFECYCLE_TEST_ADDR="+addr,
		// Under -race, a normal exit sleeps a second first (atexit_sleep_ms);
		// the helper has nothing to report, so it exits at once.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	out := &syncBuffer{}
	cmd.Stdout = out
	stdin, err := cmd.StdinPipe() // closed when the test ends: the helper exits
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	d := &daemon{cmd: cmd, stdin: stdin, out: out, exited: make(chan struct{})}
	wait := func() { _ = cmd.Wait(); d.state = cmd.ProcessState; close(d.exited) }
	if reap {
		go wait()
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		if !reap {
			time.AfterFunc(5*time.Second, func() { _ = cmd.Process.Kill() })
			wait()
			return
		}
		if !d.gone(2 * time.Second) {
			_ = cmd.Process.Kill()
			<-d.exited
		}
	})
	return d, nil
}

// pid returns the helper's pid as the contract carries it.
func (d *daemon) pid() uint32 { return uint32(d.cmd.Process.Pid) }

// ready waits until the helper has written "ready".
func (d *daemon) ready(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.HasPrefix(d.out.String(), "ready\n") }, 10*time.Second, 5*time.Millisecond, "the helper gets ready")
}

// starter returns a start function for Ensure that starts the helper
// daemon, and a pointer to the daemon it started.
func starter(t *testing.T, mode, addr string) (func(context.Context) (uint32, error), **daemon) {
	var started *daemon
	return func(context.Context) (uint32, error) {
		d, err := startDaemon(t, mode, addr)
		if err != nil {
			return 0, err
		}
		started = d
		return d.pid(), nil
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

// exitedByItself reports whether the helper exited on its own, with status
// 0, rather than by a signal. Call it once d.exited is closed.
func (d *daemon) exitedByItself() bool { return d.state.Exited() && d.state.ExitCode() == 0 }

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

// ensureDaemon starts the helper in mode on a free address through Ensure, and
// returns the daemon, its config and its handle.
func ensureDaemon(t *testing.T, mode string, endpoint *string) (*daemon, daemoncontract.HttpDaemonConfig, daemoncontract.DaemonHandle) {
	t.Helper()
	addr := freeAddr(t)
	start, started := starter(t, mode, addr)
	cfg := config(addr, endpoint)
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	require.NotNil(t, *started)
	return *started, cfg, h
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
	tests := []struct {
		name     string
		endpoint *string
	}{
		{"shutdown request accepted, then ignored", new("/v1/shutdown")},
		{"no endpoint, SIGTERM ignored", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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
	// Finding: an already-cancelled context turned Stop into an immediate
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
	// Finding: a failed SIGKILL on the context path reported Killed. It is
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

func TestEnsureRefusesASquatter(t *testing.T) {
	// Finding 5 (a squatter): a health check that passes does not prove
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

func TestConcurrentEnsureStartsOneDaemon(t *testing.T) {
	// Finding 5 (a squatter, within one process): two concurrent Ensure
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

func TestConcurrentStopSignalsOnce(t *testing.T) {
	// Finding: concurrent Stop calls on one handle sent extra SIGTERM and
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

func TestStopNeverSignalsAPIDTheHandleDoesNotCarry(t *testing.T) {
	// Finding 2 (a handle without a pid): StartedByUs(name, url, nil) plus
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
	// Finding 3 (a config that belongs to another daemon): our handle plus
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

func TestStopFollowsNoRedirect(t *testing.T) {
	// Finding 4 (redirects): the HTTP client followed them. A 307 from
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

// redirector serves a redirect to target, with status code, for every request.
func redirector(t *testing.T, code int, target string) string {
	t.Helper()
	return serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target, code)
	}))
}

func TestStatusFollowsNoRedirect(t *testing.T) {
	// Finding 4 (redirects): a 302 on /health made Status report our
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

func TestEnsureLeavesAPIDThatIsNotItsChildAlone(t *testing.T) {
	// Ensure proves that a bare pid names its own child before it records
	// an identity; the test process itself is not its own child.
	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Ensure(ctx, config(freeAddr(t), nil), func(context.Context) (uint32, error) { return uint32(os.Getpid()), nil })
	assert.ErrorContains(t, err, "not a child of this process")
	assert.ErrorContains(t, err, "left alone")
	assert.Empty(t, signalled)
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

func TestSignalRefusesProcessGroups(t *testing.T) {
	// The real signal function, with pids that must never reach kill(2).
	for _, pid := range []int{0, -1, -4242, 2147483648, 4294967295, 1 << 40} {
		assert.ErrorIs(t, signal(&os.Process{Pid: pid}, 0), errUnsafePID, "pid %d", pid)
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
	close(release)
	assert.ErrorContains(t, <-first, "not started")
}

func TestOutcomeText(t *testing.T) {
	want := map[Outcome]string{
		Refused: "refused", NotOurs: "not ours", NotRunning: "not running",
		StoppedGracefully: "stopped gracefully", Killed: "killed", AskedOverHTTP: "asked over HTTP",
		Outcome(9): "Outcome(9)",
	}
	for o, s := range want {
		assert.Equal(t, s, o.String())
		b, err := o.MarshalText()
		assert.NoError(t, err)
		assert.Equal(t, s, string(b))
	}
}
