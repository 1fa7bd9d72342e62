package lifecycle

// How this package signals a process from a handle, without a window
// between the check and the signal:
//
//  1. Open a pidfd for the pid: os.FindProcess does, on Linux 5.4 or later
//     (pidfd_open), and exec.Cmd.Start holds one from clone(CLONE_PIDFD).
//  2. Then read the identity of the process that has the pid now, and
//     compare it with the handle's.
//  3. If they are equal, the pidfd names the daemon: the daemon was running
//     before the pidfd was opened (Ensure read its identity then) and is
//     running after, so it held the pid all along, and a pid names one live
//     process at a time. Signals then go through the pidfd
//     (pidfd_send_signal), which can never reach a process that takes the
//     pid later. If they differ, the daemon is gone: nothing is sent.
//
// Steps 2 and 3 are repeated before every signal. An *os.Process without a
// pidfd (an older kernel, a seccomp filter) is never signalled by a handle.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"syscall"
)

// The signals the package sends, besides signal 0.
const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// errGone says that a handle's process has exited (a zombie counts), or
// that its pid names another process now.
var errGone = errors.New("lifecycle: the process has exited")

// errNoPidfd says that a process cannot be signalled safely: os holds no
// pidfd for it. The errors that wrap it say why.
var errNoPidfd = errors.New("lifecycle: no pidfd for the process, so it is not signalled: its pid alone might name another process by the time a signal arrives")

// errNoPidfdInProcess says that the *os.Process holds no pidfd although
// the kernel has them.
var errNoPidfdInProcess = fmt.Errorf("%w (the *os.Process holds none: it did not come from os.StartProcess, exec.Cmd.Start or os.FindProcess)", errNoPidfd)

// errNotServed says that an HTTP answer cannot be shown to come from the
// process a handle vouches for: another process, or none yet, holds the
// socket that answers.
var errNotServed = errors.New("lifecycle: the answer does not come from the daemon's own process")

// errOtherProcess says that another process holds the socket that answers.
var errOtherProcess = fmt.Errorf("%w: another process holds the socket that answers", errNotServed)

// proc is a process that a handle vouches for: its pid, its identity, and an
// *os.Process bound to it (see the recipe above).
type proc struct {
	pid uint32
	id  string
	p   *os.Process
	// found says that p came from os.FindProcess in this package, not
	// from a caller: release releases its pidfd.
	found bool
}

// release gives back the pidfd of an *os.Process that this package found
// (os.Process.Release); a caller's *os.Process is the caller's to release.
// pr is not used after.
func (pr *proc) release() {
	if pr != nil && pr.found {
		_ = pr.p.Release()
	}
}

// check reports whether the process is still the one pr names and still
// running: nil if so; errGone if it has exited or its pid names another
// process; another error if that cannot be told.
//
// The identity comes from /proc/<pid>/stat; whether the process runs,
// from its pidfd, polled after the read (see exited): still running then,
// it held the pid during the read, and the identity read was its own. The
// state letter in /proc/<pid>/stat is its leader thread's, not the
// process's.
func (pr *proc) check() error {
	st, err := readStat(pr.pid)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errGone
	case err != nil:
		return err
	case st.identity != pr.id:
		return errGone
	}
	done, err := exited(pr.p)
	switch {
	case err != nil:
		return err
	case done:
		return errGone
	}
	return nil
}

// signal checks pr again and sends sig through its pidfd. It returns errGone
// if the process is gone; then nothing was sent.
func (pr *proc) signal(sig syscall.Signal) error {
	if err := pr.check(); err != nil {
		return err
	}
	err := signal(pr.p, sig)
	if errors.Is(err, os.ErrProcessDone) {
		return errGone
	}
	return err
}

// kill sends SIGKILL, and reports whether it did: a process that has
// exited meanwhile is fine, and was not killed.
func (pr *proc) kill() (sent bool, err error) {
	switch err := pr.signal(sigKill); {
	case errors.Is(err, errGone):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("lifecycle: kill pid %d: %w", pr.pid, err)
	}
	return true, nil
}

