//go:build linux

// Ensure calls take turns across processes: keepers that call Ensure at
// once start one daemon, whatever their environment and whatever happens
// to files, and a keeper that dies holding the lock releases it.

package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

// keeperResult is what a keeper process writes about one Ensure call.
type keeperResult struct {
	Handle daemoncontract.DaemonHandle `json:"handle"`
	Error  string                      `json:"error,omitempty"`
}

// runKeeper runs the test binary as a keeper process, a stand-in for the
// keeper CLI, for the tests of Ensure across processes. The daemon's
// address is LIFECYCLE_TEST_ADDR. role:
//
//	ensure  writes "ready", waits for a line on stdin, and then calls
//	        Ensure from LIFECYCLE_TEST_CALLERS goroutines at once, whose
//	        start function waits LIFECYCLE_TEST_START_DELAY and then starts
//	        the helper daemon (serve) as its child. It writes one JSON line
//	        (keeperResult) for each call, and "starts N", the number of
//	        daemons it started; then it waits for its stdin to close, stops
//	        the daemon if it owns it, and exits.
//	hold    calls Ensure, whose start function writes "in start" and never
//	        returns.
func runKeeper(role string) int {
	cfg := config(os.Getenv("LIFECYCLE_TEST_ADDR"), new("/v1/shutdown"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out sync.Mutex
	say := func(s string) { out.Lock(); fmt.Println(s); out.Unlock() }
	switch role {
	case "hold":
		_, err := EnsureProcess(ctx, cfg, func(context.Context) (*os.Process, error) {
			say("in start")
			time.Sleep(time.Hour)
			return nil, errors.New("slept an hour")
		})
		say(fmt.Sprint(err))
		return 1
	case "ensure":
	default:
		return 2
	}
	callers, _ := strconv.Atoi(os.Getenv("LIFECYCLE_TEST_CALLERS"))
	delay, _ := time.ParseDuration(os.Getenv("LIFECYCLE_TEST_START_DELAY"))
	var starts atomic.Int32
	start := func(context.Context) (*os.Process, error) {
		starts.Add(1)
		time.Sleep(delay)
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_KEEPER=", "LIFECYCLE_TEST_DAEMON=serve")
		// The daemon exits when this keeper does: its stdin closes.
		if _, err := cmd.StdinPipe(); err != nil {
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		go func() { _ = cmd.Wait() }()
		return cmd.Process, nil
	}
	say("ready")
	in := make([]byte, 1)
	if _, err := os.Stdin.Read(in); err != nil {
		return 3
	}
	handles := make([]daemoncontract.DaemonHandle, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			h, err := EnsureProcess(ctx, cfg, start)
			r := keeperResult{Handle: h}
			if err != nil {
				r.Error = err.Error()
			}
			b, _ := json.Marshal(r)
			say(string(b))
			handles[i] = h
		})
	}
	wg.Wait()
	say(fmt.Sprintf("starts %d", starts.Load()))
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, h := range handles {
		if pid, ok := h.PID(); ok && h.ShouldCleanup() {
			_, _ = Stop(context.Background(), h, daemoncontract.NewShutdownConfig(cfg.DaemonName, pid), cfg)
		}
	}
	return 0
}

// keeperResults waits for the results of k's calls, and returns them
// and the number of daemons it started.
func keeperResults(t *testing.T, k *daemon, calls int) ([]keeperResult, int) {
	t.Helper()
	var starts int
	require.Eventually(t, func() bool { return strings.Contains(k.out.String(), "starts ") }, time.Minute, 5*time.Millisecond, "the keeper's Ensure calls return")
	var results []keeperResult
	for line := range strings.Lines(k.out.String()) {
		switch {
		case strings.HasPrefix(line, "{"):
			var r keeperResult
			require.NoError(t, json.Unmarshal([]byte(line), &r), line)
			results = append(results, r)
		case strings.HasPrefix(line, "starts "):
			var err error
			starts, err = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "starts ")))
			require.NoError(t, err)
		}
	}
	require.Len(t, results, calls, k.out.String())
	return results, starts
}

