//go:build linux

package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// ProcessIdentity returns the contract's process identity token of the
// process that has pid now: on Linux "linux:<boot_id>:<starttime>", where
// boot_id is /proc/sys/kernel/random/boot_id without its newline and
// starttime is field 22 of /proc/<pid>/stat (see the "Process identity"
// section of [daemoncontract.DaemonHandle]).
//
// A pid that names no process gives an error for which errors.Is(err,
// os.ErrNotExist) is true; any other error means the identity could not be
// read. An exited process that has not been reaped yet (a zombie) still has
// its identity. Elsewhere than Linux, ProcessIdentity returns
// errors.ErrUnsupported.
func ProcessIdentity(pid uint32) (string, error) {
	st, err := readStat(pid)
	return st.identity, err
}

// supported says whether Ensure can vouch for a process it starts here.
const supported = true

// bootID is the content of /proc/sys/kernel/random/boot_id without its
// newline. It changes only at boot, so it is read once.
var bootID = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "", fmt.Errorf("lifecycle: boot id: %w", err)
	}
	id := strings.TrimSuffix(string(b), "\n")
	bad := func(r rune) bool { return r < 0x21 || r > 0x7e || r == ':' }
	if id == "" || strings.ContainsFunc(id, bad) {
		return "", fmt.Errorf("lifecycle: boot id: unexpected content %q", b)
	}
	return id, nil
})

// errForeignProc says that /proc shows another pid namespace than this
// process's: /proc/<pid> would describe another process than pid.
var errForeignProc = errors.New("lifecycle: /proc belongs to another pid namespace than this process's (a pid namespace needs its own /proc: unshare --mount-proc), so no process identity can be read")

// readStat reads /proc/<pid>/stat. It first checks that /proc shows this
// process's own pid namespace, where /proc/self is this process's pid.
func readStat(pid uint32) (procStat, error) {
	boot, err := bootID()
	if err != nil {
		return procStat{}, err
	}
	if self, err := os.Readlink("/proc/self"); err != nil || self != strconv.Itoa(os.Getpid()) {
		return procStat{}, errForeignProc
	}
	data, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/stat")
	if errors.Is(err, syscall.ESRCH) { // it was reaped between open and read
		err = os.ErrNotExist
	}
	if err != nil {
		return procStat{}, fmt.Errorf("lifecycle: process identity of pid %d: %w", pid, err)
	}
	state, ppid, starttime, err := parseStat(data)
	if err != nil {
		return procStat{}, fmt.Errorf("lifecycle: process identity of pid %d: %w", pid, err)
	}
	return procStat{identity: "linux:" + boot + ":" + starttime, state: state, ppid: ppid}, nil
}
