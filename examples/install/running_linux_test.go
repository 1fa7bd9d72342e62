package install_test

// Uninstall keeps a binary that a process runs.

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract/examples/install"
	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

func TestUninstallRefusesWhileAProcessRunsTheBinary(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	r, err := install.Install(context.Background(), p, config(exe, dir))
	require.NoError(t, err)

	h := start(t, r.BinaryPath)
	before := snapshot(t, dir)
	err = install.Uninstall(context.Background(), p, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrRunning)
	assert.ErrorContains(t, err, "pid "+strconv.Itoa(h.cmd.Process.Pid)+" ")
	assert.Equal(t, before, snapshot(t, dir))

	h.stop(t) // exits, and is reaped
	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), r))
	assert.Empty(t, entries(t, dir))
}

func TestUninstallIsNotStoppedByAProcessRunningTheBinaryItReplaced(t *testing.T) {
	// Files are compared by device and inode, not by path: a process that
	// still runs the old binary, after an upgrade renamed the new one over
	// it, does not run the file that Uninstall removes.
	exe, err := os.Executable()
	require.NoError(t, err)
	v1, err := os.ReadFile(exe)
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	old := installed(t, dir, v1)
	running := start(t, old.BinaryPath)
	current := installed(t, dir, append(v1, "v2"...))

	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), current))
	assert.Empty(t, entries(t, dir))
	running.stop(t)
}

func TestUninstallRefusesWhileAProcessWhoseMainThreadHasExitedRunsTheBinary(t *testing.T) {
	// "no process runs it". A process whose main thread called exit(2)
	// (pthread_exit in C) runs on in its other threads, but proc(5)'s
	// /proc/<pid>/exe cannot be read any more: the kernel finds the
	// executable through the leader's memory map, which is gone. Its
	// other threads still name the binary: /proc/<pid>/task/<tid>/exe.
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	r, err := install.Install(context.Background(), p, config(exe, dir))
	require.NoError(t, err)

	h := startHelper(t, r.BinaryPath, "leader-exits")
	pid := h.cmd.Process.Pid
	_, err = os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	require.ErrorIs(t, err, fs.ErrNotExist, "the leader has exited: its exe link is gone")
	running := false
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	require.NoError(t, err)
	for _, task := range tasks {
		if target, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/exe"); err == nil && target == r.BinaryPath {
			running = true
		}
	}
	require.True(t, running, "a thread of pid %d runs %s", pid, r.BinaryPath)

	before := snapshot(t, dir)
	err = install.Uninstall(context.Background(), p, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrRunning)
	assert.Equal(t, before, snapshot(t, dir), "the binary a process runs is kept")

	h.stop(t)
	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), r))
}

// withoutPtrace is set in the environment of the test binary that
// TestUninstallRefusesWhileANonDumpableProcessOfTheKeepersUserRunsTheBinary
// runs again without CAP_SYS_PTRACE.
const withoutPtrace = "INSTALL_TEST_WITHOUT_CAP_SYS_PTRACE"

func TestUninstallRefusesWhileANonDumpableProcessOfTheKeepersUserRunsTheBinary(t *testing.T) {
	// "no process runs it", and the limits the README gives: only "another
	// user's process ..., when the keeper is not root" is said to be
	// invisible. But proc(5) lets a process read /proc/<pid>/exe only where
	// ptrace(2)'s PTRACE_MODE_READ check passes, and that check also
	// refuses a process of the keeper's own user that is not dumpable
	// (prctl(2) PR_SET_DUMPABLE; every process that changed its
	// credentials, and daemons that hold secrets), and any process whose
	// capabilities the keeper lacks, unless the keeper has
	// CAP_SYS_PTRACE, which a root keeper in a container (Docker's default
	// set) does not have. Here the keeper is root without CAP_SYS_PTRACE,
	// or a user without privileges, and the daemon is its own child.
	if hasCapSysPtrace(t) {
		if os.Getenv(withoutPtrace) != "" {
			t.Fatal("setpriv did not drop CAP_SYS_PTRACE")
		}
		runWithoutCapSysPtrace(t)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	r, err := install.Install(context.Background(), p, config(exe, dir))
	require.NoError(t, err)

	h := startHelper(t, r.BinaryPath, "nondumpable")
	_, err = os.Readlink("/proc/" + strconv.Itoa(h.cmd.Process.Pid) + "/exe")
	require.ErrorIs(t, err, fs.ErrPermission, "the keeper may not read the exe link of its own child")
	before := snapshot(t, dir)
	err = install.Uninstall(context.Background(), p, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrRunning, "pid %d runs the binary", h.cmd.Process.Pid)
	assert.Equal(t, before, snapshot(t, dir), "the binary a process runs is kept")
}

// hasCapSysPtrace reports whether this process has CAP_SYS_PTRACE in its
// effective set (proc(5): CapEff in /proc/self/status; capabilities(7):
// CAP_SYS_PTRACE is bit 19).
func hasCapSysPtrace(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			require.NoError(t, err)
			return eff&(1<<19) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}

// runWithoutCapSysPtrace runs the calling test again in the test binary,
// with CAP_SYS_PTRACE dropped from its bounding set by setpriv(1)
// (util-linux), so that root's execve(2) does not grant it; and requires
// that it passes there.
func runWithoutCapSysPtrace(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testenv.Skipf(t, "needs setpriv (util-linux) to drop CAP_SYS_PTRACE: %v", err)
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(setpriv, "--bounding-set", "-sys_ptrace", exe,
		"-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), withoutPtrace+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	t.Logf("%s without CAP_SYS_PTRACE:\n%s", exe, out)
	if err != nil && bytes.Contains(out, []byte("setpriv:")) {
		testenv.Skipf(t, "setpriv cannot drop CAP_SYS_PTRACE here: %v", err)
	}
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+t.Name())
}