func TestEnsureStartsOneDaemonAcrossProcesses(t *testing.T) {
	// Two keeper processes that called Ensure at once started two
	// daemons: the lock was per process. Now the lock is a file that both
	// see: here two keepers, each with two goroutines, call Ensure at once;
	// one call starts the daemon, and the three others find it running.
	// Each start waits 300 ms before it launches, so that every call has
	// looked (and found nothing) before any daemon listens.
	addr := freeAddr(t)
	const callers = 2
	var keepers []*daemon
	for range 2 {
		k, err := spawnHelper(t, true, "LIFECYCLE_TEST_KEEPER=ensure", "LIFECYCLE_TEST_ADDR="+addr,
			"LIFECYCLE_TEST_CALLERS="+strconv.Itoa(callers), "LIFECYCLE_TEST_START_DELAY=300ms")
		require.NoError(t, err)
		keepers = append(keepers, k)
	}
	for _, k := range keepers {
		k.waitFor(t, "ready")
	}
	for _, k := range keepers {
		k.send(t, "go")
	}

	starts, owners := 0, 0
	for _, k := range keepers {
		results, n := keeperResults(t, k, callers)
		starts += n
		for _, r := range results {
			assert.Empty(t, r.Error)
			if r.Handle.ShouldCleanup() {
				owners++
				continue
			}
			assert.Equal(t, daemoncontract.AlreadyRunning("test-daemon", "http://"+addr), r.Handle)
		}
	}
	assert.Equal(t, 1, starts, "one daemon started, by one call")
	assert.Equal(t, 1, owners, "one handle owns it")
	assert.True(t, answers(addr))

	for _, k := range keepers { // the keepers exit; the owner stops its daemon
		require.NoError(t, k.stdin.Close())
		require.True(t, k.gone(10*time.Second))
	}
	assert.False(t, answers(addr), "stopped by its owner")
}

// tryLock reports whether the lock named lock (lockName's form) is free:
// this process can bind it at once (and gives it back).
func tryLock(t *testing.T, lock string) bool {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: "@" + lock})
	if errors.Is(err, syscall.EADDRINUSE) {
		return false
	}
	require.NoError(t, err)
	return true
}

func TestAKeeperKilledHoldingTheLockReleasesIt(t *testing.T) {
	// unix(7): an abstract socket name "automatically disappears when all
	// open references to the socket are closed", which the kernel does
	// when the process dies, however it dies.
	addr := freeAddr(t)
	holder, err := spawnHelper(t, true, "LIFECYCLE_TEST_KEEPER=hold", "LIFECYCLE_TEST_ADDR="+addr)
	require.NoError(t, err)
	holder.waitFor(t, "in start")
	lock := lockNamespace + "/test-daemon." + portOfAddr(t, addr)
	require.False(t, tryLock(t, lock), "the keeper holds the lock @%s", lock)

	var started atomic.Bool
	start, launched := starter(t, "serve", addr)
	type result struct {
		h   daemoncontract.DaemonHandle
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := Ensure(context.Background(), config(addr, nil), func(ctx context.Context) (uint32, error) {
			started.Store(true)
			return start(ctx)
		})
		done <- result{h, err}
	}()
	time.Sleep(300 * time.Millisecond)
	require.False(t, started.Load(), "no daemon is started while another keeper holds the lock")

	require.NoError(t, holder.cmd.Process.Kill()) // SIGKILL: no chance to unlock
	require.True(t, holder.gone(5*time.Second))
	r := <-done
	require.NoError(t, r.err)
	assert.True(t, r.h.ShouldCleanup(), "the waiting Ensure got the lock, and started the daemon")
	require.NotNil(t, *launched)
	assert.True(t, tryLock(t, lock), "and released the lock when it returned, while its daemon runs")
}

func TestTheLockIsANameOfTheDaemonAndPort(t *testing.T) {
	// The lock is @daemoncontract/<name>.<port> in the abstract namespace
	// (lockNamespace is the test run's own): what every keeper computes
	// alike, whatever its environment. A name too long for sun_path (107
	// bytes after the null byte) is hashed, so that it fits and still
	// names one daemon.
	assert.Equal(t, lockNamespace+"/queen-rbee.7833", lockName("queen-rbee", "7833"))
	long := strings.Repeat("d", 200)
	got := lockName(long, "7833")
	assert.LessOrEqual(t, len(got), 107)
	assert.True(t, strings.HasPrefix(got, lockNamespace+"/sha256-"), got)
	assert.True(t, strings.HasSuffix(got, ".7833"), got)
	assert.NotEqual(t, got, lockName(long+"e", "7833"), "another name, another lock")

	// A process that holds the name makes Ensure wait, start nothing, and
	// say what it waited for when its context ends.
	addr := freeAddr(t)
	lock := lockName("test-daemon", portOfAddr(t, addr))
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer syscall.Close(fd)
	require.NoError(t, syscall.Bind(fd, &syscall.SockaddrUnix{Name: "@" + lock}))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var called bool
	_, err = Ensure(ctx, config(addr, nil), func(context.Context) (uint32, error) {
		called = true
		return 0, errors.New("start called")
	})
	assert.False(t, called, "no daemon is started without the lock")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorContains(t, err, "waiting for the lock @"+lock)
	assert.ErrorContains(t, err, "ss -xap")
}

