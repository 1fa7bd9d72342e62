package lifecycle

import (
	"errors"
	"fmt"
	"runtime"
)

// The refusals of Ensure and Stop that a caller may handle differently.
// Each comes wrapped in an error that says what happened to which daemon;
// test for them with errors.Is. An error that is none of them (an invalid
// config, a failed start function, a context that ended while waiting for
// another Ensure) is returned with its own cause.
var (
	// ErrOtherProcess: another process answers at the daemon's health
	// address, not the one Ensure started. The address is taken: the
	// daemon Ensure started could not listen there, or listens on
	// another address the same host name resolves to. Ensure has killed
	// the process it started (or found it exited: the error says which),
	// and returns no handle.
	ErrOtherProcess = errors.New("lifecycle: another process answers at the daemon's address")

	// ErrNotAnswering: something accepts connections on the health
	// address, but no healthy (2xx) answer came before the context ended. Ensure started nothing: a second daemon could not
	// listen there, and the first may be busy (loading, a long pause). The
	// error wraps the context's error too. Try again with more time, or
	// find what listens there.
	ErrNotAnswering = errors.New("lifecycle: a process listens at the health address but did not answer")

	// ErrNotHealthy: the daemon that Ensure started did not answer its
	// health check with a 2xx status before the context ended, or exited
	// before it answered. The error says which, and whether Ensure killed
	// it (SIGKILL, through its pidfd) or it had exited by itself; Ensure
	// returns no handle, and leaves no process of its own behind.
	ErrNotHealthy = errors.New("lifecycle: the daemon did not become healthy")

	// ErrCannotVouch: Ensure cannot prove that the process its start
	// function returned is its own child and the one that answers:
	// the pid is not a child of this process, it names a thread rather
	// than a process, there is no pidfd for it,
	// /proc is not this pid namespace's, or /proc/<pid>/fd cannot be read
	// (a process that is not dumpable, and a keeper without
	// CAP_SYS_PTRACE). The error names the cause. Ensure leaves the
	// process alone, running or not, and returns no handle: the caller
	// that started it holds it.
	ErrCannotVouch = errors.New("lifecycle: cannot vouch for the process")

	// ErrUnsupportedPlatform: the platform has no process identity or
	// pidfd (every platform but Linux). There Ensure starts nothing (it
	// still returns an AlreadyRunning handle for a daemon that answers),
	// and Stop signals nothing (it still asks over HTTP for a handle
	// without a process_identity). errors.Is(err, errors.ErrUnsupported)
	// is true as well.
	ErrUnsupportedPlatform = fmt.Errorf("lifecycle: process identities and pidfds are defined on Linux only, not on %s: %w", runtime.GOOS, errors.ErrUnsupported)
)
