//go:build linux

// The test binary as the daemon under test, and the helpers that start it.

package lifecycle

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	ossignal "os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// stranger is a process that is not a child of the test process: a
// grandchild, whose parent is an sh that waits for it and then prints how
// it ended ("status 0"; 137 is SIGKILL, 143 SIGTERM).
type stranger struct {
	pid  uint32
	out  *syncBuffer // sh's: the grandchild's pid, then "status N"
	gout *syncBuffer // the grandchild's own output
}

// startStranger runs the test's helper daemon in mode on addr (no address:
// it listens nowhere) as a grandchild. It exits when the test ends, with
// its stdin.
func startStranger(t *testing.T, mode, addr string) *stranger {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	sh := exec.Command("sh", "-c", `exec 3<&0; "$0" <&3 3<&- & echo $!; wait $!; echo status $?`, exe)
	sh.Env = append(os.Environ(), "LIFECYCLE_TEST_DAEMON="+mode, "LIFECYCLE_TEST_ADDR="+addr,
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	s := &stranger{out: &syncBuffer{}, gout: &syncBuffer{}}
	sh.Stdout = s.out
	sh.Stderr = s.gout
	stdin, err := sh.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, sh.Start())
	done := make(chan struct{})
	go func() { _ = sh.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = sh.Process.Kill()
			<-done
		}
	})
	require.Eventually(t, func() bool { return strings.Contains(s.out.String(), "\n") }, 10*time.Second, 2*time.Millisecond)
	pid, err := strconv.Atoi(strings.SplitN(s.out.String(), "\n", 2)[0])
	require.NoError(t, err)
	s.pid = uint32(pid)
	// The helper daemon writes "ready" to its stdout, which is sh's.
	require.Eventually(t, func() bool { return strings.Contains(s.out.String(), "ready") }, 10*time.Second, 2*time.Millisecond)
	return s
}

// ended returns sh's "status N" line once the grandchild has ended, or ""
// if it still runs after d.
func (s *stranger) ended(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		if _, status, ok := strings.Cut(s.out.String(), "status "); ok {
			return "status " + strings.TrimSpace(status)
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// countSignals records every signal the package sends, by signal.
func countSignals(t *testing.T) func() map[syscall.Signal]int {
	var mu sync.Mutex
	count := map[syscall.Signal]int{}
	observe(t, func(_ int, sig syscall.Signal) { mu.Lock(); count[sig]++; mu.Unlock() })
	return func() map[syscall.Signal]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[syscall.Signal]int{}
		for k, v := range count {
			out[k] = v
		}
		return out
	}
}
