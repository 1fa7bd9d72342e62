//go:build linux

// A daemon that is not dumpable (prctl(PR_SET_DUMPABLE, 0), or a setuid or
// file-capability binary) hides its file descriptors from a keeper without
// CAP_SYS_PTRACE (proc(5): /proc/<pid>/fd; ptrace(2): "ptrace access mode
// checking"). Ensure vouches for it where it can read them (a keeper that
// is root), and where it cannot, says so at once and leaves it running.
// Its identity, its pidfd and its signals hold either way: Stop of one
// that became non-dumpable after Ensure asks it with SIGTERM.

package lifecycle

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// unprivileged is the uid and gid that runUnprivileged runs as: nobody.
const unprivileged = 65534

// runUnprivileged runs the test called name again, in a copy of the test
// binary, as uid and gid 65534, and reports its result as t's. It needs
// root, to drop to that uid.
func runUnprivileged(t *testing.T, name string) {
	requireRoot(t)
	exe, err := os.Executable()
	require.NoError(t, err)
	// The test binary lives in a directory only root may enter.
	dir, err := os.MkdirTemp("", "lifecycle-unprivileged-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	bin := filepath.Join(dir, "lifecycle.test")
	copyFile(t, exe, bin)
	tmp := filepath.Join(dir, "tmp")
	require.NoError(t, os.Mkdir(tmp, 0o700))
	require.NoError(t, os.Chown(tmp, unprivileged, unprivileged))

	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivileged, Gid: unprivileged}}
	cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_UNPRIVILEGED=1", "TMPDIR="+tmp, "HOME="+tmp, "XDG_RUNTIME_DIR=",
		"GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	t.Logf("as uid %d:\n%s", unprivileged, out)
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+name)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// identityAndPidfdHold checks that d's identity is still the one in h, and
// that its pidfd says it runs.
func identityAndPidfdHold(t *testing.T, d *daemon, h daemoncontract.DaemonHandle) {
	t.Helper()
	id, err := ProcessIdentity(d.pid())
	require.NoError(t, err)
	want, _ := h.ProcessIdentity()
	assert.Equal(t, want, id, "its identity holds")
	done, err := exited(d.cmd.Process)
	require.NoError(t, err)
	assert.False(t, done, "its pidfd says it runs")
}

func TestEnsureVouchesForAHardenedDaemonAsRoot(t *testing.T) {
	// Root (CAP_SYS_PTRACE) reads the file descriptors of a process that
	// is not dumpable: every check holds. Stop's request goes over a
	// connection the daemon itself accepted, and without a shutdown
	// endpoint its SIGTERM goes through the pidfd.
	requireRoot(t)
	for _, endpoint := range []*string{new("/v1/shutdown"), nil} {
		d, cfg, h := ensureDaemon(t, "serve", endpoint, "LIFECYCLE_TEST_HARDEN=1")
		d.ready(t)
		require.Contains(t, d.out.String(), "hardened\n")
		assert.True(t, h.ShouldCleanup())
		identityAndPidfdHold(t, d, h)

		signals := countSignals(t)
		how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
		require.NoError(t, err)
		assert.Equal(t, StoppedGracefully, how)
		require.True(t, d.gone(5*time.Second))
		if endpoint != nil {
			assert.True(t, d.exitedByItself(), "asked over HTTP: %v", d.state)
			assert.Empty(t, signals())
		} else {
			assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1}, signals())
		}
	}
}

func TestEnsureSaysAtOnceThatItCannotVouchForAHardenedDaemon(t *testing.T) {
	// A keeper that runs as an ordinary user started a daemon that is not
	// dumpable: reading /proc/<pid>/fd failed with "permission denied",
	// Ensure polled until its deadline (30 s by default), and then killed a
	// healthy daemon. Now it says at once that it cannot vouch for the
	// daemon, and why, and leaves it running, to the caller that started
	// it.
	if os.Getenv("LIFECYCLE_TEST_UNPRIVILEGED") == "" {
		runUnprivileged(t, "TestEnsureSaysAtOnceThatItCannotVouchForAHardenedDaemon")
		return
	}
	require.NotZero(t, os.Geteuid(), "an unprivileged keeper")
	tests := []struct {
		name      string
		waitReady bool // start returns once the daemon serves, not dumpable already
	}{
		{"not dumpable when start returns", true},
		{"not dumpable as it starts", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := freeAddr(t)
			var d *daemon
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			h, err := EnsureProcess(ctx, config(addr, nil), func(context.Context) (*os.Process, error) {
				var err error
				if d, err = startDaemon(t, "serve", addr, "LIFECYCLE_TEST_HARDEN=1"); err != nil {
					return nil, err
				}
				if tt.waitReady {
					d.ready(t)
				}
				return d.cmd.Process, nil
			})
			require.Error(t, err)
			assert.Zero(t, h, "no handle")
			assert.ErrorIs(t, err, ErrCannotVouch)
			assert.ErrorIs(t, err, os.ErrPermission)
			assert.ErrorContains(t, err, "not dumpable")
			assert.ErrorContains(t, err, "left running, to the caller that started it")
			assert.NotErrorIs(t, err, context.DeadlineExceeded, "at once, not at the deadline")
			d.ready(t)
			assert.False(t, d.gone(0), "the daemon runs")
			assert.True(t, answers(addr), "and serves")
		})
	}
}

func TestChecksThatHoldForAHardenedDaemon(t *testing.T) {
	// For an unprivileged keeper, a daemon that became non-dumpable after
	// Ensure vouched for it still has its identity and its pidfd, and
	// takes its signals; only the proof that it answers is gone, so Stop
	// asks it with SIGTERM instead of the shutdown request.
	if os.Getenv("LIFECYCLE_TEST_UNPRIVILEGED") == "" {
		runUnprivileged(t, "TestChecksThatHoldForAHardenedDaemon")
		return
	}
	require.NotZero(t, os.Geteuid(), "an unprivileged keeper")
	d, cfg, h := ensureDaemon(t, "serve", new("/v1/shutdown"))
	d.send(t, "harden")
	d.waitFor(t, "hardened")

	_, err := os.ReadDir("/proc/" + strconv.Itoa(int(d.pid())) + "/fd")
	require.ErrorIs(t, err, os.ErrPermission, "its file descriptors are hidden")
	_, err = holds(context.Background(), d.pid(), "socket:[1]")
	assert.ErrorIs(t, err, ErrCannotVouch)
	identityAndPidfdHold(t, d, h)

	signals := countSignals(t)
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	require.True(t, d.gone(5*time.Second))
	assert.Equal(t, map[syscall.Signal]int{syscall.SIGTERM: 1}, signals(), "asked with SIGTERM")
	assert.False(t, d.exitedByItself(), "ended by the signal, not by a shutdown request: %v", d.state)
}
