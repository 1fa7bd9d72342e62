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

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/install"
	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

// installedItself installs the test binary, which doubles as the daemon
// (see TestMain), into a new policy directory, and returns the policy, the
// directory and the receipt.
func installedItself(t *testing.T) (install.Policy, string, daemoncontract.InstallResult) {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	dir := newDir(t, "bin")
	p := install.Policy{Dirs: []string{dir}}
	r, err := install.Install(context.Background(), p, config(exe, dir))
	require.NoError(t, err)
	return p, dir, r
}

func TestUninstallRefusesWhileAProcessRunsTheBinary(t *testing.T) {
	p, dir, r := installedItself(t)

	h := start(t, r.BinaryPath)
	before := snapshot(t, dir)
	err := install.Uninstall(context.Background(), p, removal(dir), r)
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
	p, dir, r := installedItself(t)

	h := startHelper(t, r.BinaryPath, "leader-exits")
	pid := h.cmd.Process.Pid
	_, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
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
	assert.ErrorContains(t, err, "pid "+strconv.Itoa(pid)+" ", "the /proc scan found it, through a thread")
	assert.Equal(t, before, snapshot(t, dir), "the binary a process runs is kept")

	h.stop(t)
	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), r))
}

func TestUninstallRefusesWhileANonDumpableProcessOfTheKeepersUserRunsTheBinary(t *testing.T) {
	// "no process runs it". proc(5) lets a process read /proc/<pid>/exe
	// only where ptrace(2)'s PTRACE_MODE_READ check passes, and unless the
	// keeper has CAP_SYS_PTRACE, which a root keeper in a container
	// (Docker's default set) does not have, that check refuses another
	// user's process, and also a process of the keeper's own user that is
	// not dumpable (prctl(2) PR_SET_DUMPABLE; every process that changed
	// its credentials, and daemons that hold secrets), and any process
	// whose capabilities the keeper lacks. Here the keeper is root without
	// CAP_SYS_PTRACE, or a user without privileges, and the daemon is its
	// own child: the /proc scan cannot see it, the ETXTBSY probe does.
	if rerunWithout(t, "sys_ptrace", capSysPtrace) {
		return
	}
	p, dir, r := installedItself(t)

	h := startHelper(t, r.BinaryPath, "nondumpable")
	_, err := os.Readlink("/proc/" + strconv.Itoa(h.cmd.Process.Pid) + "/exe")
	require.ErrorIs(t, err, fs.ErrPermission, "the keeper may not read the exe link of its own child")
	before := snapshot(t, dir)
	err = install.Uninstall(context.Background(), p, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrRunning, "pid %d runs the binary", h.cmd.Process.Pid)
	assert.ErrorContains(t, err, "ETXTBSY", "the probe found it")
	assert.Equal(t, before, snapshot(t, dir), "the binary a process runs is kept")
}

func TestUninstallWithoutWritePermissionLeavesTheDecisionToTheProcScan(t *testing.T) {
	// The ETXTBSY probe opens the binary for writing, which needs write
	// permission on it. A keeper that may not (here root without
	// CAP_DAC_OVERRIDE, and a binary without any write bit) gets EACCES,
	// and the /proc scan decides alone: it still finds a process it may
	// look at, and once none runs the binary, the binary is removed.
	if rerunWithout(t, "dac_override", capDacOverride) {
		return
	}
	p, dir, r := installedItself(t)
	require.NoError(t, os.Chmod(r.BinaryPath, 0o555))
	_, err := os.OpenFile(r.BinaryPath, os.O_WRONLY, 0)
	require.ErrorIs(t, err, fs.ErrPermission, "the keeper may not open the binary for writing")

	h := start(t, r.BinaryPath)
	before := snapshot(t, dir)
	err = install.Uninstall(context.Background(), p, removal(dir), r)
	assert.ErrorIs(t, err, install.ErrRunning)
	assert.ErrorContains(t, err, "pid "+strconv.Itoa(h.cmd.Process.Pid)+" ", "the scan found it")
	assert.Equal(t, before, snapshot(t, dir))

	h.stop(t)
	require.NoError(t, install.Uninstall(context.Background(), p, removal(dir), r), "a probe that cannot tell does not keep the binary")
	assert.Empty(t, entries(t, dir))
}

// withoutCap is set, to the name of the capability dropped, in the
// environment of the test binary that rerunWithout runs.
const withoutCap = "INSTALL_TEST_WITHOUT_CAP"

// The capabilities the tests drop: their bits (capabilities(7)).
const (
	capDacOverride = 1
	capSysPtrace   = 19
)

// rerunWithout runs the calling test again in the test binary, with the
// capability name (setpriv(1)'s spelling) dropped from its bounding set by
// setpriv(1) (util-linux), so that root's execve(2) does not grant it; it
// requires that the test passes there, and returns true. It returns false,
// and runs nothing, where this process lacks the capability (bit, in
// proc(5)'s CapEff of /proc/self/status): the caller then is the test
// without it.
func rerunWithout(t *testing.T, name string, bit uint) bool {
	t.Helper()
	if !hasCap(t, bit) {
		return false
	}
	if os.Getenv(withoutCap) != "" {
		t.Fatalf("setpriv did not drop %s", name)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		testenv.Skipf(t, "needs setpriv (util-linux) to drop %s: %v", name, err)
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(setpriv, "--bounding-set", "-"+name, exe,
		"-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), withoutCap+"="+name, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	t.Logf("%s without %s:\n%s", exe, name, out)
	if err != nil && bytes.Contains(out, []byte("setpriv:")) {
		testenv.Skipf(t, "setpriv cannot drop %s here: %v", name, err)
	}
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: "+t.Name())
	return true
}

// hasCap reports whether this process has the capability bit in its
// effective set (proc(5): CapEff in /proc/self/status).
func hasCap(t *testing.T, bit uint) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for line := range strings.Lines(string(b)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			require.NoError(t, err)
			return eff&(1<<bit) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
