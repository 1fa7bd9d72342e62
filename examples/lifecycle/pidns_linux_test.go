package lifecycle

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

// inPIDNamespace is set in the environment of the test binary that
// TestPIDReuseInANamespace runs in a new pid namespace.
const inPIDNamespace = "LIFECYCLE_TEST_IN_PID_NAMESPACE"

func TestPIDReuseInANamespace(t *testing.T) {
	// A daemon exited and was reaped, and an
	// unrelated process got its pid; Stop with the old handle SIGTERMed it
	// and said "stopped gracefully". Now the old handle's identity does
	// not match the process that has the pid, so Stop reports NotRunning
	// and sends nothing.
	//
	// To give the unrelated process the daemon's pid for real, the test
	// binary runs this test again as pid 1 of a new pid namespace, where
	// root may choose the next pid through /proc/sys/kernel/ns_last_pid.
	if os.Getenv(inPIDNamespace) == "" {
		runInNewPIDNamespace(t)
		return
	}
	require.Equal(t, 1, os.Getpid(), "pid 1 of a new pid namespace")

	addr := freeAddr(t)
	cfg := config(addr, new("/v1/shutdown"))
	start, started := starter(t, "serve", addr)
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	pid, _ := h.PID()
	id, _ := h.ProcessIdentity()
	t.Logf("Ensure started the daemon: pid %d, process_identity %q", pid, id)

	// The daemon exits (its stdin closes) and is reaped.
	daemon := *started
	require.NoError(t, daemon.stdin.Close())
	require.True(t, daemon.gone(5*time.Second))
	t.Logf("the daemon exited and was reaped: %v", daemon.state)

	// The token counts the start time in clock ticks (10 ms), so a process
	// that started in the daemon's own tick would carry its token. Outside a
	// namespace whose next pid is forced, a pid comes back only after
	// pid_max others; here the test makes sure a tick has passed.
	time.Sleep(20 * time.Millisecond)
	// The next process gets the daemon's pid.
	if err := os.WriteFile("/proc/sys/kernel/ns_last_pid", []byte(strconv.Itoa(int(pid)-1)), 0); err != nil {
		testenv.Skipf(t, "cannot choose the next pid: %v", err)
	}
	bystander, err := startDaemon(t, "record", "")
	require.NoError(t, err)
	require.Equal(t, pid, bystander.pid(), "the unrelated process reuses the daemon's pid")
	bystander.ready(t)
	bystanderID, err := ProcessIdentity(pid)
	require.NoError(t, err)
	t.Logf("an unrelated process now has pid %d: process_identity %q", pid, bystanderID)
	require.NotEqual(t, id, bystanderID)

	how, err := Stop(context.Background(), h, shutdownConfig(int(pid), 1), cfg)
	t.Logf("Stop with the daemon's old handle: outcome %q, error %v", how, err)
	require.NoError(t, err)
	assert.Equal(t, NotRunning, how)

	assert.False(t, bystander.gone(300*time.Millisecond), "the unrelated process is alive")
	now, err := ProcessIdentity(pid)
	require.NoError(t, err)
	assert.Equal(t, bystanderID, now, "and is the same process")
	require.NoError(t, bystander.stdin.Close())
	require.True(t, bystander.gone(5*time.Second))
	assert.Equal(t, "ready\ndone\n", bystander.out.String(), "it received no signal")
	assert.True(t, bystander.exitedByItself(), "it exited on its own: %v", bystander.state)
	t.Logf("pid %d was alive after Stop, received no signal, and exited on its own: %v", pid, bystander.state)
}

// runInNewPIDNamespace runs TestPIDReuseInANamespace in a new pid
// namespace, with unshare, and reports its result as this test's. It skips
// where unshare is missing or not permitted.
func runInNewPIDNamespace(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.Skipf(t, "needs unshare (util-linux): %v", err)
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", exe,
		"-test.run=^TestPIDReuseInANamespace$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), inPIDNamespace+"=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	t.Logf("%s in a new pid namespace:\n%s", exe, out)
	if err != nil && bytes.Contains(out, []byte("unshare failed")) {
		testenv.Skipf(t, "unshare is not permitted here: %v", err)
	}
	require.NoError(t, err)
	if bytes.Contains(out, []byte("--- SKIP: TestPIDReuseInANamespace")) {
		testenv.Skipf(t, "skipped in the new pid namespace; see its output above")
	}
	require.Contains(t, string(out), "--- PASS: TestPIDReuseInANamespace")
}
