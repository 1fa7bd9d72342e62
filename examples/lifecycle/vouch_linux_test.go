//go:build linux

// Ensure vouches only for a process it started itself, held through a
// pidfd; anything else it leaves alone.

package lifecycle

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

func TestEnsureLeavesAPIDThatIsNotItsChildAlone(t *testing.T) {
	// Ensure proves that a bare pid names its own child before it records
	// an identity; the test process itself is not its own child.
	var signalled []int
	intercept(t, func(pid int, _ syscall.Signal) { signalled = append(signalled, pid) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := Ensure(ctx, config(freeAddr(t), nil), func(context.Context) (uint32, error) { return uint32(os.Getpid()), nil })
	assert.ErrorIs(t, err, ErrCannotVouch)
	assert.ErrorContains(t, err, "not a child of this process")
	assert.ErrorContains(t, err, "left alone")
	assert.Empty(t, signalled)
}

func TestEnsureProcessLeavesANonChildAlone(t *testing.T) {
	// EnsureProcess checked that the process was its
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
	assert.ErrorIs(t, err, ErrCannotVouch)
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
	// When EnsureProcess could not vouch for a process,
	// it SIGKILLed whatever *os.Process start returned, through kill(2)
	// where that had no pidfd. Now it leaves the process alone, whoever it
	// is: the caller that started it still holds it.
	s := startStranger(t, "record", "")
	signals := countSignals(t)
	_, err := EnsureProcess(context.Background(), config(freeAddr(t), nil), func(context.Context) (*os.Process, error) {
		return &os.Process{Pid: int(s.pid)}, nil // as os.FindProcess returns it without pidfd_open
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCannotVouch)
	assert.ErrorContains(t, err, "the *os.Process holds none")
	assert.ErrorContains(t, err, "left alone")
	assert.Empty(t, signals())
	assert.Empty(t, s.ended(200*time.Millisecond), "the stranger still runs")
}

func TestIdentityRefusesAForeignProc(t *testing.T) {
	// In a pid namespace without its own /proc (unshare
	// --pid --fork, no --mount-proc), /proc/<pid> described another process
	// than the pid: Ensure recorded a kernel thread's identity, and a later
	// Stop signalled an unrelated process. Now no identity is read from a
	// /proc that is not this process's namespace's.
	if os.Getenv("LIFECYCLE_TEST_FOREIGN_PROC") == "" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			testenv.Skipf(t, "needs unshare (util-linux): %v", err)
		}
		exe, err := os.Executable()
		require.NoError(t, err)
		cmd := exec.Command(unshare, "--pid", "--fork", exe, "-test.run=^TestIdentityRefusesAForeignProc$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_FOREIGN_PROC=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
		out, err := cmd.CombinedOutput()
		t.Logf("in a new pid namespace, with the old /proc:\n%s", out)
		if err != nil && strings.Contains(string(out), "unshare failed") {
			testenv.Skipf(t, "unshare is not permitted here: %v", err)
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
	assert.ErrorIs(t, err, ErrCannotVouch)
	assert.ErrorContains(t, err, "left alone")
	assert.False(t, child.gone(200*time.Millisecond), "its child is left to the caller")
}
