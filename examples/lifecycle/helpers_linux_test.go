//go:build linux

// The test binary as the daemon under test, and the helpers that start it.

package lifecycle

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	ossignal "os/signal"
	"runtime"
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
//	slow      /health answers 200 after LIFECYCLE_TEST_DELAY (a
//	          time.Duration); it accepts each connection at once.
//	redirect  /health answers 200; a POST to /v1/shutdown answers 307 to
//	          LIFECYCLE_TEST_REDIRECT. SIGTERM ends it.
//	record    catches SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2,
//	          and writes "signal <name>" to stdout for each, instead of
//	          exiting. (Signal 0 is never delivered, and SIGKILL cannot be
//	          caught: it shows as the way the process ended.)
//	rename    sets its command name to "x) y (z", which /proc/<pid>/stat
//	          shows in field 2.
//	handoff   accepts each connection and hands it to a worker process
//	          of its own, which answers (see runHandoff).
//
// With LIFECYCLE_TEST_HARDEN set, it makes itself not dumpable
// (prctl(PR_SET_DUMPABLE, 0)) before it listens, and writes "hardened". With
// LIFECYCLE_TEST_LEADER_EXIT=ready, its main thread, the thread-group
// leader, exits (exit(2), not exit_group(2)) once it is ready, while its
// other threads serve on; the process ends when they call exit_group.
//
// Every mode writes "ready" to stdout once it is ready, and "done" when it
// exits on its own. It reads commands from stdin, one a line: "harden"
// (prctl as above; it writes "hardened"), "exit-leader" (its main thread
// exits; it writes "leader exits" first). It exits when its stdin closes,
// so it cannot outlive the test.
//
// Run with LIFECYCLE_TEST_KEEPER set, it is a keeper process instead (see
// runKeeper); with LIFECYCLE_TEST_SOCKETS, a holder of sockets for the
// benchmark (see holdSockets).
func TestMain(m *testing.M) {
	// Ensure's locks get names of this test run's own (see lockNamespace),
	// which its helper processes inherit.
	if os.Getenv("LIFECYCLE_TEST_LOCKS") == "" {
		os.Setenv("LIFECYCLE_TEST_LOCKS", "daemoncontract-test-"+strconv.Itoa(os.Getpid()))
	}
	lockNamespace = os.Getenv("LIFECYCLE_TEST_LOCKS")
	if mode := os.Getenv("LIFECYCLE_TEST_DAEMON"); mode != "" {
		// The main goroutine is locked to the main thread (see init): the
		// daemon runs on other threads, and this one exits when told.
		go func() { os.Exit(runDaemon(mode, os.Getenv("LIFECYCLE_TEST_ADDR"))) }()
		<-exitLeader
		exitThread()
	}
	if role := os.Getenv("LIFECYCLE_TEST_KEEPER"); role != "" {
		os.Exit(runKeeper(role))
	}
	if n := os.Getenv("LIFECYCLE_TEST_SOCKETS"); n != "" {
		count, _ := strconv.Atoi(n)
		net2, _ := strconv.Atoi(os.Getenv("LIFECYCLE_TEST_NET"))
		if err := holdSockets(count, net2); err != nil {
			fmt.Fprintln(os.Stderr, "holding sockets:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// The test's own runtime directory: Ensure must not use it (see
	// TestEnsureTakesTurnsWhateverHappensToFiles).
	dir, err := os.MkdirTemp("", "lifecycle-test-runtime-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("XDG_RUNTIME_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func init() {
	if os.Getenv("LIFECYCLE_TEST_DAEMON") != "" { // a helper daemon, whose main thread may be told to exit
		// Locked in an init function, main (TestMain here) runs on the
		// main thread: runtime.LockOSThread.
		runtime.LockOSThread()
	}
}

// exitLeader is closed when the main thread is to exit.
var exitLeader = make(chan struct{})

var exitLeaderOnce sync.Once

// exitThread ends the calling thread alone: exit(2), where os.Exit calls
// exit_group(2). It enters the call as a system call (syscall.Syscall, not
// RawSyscall), so the runtime hands the thread's P to others and goes on
// without the thread.
func exitThread() {
	_, _, _ = syscall.Syscall(syscall.SYS_EXIT, 0, 0, 0)
	panic("exit(2) returned")
}

// harden makes this process not dumpable: prctl(2) PR_SET_DUMPABLE 0.
func harden() error {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_DUMPABLE, 0, 0); e != 0 {
		return e
	}
	return nil
}

func runDaemon(mode, addr string) int {
	var out sync.Mutex // one line at a time on stdout
	say := func(s string) { out.Lock(); fmt.Println(s); out.Unlock() }
	switch mode {
	case "handoff", "handoff-worker":
		return runHandoff(mode, addr, say)
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
	if os.Getenv("LIFECYCLE_TEST_HARDEN") != "" {
		if err := harden(); err != nil {
			return 4
		}
		say("hardened")
	}
	delay, _ := time.ParseDuration(os.Getenv("LIFECYCLE_TEST_DELAY"))
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
			switch mode {
			case "unhealthy":
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			case "slow":
				time.Sleep(delay)
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
	leaderExit := func() { exitLeaderOnce.Do(func() { say("leader exits"); close(exitLeader) }) }
	if os.Getenv("LIFECYCLE_TEST_LEADER_EXIT") == "ready" {
		leaderExit()
	}
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			switch sc.Text() {
			case "harden":
				if err := harden(); err != nil {
					say("harden: " + err.Error())
					continue
				}
				say("hardened")
			case "exit-leader":
				leaderExit()
			}
		}
		once.Do(func() { close(stop) })
	}()
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
	addr   string         // where it serves, if it does
	stdin  io.WriteCloser // its commands; closing it makes the helper exit
	out    *syncBuffer    // what it wrote to stdout
	exited chan struct{}  // closed once the process has exited and been reaped
	state  *os.ProcessState
}

// startDaemon starts the helper in mode, serving on addr unless it is "",
// with env added to its environment. It reaps the process in a goroutine,
// as Ensure asks of a start function, and kills it when the test ends,
// whatever happened. It may be called from any goroutine.
func startDaemon(t testing.TB, mode, addr string, env ...string) (*daemon, error) {
	return spawn(t, mode, addr, true, env...)
}

// spawn is startDaemon, which reaps the process only if reap is true;
// otherwise the test reaps it when it ends, and until then an exited helper
// is a zombie.
func spawn(t testing.TB, mode, addr string, reap bool, env ...string) (*daemon, error) {
	d, err := spawnHelper(t, reap, append([]string{"LIFECYCLE_TEST_DAEMON=" + mode, "LIFECYCLE_TEST_ADDR=" + addr}, env...)...)
	if d != nil {
		d.addr = addr
	}
	return d, err
}

// spawnHelper runs the test binary as a helper process, with env added to
// its environment (LIFECYCLE_TEST_DAEMON or LIFECYCLE_TEST_KEEPER say
// which), as spawn says.
func spawnHelper(t testing.TB, reap bool, env ...string) (*daemon, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		// Under -race, a normal exit sleeps a second first (atexit_sleep_ms);
		// the helper has nothing to report, so it exits at once.
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	cmd.Env = append(cmd.Env, env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, os.Stderr
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

// send writes a command line to the helper's stdin.
func (d *daemon) send(t *testing.T, command string) {
	t.Helper()
	_, err := io.WriteString(d.stdin, command+"\n")
	require.NoError(t, err)
}

// waitFor waits until the helper has written line.
func (d *daemon) waitFor(t *testing.T, line string) {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains("\n"+d.out.String(), "\n"+line+"\n") }, 10*time.Second, 2*time.Millisecond, "the helper writes %q", line)
}

// pid returns the helper's pid as the contract carries it.
func (d *daemon) pid() uint32 { return uint32(d.cmd.Process.Pid) }

// ready waits until the helper has written "ready".
func (d *daemon) ready(t *testing.T) {
	t.Helper()
	d.waitFor(t, "ready")
}

// starter returns a start function for Ensure that starts the helper
// daemon, with env added to its environment, and a pointer to the daemon
// it started.
func starter(t testing.TB, mode, addr string, env ...string) (func(context.Context) (uint32, error), **daemon) {
	var started *daemon
	return func(context.Context) (uint32, error) {
		d, err := startDaemon(t, mode, addr, env...)
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

// leaderState returns the state letter of the helper's thread-group leader,
// field 3 of /proc/<pid>/stat.
func (d *daemon) leaderState(t *testing.T) byte {
	t.Helper()
	st, err := readStat(d.pid())
	require.NoError(t, err)
	return st.state
}

// exitedByItself reports whether the helper exited on its own, with status
// 0, rather than by a signal. Call it once d.exited is closed.
func (d *daemon) exitedByItself() bool { return d.state.Exited() && d.state.ExitCode() == 0 }

// ensureDaemon starts the helper in mode on a free address through Ensure,
// with env added to its environment, and returns the daemon, its config and
// its handle.
func ensureDaemon(t *testing.T, mode string, endpoint *string, env ...string) (*daemon, daemoncontract.HttpDaemonConfig, daemoncontract.DaemonHandle) {
	t.Helper()
	addr := freeAddr(t)
	start, started := starter(t, mode, addr, env...)
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
