package lifecycle

// Tests for what a hostile review of the lifecycle found after issue 9
// landed: each test names its finding, and failed on the code before the
// fix.

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

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

func TestStopPostsOnlyToItsOwnProcess(t *testing.T) {
	// Review finding 1: Stop POSTed the shutdown request to whatever served
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
	// Review finding 1, as found: with the usual /etc/hosts, localhost is
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
	// Review finding 1, Ensure's side: while our child ran without
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

func TestEnsureProcessLeavesANonChildAlone(t *testing.T) {
	// Review finding 2: EnsureProcess checked that the process was its
	// child only for a bare pid. Given another process's *os.Process, it
	// SIGKILLed it when the health check failed, owned it when the check
	// passed, and, given its own process, killed itself.
	s := startStranger(t, "record", "")
	signals := countSignals(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h, err := EnsureProcess(ctx, config(freeAddr(t), nil), func(context.Context) (*os.Process, error) {
		return os.FindProcess(int(s.pid))
	})
	require.Error(t, err)
	assert.ErrorContains(t, err, "not a child")
	assert.False(t, h.ShouldCleanup())

	_, err = EnsureProcess(ctx, config(freeAddr(t), nil), func(context.Context) (*os.Process, error) {
		return os.FindProcess(os.Getpid())
	})
	assert.ErrorContains(t, err, "not a child", "its own process is not its child either")

	assert.Empty(t, signals(), "no signal at all")
	assert.Empty(t, s.ended(200*time.Millisecond), "the stranger still runs")
	assert.NotContains(t, s.out.String(), "signal")
}

func TestEnsureProcessNeverSignalsABarePID(t *testing.T) {
	// Review finding 3: when EnsureProcess could not vouch for a process,
	// it SIGKILLed whatever *os.Process start returned, through kill(2)
	// where that had no pidfd. Now it leaves the process alone, whoever it
	// is: the caller that started it still holds it.
	s := startStranger(t, "record", "")
	signals := countSignals(t)
	_, err := EnsureProcess(context.Background(), config(freeAddr(t), nil), func(context.Context) (*os.Process, error) {
		return &os.Process{Pid: int(s.pid)}, nil // as os.FindProcess returns it without pidfd_open
	})
	require.Error(t, err)
	assert.ErrorContains(t, err, "left alone")
	assert.Empty(t, signals())
	assert.Empty(t, s.ended(200*time.Millisecond), "the stranger still runs")
}

func TestIdentityRefusesAForeignProc(t *testing.T) {
	// Review finding 4: in a pid namespace without its own /proc (unshare
	// --pid --fork, no --mount-proc), /proc/<pid> described another process
	// than the pid: Ensure recorded a kernel thread's identity, and a later
	// Stop signalled an unrelated process. Now no identity is read from a
	// /proc that is not this process's namespace's.
	if os.Getenv("LIFECYCLE_TEST_FOREIGN_PROC") == "" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			skipf(t, "needs unshare (util-linux): %v", err)
		}
		exe, err := os.Executable()
		require.NoError(t, err)
		cmd := exec.Command(unshare, "--pid", "--fork", exe, "-test.run=^TestIdentityRefusesAForeignProc$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_FOREIGN_PROC=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		t.Logf("in a new pid namespace, with the old /proc:\n%s", out)
		if err != nil && strings.Contains(string(out), "unshare failed") {
			skipf(t, "unshare is not permitted here: %v", err)
		}
		require.NoError(t, err)
		require.Contains(t, string(out), "--- PASS: TestIdentityRefusesAForeignProc")
		return
	}
	require.Equal(t, 1, os.Getpid(), "pid 1 of a new pid namespace")
	_, err := ProcessIdentity(1)
	require.ErrorIs(t, err, errForeignProc)

	child, err := startDaemon(t, "record", "")
	require.NoError(t, err)
	_, err = EnsureProcess(context.Background(), config(freeAddr(t), nil), func(context.Context) (*os.Process, error) {
		return child.cmd.Process, nil
	})
	require.ErrorIs(t, err, errForeignProc)
	assert.ErrorContains(t, err, "left alone")
	assert.False(t, child.gone(200*time.Millisecond), "its child is left to the caller")
}

func TestOriginKeepsTheZonesCase(t *testing.T) {
	// Review finding 5: origin lower-cased the zone of an IPv6 address,
	// and interface names are case-sensitive: Stop took a config on
	// fe80::1%ETH0 for a handle on fe80::1%eth0, and asked the other
	// interface's daemon to stop.
	h := daemoncontract.StartedByUs("test-daemon", "http://[fe80::1%25eth0]:7833", new(uint32(4242))).WithProcessIdentity("linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:1")
	for health, ok := range map[string]bool{
		"http://[fe80::1%25eth0]:7833/health": true,
		"http://[FE80::1%25eth0]:7833/health": true, // the address is hex: case-insensitive
		"http://[fe80::1%25ETH0]:7833/health": false,
		"http://[fe80::1%25eth1]:7833/health": false,
		"http://[fe80::1]:7833/health":        false,
	} {
		cfg := daemoncontract.HttpDaemonConfig{DaemonName: "test-daemon", HealthURL: health}
		err := belongTogether(h, shutdownConfig(4242, 5), cfg)
		assert.Equal(t, ok, err == nil, "%s: %v", health, err)
	}
}

func TestStopSaysGracefullyWhenNoKillWasSent(t *testing.T) {
	// Review finding 6: a daemon that exited between Stop's last look and
	// its SIGKILL was reported Killed, though no SIGKILL was sent. Here the
	// daemon ignores SIGTERM and exits on its own just as the graceful
	// timeout ends.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	var killsSent atomic.Int32
	real := signal
	signal = func(p *os.Process, sig syscall.Signal) error {
		if sig == syscall.SIGKILL {
			// The daemon exits on its own first (its stdin closes), and is
			// reaped: the SIGKILL finds no process.
			_ = d.stdin.Close()
			<-d.exited
			err := real(p, sig)
			if err == nil {
				killsSent.Add(1)
			}
			return err
		}
		return real(p, sig)
	}
	t.Cleanup(func() { signal = real })
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 0), cfg)
	require.NoError(t, err)
	assert.Zero(t, killsSent.Load(), "no SIGKILL reached a process")
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, d.exitedByItself())
}

