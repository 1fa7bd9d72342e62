//go:build linux

package lifecycle

// Whether a process has exited, and the wait for it, by its pidfd.
//
// pidfd_open(2): a pidfd "can be monitored using poll(2), select(2), and
// epoll(7). When the process that it refers to terminates, the file
// descriptor indicates as readable." The kernel (pidfd_poll) makes it
// readable once the whole thread group has exited, "similar to the wait(2)
// family": a daemon whose main thread called exit(2) while its other
// threads serve is running, although /proc/<pid>/stat shows its leader
// thread as a zombie (Z). A process that has exited and not been reaped (a
// zombie) counts as exited.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sysPidfdOpen is pidfd_open's number: 434 on every architecture (it came
// after the unification of the syscall tables).
const sysPidfdOpen = 434

// pidfdNonblock is PIDFD_NONBLOCK (Linux 5.10): O_NONBLOCK.
const pidfdNonblock = syscall.O_NONBLOCK

// pollReadable polls fd, a pidfd, without waiting, or for up to timeout
// when timeout is positive (in whole milliseconds, rounded up), and reports
// whether it is readable: the process has exited. It uses epoll(7), which
// package syscall wraps without package unsafe. Tests wrap it, to count the
// polls.
var pollReadable = func(fd int, timeout time.Duration) (bool, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false, os.NewSyscallError("epoll_create1", err)
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
		return false, os.NewSyscallError("epoll_ctl", err)
	}
	deadline := time.Now().Add(timeout)
	events := make([]syscall.EpollEvent, 1)
	for {
		msec := 0
		if left := time.Until(deadline); timeout > 0 && left > 0 {
			msec = int(min((left+time.Millisecond-1)/time.Millisecond, math.MaxInt32))
		}
		n, err := syscall.EpollWait(ep, events, msec)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return false, os.NewSyscallError("epoll_wait", err)
		}
		return n > 0 && events[0].Events&(syscall.EPOLLIN|syscall.EPOLLHUP) != 0, nil
	}
}

// exited reports whether the process p has exited, by polling its pidfd.
// A process that p's owner has reaped (Wait returned) has exited too. It
// returns errNoPidfd if os holds no pidfd for p.
func exited(p *os.Process) (bool, error) {
	var done bool
	var perr error
	err := p.WithHandle(func(fd uintptr) { done, perr = pollReadable(int(fd), 0) })
	switch {
	case errors.Is(err, os.ErrProcessDone):
		return true, nil
	case errors.Is(err, os.ErrNoHandle):
		return false, errNoPidfd
	case err != nil:
		return false, err
	}
	return done, perr
}

// pidfdOpen opens a pidfd for pid (pidfd_open(2)), with flags.
func pidfdOpen(pid uint32, flags int) (int, error) {
	fd, _, e := syscall.Syscall(sysPidfdOpen, uintptr(pid), uintptr(flags), 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// noPidfd says why p, for which os holds no pidfd, has none: errGone if
// pid names no process any more (it was reaped: os.FindProcess then
// returns a process without one), else errNoPidfd with the cause.
func noPidfd(pid uint32) error {
	fd, err := pidfdOpen(pid, 0)
	switch {
	case err == nil:
		syscall.Close(fd)
		return errNoPidfdInProcess
	case errors.Is(err, syscall.ESRCH):
		return errGone
	case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOENT):
		// pidfd_open(2): EINVAL (ENOENT since Linux 6.9, which has
		// PIDFD_THREAD) for a pid that is not a thread-group leader.
		if tgid, terr := threadGroup(pid); terr == nil && tgid != pid {
			return fmt.Errorf("%w: pid %d is a thread of process %d, not a process (its thread-group leader): pidfd_open(2) opens processes only; start must return the process's own pid, such as cmd.Process.Pid", errNoPidfd, pid, tgid)
		}
	}
	return fmt.Errorf("%w: pidfd_open: %w (pidfds need Linux 5.4 or later, and no seccomp filter that forbids them)", errNoPidfd, err)
}

// threadGroup returns the thread-group id of the thread pid: the Tgid line
// of /proc/<pid>/status (proc(5)), the pid of the process the thread is
// one of. /proc/<tid> exists for every thread, though /proc lists only
// processes.
func threadGroup(pid uint32) (uint32, error) {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			return uint32(n), err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no Tgid line", pid)
}

// waitExit waits until the process pr has exited, ctx ends (ctx's error),
// or timeout has passed (errTimeout); a timeout of 0 or less does not
// wait. It waits on the pidfd's readiness, through the runtime's poller:
// it returns as soon as the process has exited, with no polling interval.
func waitExit(ctx context.Context, pr *proc, timeout time.Duration) error {
	if err := pr.check(); errors.Is(err, errGone) {
		return nil
	}
	if timeout <= 0 {
		return errTimeout
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	// A pidfd of its own, non-blocking, for the poller: pr's pidfd belongs
	// to os (and to its owner's Wait, which O_NONBLOCK would break).
	fd, err := pidfdOpen(pr.pid, pidfdNonblock)
	if errors.Is(err, syscall.EINVAL) { // Linux before 5.10: no PIDFD_NONBLOCK
		return waitExitPolling(ctx, pr, deadline)
	}
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	if err != nil {
		return os.NewSyscallError("pidfd_open", err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	// It names the process that has pr's pid now: pr's own process, if
	// that is still running after the open.
	if err := pr.check(); errors.Is(err, errGone) {
		return nil
	} else if err != nil {
		return err
	}
	if err := f.SetReadDeadline(deadline); err != nil {
		return waitExitPolling(ctx, pr, deadline) // not in the poller
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var done bool
		done, perr = pollReadable(int(fd), 0)
		return done || perr != nil
	})
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return errTimeout
	case err != nil:
		return err
	}
	return perr
}

// waitExitPolling is waitExit for kernels without PIDFD_NONBLOCK: it polls
// pr's own pidfd in slices of up to 10 ms, and looks at ctx between them.
func waitExitPolling(ctx context.Context, pr *proc, deadline time.Time) error {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return errTimeout
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		var done bool
		var perr error
		err := pr.p.WithHandle(func(fd uintptr) { done, perr = pollReadable(int(fd), min(left, 10*time.Millisecond)) })
		switch {
		case errors.Is(err, os.ErrProcessDone):
			return nil
		case err != nil:
			return err
		case perr != nil:
			return perr
		case done:
			return nil
		}
	}
}