// requireRoot skips t unless it runs as root, or fails it where the tests
// that need namespaces and root must run (see testenv.RequireNamespaces).
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Skipf(t, "needs root, to make a file of another user")
	}
}

func TestEnsureTakesTurnsWhateverHappensToFiles(t *testing.T) {
	// "Ensure calls for one daemon name and port take turns, in one
	// process and across processes". The lock was a file, and flock(2)
	// locks an open file, not a name: when the lock file was removed, or
	// replaced by a rename(2), while a keeper held it (an rm, a cleaner of
	// the temporary directory, such as systemd-tmpfiles, which ages files
	// by their times), the next keeper created or opened another file,
	// took its lock at once, and started a second daemon; and no check
	// of the next keeper's could see the first one's file. The lock is now
	// a name that no file holds: the runtime and temporary directories,
	// where the lock files were, can be emptied or replaced while a
	// keeper holds the lock, and the next keeper still waits.
	tests := []struct {
		name    string
		replace func(t *testing.T, dir string)
	}{
		{"removed", func(t *testing.T, dir string) {
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			for _, e := range entries {
				require.NoError(t, os.RemoveAll(filepath.Join(dir, e.Name())))
			}
		}},
		{"replaced by a rename", func(t *testing.T, dir string) {
			other := dir + ".new"
			require.NoError(t, os.Mkdir(other, 0o700))
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.Rename(other, dir))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xdg, tmp := t.TempDir(), t.TempDir()
			addr := freeAddr(t)
			holder, err := spawnHelper(t, true, "LIFECYCLE_TEST_KEEPER=hold", "LIFECYCLE_TEST_ADDR="+addr,
				"XDG_RUNTIME_DIR="+xdg, "TMPDIR="+tmp)
			require.NoError(t, err)
			holder.waitFor(t, "in start")
			lock := lockName("test-daemon", portOfAddr(t, addr))
			require.False(t, tryLock(t, lock), "the keeper holds the lock @%s", lock)
			tt.replace(t, xdg)
			tt.replace(t, tmp)
			t.Setenv("XDG_RUNTIME_DIR", xdg)
			t.Setenv("TMPDIR", tmp)

			var started atomic.Bool
			start, _ := starter(t, "serve", addr)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				_, err := Ensure(ctx, config(addr, nil), func(ctx context.Context) (uint32, error) {
					started.Store(true)
					return start(ctx)
				})
				done <- err
			}()
			time.Sleep(300 * time.Millisecond)
			assert.False(t, started.Load(), "no daemon is started while another keeper holds the lock")
			cancel()
			<-done
			require.NoError(t, holder.cmd.Process.Kill())
		})
	}
}

func TestEnsureStartsOneDaemonWhateverTheKeepersEnvironment(t *testing.T) {
	// "Two keepers that call Ensure at once start one daemon." The lock
	// file's directory comes from each keeper's environment:
	// $XDG_RUNTIME_DIR, which pam_systemd sets in a login session, or the
	// temporary directory ($TMPDIR) where it is unset, as in a cron job, a
	// system service with User=, sudo or ssh without a session. Two keepers
	// of one user, one in a terminal and one started by cron or a service,
	// lock two different files, and both start the daemon: the second
	// launch runs its start (the side effects the lock exists to prevent)
	// and fails to listen.
	addr := freeAddr(t)
	envs := [][]string{
		{}, // the test's XDG_RUNTIME_DIR (see TestMain)
		{"XDG_RUNTIME_DIR=", "TMPDIR=" + t.TempDir()},
	}
	var keepers []*daemon
	for _, env := range envs {
		k, err := spawnHelper(t, true, append([]string{"LIFECYCLE_TEST_KEEPER=ensure", "LIFECYCLE_TEST_ADDR=" + addr,
			"LIFECYCLE_TEST_CALLERS=1", "LIFECYCLE_TEST_START_DELAY=300ms"}, env...)...)
		require.NoError(t, err)
		keepers = append(keepers, k)
	}
	for _, k := range keepers {
		k.waitFor(t, "ready")
	}
	for _, k := range keepers {
		k.send(t, "go")
	}
	starts := 0
	for _, k := range keepers {
		results, n := keeperResults(t, k, 1)
		starts += n
		t.Logf("keeper: %d start(s), error %q", n, results[0].Error)
	}
	assert.Equal(t, 1, starts, "one daemon started, by one keeper")
	for _, k := range keepers {
		require.NoError(t, k.stdin.Close())
		require.True(t, k.gone(10*time.Second))
	}
}