func TestConcurrentStopsKeepTheirOwnContexts(t *testing.T) {
	// Review finding 7: concurrent Stop calls shared the first call's
	// context. A call with a context done at the start (which must get the
	// full graceful timeout) that joined a call with a 200 ms context was
	// killed at 200 ms with the other's error. Now the calls take turns:
	// the first kills at its own deadline, and the second finds the daemon
	// gone.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	signals := countSignals(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		how, err := Stop(ctx, h, shutdownConfig(int(d.pid()), 60), cfg)
		assert.Equal(t, Killed, how)
		first <- err
	}()
	require.Eventually(t, func() bool { return signals()[syscall.SIGTERM] == 1 }, 5*time.Second, time.Millisecond, "the first Stop has asked")

	done, cancelDone := context.WithCancel(context.Background())
	cancelDone()
	how, err := Stop(done, h, shutdownConfig(int(d.pid()), 60), cfg)
	assert.NoError(t, err)
	assert.Equal(t, NotRunning, how, "the daemon was gone when its turn came")
	assert.ErrorIs(t, <-first, context.DeadlineExceeded, "the first call's own context ended it")
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1, syscall.SIGKILL: 1}, signals())
}

func TestStopAfterAContextKillFindsTheDaemonGone(t *testing.T) {
	// Review finding 8: a Stop whose context ended returned right after its
	// SIGKILL, and a Stop right after it found the process still dying,
	// sent SIGTERM again and said "stopped gracefully". Now Stop returns
	// once the process is gone.
	d, cfg, h := ensureDaemon(t, "stubborn", nil)
	signals := countSignals(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	how, err := Stop(ctx, h, shutdownConfig(int(d.pid()), 60), cfg)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, Killed, how)

	how, err = Stop(context.Background(), h, shutdownConfig(int(d.pid()), 60), cfg)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, how)
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1, syscall.SIGKILL: 1}, signals())
}

func TestEnsureStartsNothingWithoutAnAnswer(t *testing.T) {
	// Review finding 9: with a context that was already done, or one that
	// ended before a slow but healthy daemon answered, the health check
	// failed and Ensure started a second daemon. No answer in time is not
	// "not running": Ensure now starts nothing and returns the context's
	// error.
	served := serveHTTP(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		time.Sleep(300 * time.Millisecond)
	}))
	cfg := config(served, nil)
	var starts atomic.Int32
	start := func(context.Context) (uint32, error) { starts.Add(1); return 0, os.ErrInvalid }

	done, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		_, err := Ensure(done, cfg, start)
		assert.ErrorIs(t, err, context.Canceled)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancelShort()
	_, err := Ensure(short, cfg, start)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Zero(t, starts.Load(), "start was never called")
}
