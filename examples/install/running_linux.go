//go:build linux

package install

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
// read for a process that has exited or is a zombie, for a kernel thread,
// and (EACCES) for another user's process when this one is not root:
// those are skipped. Files are compared by device and inode.
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
		var exe syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name()+"/exe", &exe) != nil {
			continue
		}
		if exe.Dev == st.Dev && exe.Ino == st.Ino {
			return pid, nil
		}
	}
	return 0, nil
}
