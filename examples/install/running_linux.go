//go:build linux

package install

// How Uninstall tells that a process runs the binary: the /proc scan, which
// names the pid, and the ETXTBSY probe, which sees every process but names
// none. See the package documentation for what each catches.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// errForeignProc says that /proc shows another pid namespace than this
// process's, whose processes it would not list.
var errForeignProc = errors.New("/proc belongs to another pid namespace than this process's (a pid namespace needs its own /proc: unshare --mount-proc)")

// runningPID returns the pid of a process whose executable is the file that
// st describes, or 0 if there is none that this process can see.
//
// proc(5): /proc/<pid>/exe is a link to the file the process runs, and
// stat(2) through it describes that file, deleted or not. It cannot be
// read for a process that has exited or is a zombie, or for a kernel
// thread (ENOENT), nor (EACCES) where ptrace(2)'s PTRACE_MODE_READ check
// fails, which it does, unless this process has CAP_SYS_PTRACE, for
// another user's process, a process that is not dumpable, and one with
// capabilities this one lacks. Those are skipped (the ETXTBSY probe sees
// them).
// When the leader of a thread group has exited and its other threads run
// on, /proc/<pid>/exe is gone (the kernel finds the executable through the
// leader's memory map), but /proc/<pid>/task/<tid>/exe of the other threads
// still names it: on ENOENT, the threads are looked at. Files are compared
// by device and inode.
func runningPID(st syscall.Stat_t) (int, error) {
	self, err := os.Readlink("/proc/self")
	if err != nil {
		return 0, fmt.Errorf("reading /proc: %w", err)
	}
	if self != strconv.Itoa(os.Getpid()) {
		return 0, errForeignProc
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if runs("/proc/"+e.Name(), e.Name(), st) {
			return pid, nil
		}
	}
	return 0, nil
}

// runs reports whether the process whose /proc directory is dir, pid pid,
// has the file st describes as its executable, through its exe link or,
// when that is gone (ENOENT), through one of its other threads' links.
func runs(dir, pid string, st syscall.Stat_t) bool {
	var exe syscall.Stat_t
	switch err := syscall.Stat(dir+"/exe", &exe); {
	case err == nil:
		return sameInode(exe, st)
	case err != syscall.ENOENT:
		return false
	}
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return false
	}
	for _, task := range tasks {
		if task.Name() != pid && syscall.Stat(dir+"/task/"+task.Name()+"/exe", &exe) == nil && sameInode(exe, st) {
			return true
		}
	}
	return false
}

func sameInode(a, b syscall.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }

// probe is what the ETXTBSY probe found.
type probe int

const (
	notExecuted probe = iota // no process executes the file
	executed                 // some process executes the file
	cannotTell               // the probe may not open the file for writing
)

// execProbe tells whether any process executes the file that f, open for
// reading, refers to. open(2): opening for writing "an executable image
// which is currently being executed" fails with ETXTBSY, whoever runs it, in
// whatever pid namespace (the kernel denies writes to a file for as long as
// a process has it as its executable, execve(2) and prctl(2) PR_SET_MM_EXE_FILE
// alike). So it opens that very file again, through /proc/self/fd/<n>,
// O_WRONLY, and closes it at once without writing: nothing changes but
// what inotify(7) reports (an open, and a close after writing). O_NONBLOCK
// makes an open that would wait for a lease to be broken (fcntl(2)
// F_SETLEASE: a file server's) fail at once, and that is an error: the file
// is kept.
//
// It cannot tell (cannotTell) where this process may not open the file for
// writing: EACCES (it neither owns the file nor has CAP_DAC_OVERRIDE), EPERM
// (an immutable or append-only file) and EROFS (a read-only mount); the
// /proc scan then decides alone.
func execProbe(f *os.File) (probe, error) {
	fd, err := retry(func() (int, error) {
		return syscall.Open(procFD(int(f.Fd())), syscall.O_WRONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	})
	switch err {
	case nil:
		syscall.Close(fd)
		return notExecuted, nil
	case syscall.ETXTBSY:
		return executed, nil
	case syscall.EACCES, syscall.EPERM, syscall.EROFS:
		return cannotTell, nil
	}
	return cannotTell, fmt.Errorf("opening it for writing, through %s, to find whether a process executes it (open(2): ETXTBSY): %w", procFD(int(f.Fd())), err)
}