// killAndWait sends SIGKILL and waits, up to KillWait, for the process to
// be gone. It says what happened, in words that complete "pid N ...":
// "was killed (SIGKILL)", "had exited by itself", or an error.
func (pr *proc) killAndWait(ctx context.Context) (string, error) {
	sent, err := pr.kill()
	switch {
	case err != nil:
		return "", err
	case !sent:
		return "had exited by itself", nil
	}
	if err := waitExit(context.WithoutCancel(ctx), pr, KillWait); err != nil {
		return "", fmt.Errorf("lifecycle: pid %d was sent SIGKILL and still runs after %v: %w", pr.pid, KillWait, err)
	}
	return "was killed (SIGKILL)", nil
}

// vouch reads the identity of the process that Ensure's start function just
// started. p is the *os.Process that start returned, or nil when it
// returned only pid; then the pid is opened here. Either way the process
// must be a child of this process, held through a pidfd: whatever start
// returned, Ensure vouches only for a process this process started.
//
// Where p comes from exec.Cmd.Start, its pidfd was opened by clone, so the
// recipe above holds at once. Where vouch opens the pid itself, the process
// might in theory have exited, been reaped and replaced before the pidfd
// was opened: the parent check rules that out for all but another child of
// this process (and, where this process is pid 1 or a subreaper, for all
// but an orphan it adopted: prefer EnsureProcess there).
//
// It returns errGone (wrapped) if the process has exited already, and
// otherwise an error that says why it cannot vouch for it.
func vouch(pid uint32, p *os.Process) (pr *proc, err error) {
	found := p == nil
	if found {
		if p, err = os.FindProcess(int(pid)); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				_ = p.Release()
			}
		}()
	}
	if err := pidfd(p, pid); errors.Is(err, errGone) {
		return nil, fmt.Errorf("%w: pid %d had exited and been reaped before Ensure could open it (start must return a process that runs)", errGone, pid)
	} else if err != nil {
		return nil, err
	}
	st, err := readStat(pid)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w at once", errGone)
	}
	if err != nil {
		return nil, err
	}
	if st.ppid != os.Getpid() {
		return nil, fmt.Errorf("pid %d is not a child of this process (its parent is pid %d)", pid, st.ppid)
	}
	pr = &proc{pid: pid, id: st.identity, p: p, found: found}
	// Still running after the read, by its pidfd: the identity read was
	// its own.
	if done, err := exited(p); err != nil {
		return nil, err
	} else if done {
		return nil, fmt.Errorf("%w at once", errGone)
	}
	// A process that is not dumpable hides its file descriptors, and with
	// them the proof that it is the one that answers: say so now, not at
	// the deadline.
	if err := fdsReadable(pid); err != nil {
		return nil, err
	}
	return pr, nil
}

// open returns the process that a handle with pid and id vouches for, as
// the recipe above says: errGone if the daemon is gone, another error if it
// cannot be signalled safely. A process that Ensure started in this process
// is found with the *os.Process it kept. The caller calls done when it is
// done with pr: it releases the pidfd that open opened (none of the
// registry's).
func open(pid uint32, id string) (pr *proc, done func(), err error) {
	if !supported {
		return nil, nil, ErrUnsupportedPlatform
	}
	done = func() {}
	if pr = started.get(pid, id); pr == nil {
		p, err := os.FindProcess(int(pid)) // the pidfd first ...
		if err != nil {
			return nil, nil, err
		}
		pr = &proc{pid: pid, id: id, p: p, found: true}
		done = pr.release
	}
	if err := pidfd(pr.p, pid); err != nil {
		done()
		return nil, nil, err
	}
	if err := pr.check(); err != nil { // ... then the identity
		done()
		return nil, nil, err
	}
	return pr, done, nil
}

// pidfd reports whether os holds a pidfd for p, the process with pid,
// through which a signal reaches p and no other process: nil if it does,
// errGone if p has been reaped, errNoPidfd (wrapped, with the cause) if
// os has only its pid.
func pidfd(p *os.Process, pid uint32) error {
	err := p.WithHandle(func(uintptr) {})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, os.ErrProcessDone):
		return errGone
	case errors.Is(err, os.ErrNoHandle):
		// os.FindProcess of a reaped pid, an older kernel, or an
		// *os.Process made by hand.
		return noPidfd(pid)
	}
	return fmt.Errorf("%w: %w", errNoPidfd, err)
}

// errUnsafePID is what signal returns instead of signalling a pid that is
// not one process.
var errUnsafePID = errors.New("lifecycle: refusing to signal a pid outside 1..2147483647: kill(2) would read it as a process group, or as every process")

// signal is the one way this package signals a process: all of its
// signals, signal 0 included, go through it. Tests replace it. Whatever its
// callers have checked already, it refuses a pid outside 1..2147483647,
// which os would hand to kill(2) if the process had no pidfd: kill reads 0
// and negative pids as process groups.
var signal = func(p *os.Process, sig syscall.Signal) error {
	if p.Pid < 1 || p.Pid > math.MaxInt32 {
		return errUnsafePID
	}
	return p.Signal(sig)
}

// started holds the processes that Ensure started in this process and
// vouched for, with the *os.Process it kept for each, until Stop finds them
// gone.
var started registry

type procKey struct {
	pid uint32
	id  string
}

type registry struct {
	mu    sync.Mutex
	procs map[procKey]*proc
}

// add records pr, and forgets the processes that have exited meanwhile.
func (r *registry) add(pr *proc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, old := range r.procs {
		if errors.Is(old.check(), errGone) {
			delete(r.procs, k)
		}
	}
	if r.procs == nil {
		r.procs = make(map[procKey]*proc)
	}
	r.procs[procKey{pr.pid, pr.id}] = pr
}

func (r *registry) get(pid uint32, id string) *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[procKey{pid, id}]
}

// remove forgets the process, and releases the pidfd that Ensure opened
// for it. Only Stop calls it, holding the process's turn (stopping), so no
// other Stop uses that pidfd.
func (r *registry) remove(pid uint32, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.procs[procKey{pid, id}].release()
	delete(r.procs, procKey{pid, id})
}

// ensuring makes concurrent Ensure calls for one daemon name take turns,
// and stopping concurrent Stop calls for one process (or, for a handle that
// cannot be signalled, one shutdown URL).
var ensuring, stopping keyedLock

// keyedLock is a mutex per key, whose Lock gives up when its context ends.
type keyedLock struct {
	mu    sync.Mutex
	locks map[string]*lockEntry
}

type lockEntry struct {
	held  chan struct{} // holds a value while the lock is held
	users int           // holders and waiters; the entry goes at 0
}

// lock takes the lock of key. A free lock is taken at once, even when ctx
// has ended; a lock that another holds is waited for until ctx ends, and
// then lock returns errLockBusy and ctx's error. It returns the function
// that unlocks it.
func (l *keyedLock) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	e := l.locks[key]
	if e == nil {
		if l.locks == nil {
			l.locks = make(map[string]*lockEntry)
		}
		e = &lockEntry{held: make(chan struct{}, 1)}
		l.locks[key] = e
	}
	e.users++
	l.mu.Unlock()
	leave := func() {
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
	unlock = func() { <-e.held; leave() }
	select {
	case e.held <- struct{}{}:
		return unlock, nil
	default:
	}
	select {
	case e.held <- struct{}{}:
		return unlock, nil
	case <-ctx.Done():
		leave()
		return nil, fmt.Errorf("%w: %w", errLockBusy, ctx.Err())
	}
}

// errLockBusy says that a lock was held by another call all the while its
// caller waited.
var errLockBusy = errors.New("another call held it until the context ended")
