//go:build linux

package lifecycle

import (
	"bufio"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// servedBy reports whether the far end of conn, a TCP connection this
// process dialled, is a socket that process pr, or a descendant of pr,
// holds: nil if it is, errOtherProcess if another process holds it,
// errNotServed if no process has accepted it yet, an error wrapping
// ErrCannotVouch if the file descriptors cannot be read.
//
// The server's end of conn is the socket whose local address is conn's
// remote address, and whose remote address is conn's local one; the kernel
// finds it, with its inode, through sock_diag (see diagSocket), or where
// that is unavailable in /proc/net/tcp and /proc/net/tcp6. pr holds it if
// one of the links in /proc/<pid>/fd names "socket:[inode]" (see holds,
// which reads the descendants' tables too), and pr is the same running
// process after the look as before. A connection that the server has not
// accept()ed yet has no inode; servedBy waits for it until ctx ends, or a
// second has passed. One that the server is handing to a worker is in no
// table for a moment: servedBy looks again for handOffWait, so another
// process's socket is reported that much later.
func servedBy(ctx context.Context, conn net.Conn, pr *proc) error {
	client, err1 := netip.ParseAddrPort(conn.LocalAddr().String())
	server, err2 := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("%w: %w", errNotServed, err)
	}
	wait := time.Millisecond
	deadline := time.Now().Add(time.Second)
	var handOff time.Time // until when a socket in no table of pr's may be on its way to a worker
	for {
		if err := pr.check(); err != nil {
			return err
		}
		inode, err := socketInode(ctx, server, client)
		if err != nil {
			return err
		}
		if inode != "" {
			held, err := holds(ctx, pr.pid, "socket:["+inode+"]")
			if err != nil {
				return err
			}
			if err := pr.check(); err != nil { // the fds read were pr's
				return err
			}
			if held {
				return nil
			}
			// Not among the descriptors of pr and its descendants: another
			// process holds it, or pr closed it meanwhile (its server timed
			// out waiting for a request that waits for this check), or it
			// is on its way from pr to a worker (sent over a Unix socket,
			// it is in no process's table until the worker receives it).
			// Only a socket that is still there, and in no table of pr's
			// until the deadline, is another process's.
			if again, err := socketInode(ctx, server, client); err != nil {
				return err
			} else if again != inode {
				return fmt.Errorf("%w: the server closed the connection to %s before it could be checked", errNotServed, server)
			}
			if handOff.IsZero() {
				handOff = time.Now().Add(handOffWait)
			}
			if now := time.Now(); now.After(handOff) || now.After(deadline) {
				return fmt.Errorf("%w on %s", errOtherProcess, server)
			}
		} else if time.Now().After(deadline) {
			return fmt.Errorf("%w: no process accepted the connection to %s", errNotServed, server)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// handOffWait is how long servedBy looks again for a socket that is in
// no table of the daemon's: one that the daemon accepted and is sending
// to a worker over a Unix socket is in none until the worker receives it,
// which takes microseconds on an idle machine. It is shorter than the
// one-second header timeout of a typical server (net/http's
// ReadHeaderTimeout as the test daemon sets it), which would close the
// connection of another process that holds it before servedBy could say
// so.
const handOffWait = 250 * time.Millisecond

// socketInode returns the inode of the server's end of a TCP connection
// whose other end, client, is a socket of this process, or "" when there
// is none, or it has no inode yet (not accepted). It asks sock_diag, and
// reads /proc/net/tcp{,6} only where sock_diag is unavailable. Benchmarks
// replace it with procSocketInode, to compare.
var socketInode = func(ctx context.Context, server, client netip.AddrPort) (string, error) {
	inode, err := diagSocket(ctx, server, client)
	if errors.Is(err, errNetlinkUnavailable) {
		return procSocketInode(ctx, server, client)
	}
	return inode, err
}

// procSocketInode is socketInode by /proc/net/tcp and /proc/net/tcp6,
// which list every TCP socket of this network namespace: its cost grows
// with their number.
func procSocketInode(ctx context.Context, local, remote netip.AddrPort) (string, error) {
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		inode, err := findSocket(ctx, name, local, remote)
		if err != nil || inode != "" {
			return inode, err
		}
	}
	return "", nil
}

// findSocket looks for the socket from local to remote in name, a
// /proc/net/tcp or tcp6 file, and stops when ctx ends.
func findSocket(ctx context.Context, name string, local, remote netip.AddrPort) (string, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) { // no IPv6 in this kernel
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for n := 0; sc.Scan(); n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return "", err
			}
		}
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		l, err1 := parseProcAddr(f[1])
		r, err2 := parseProcAddr(f[2])
		if err1 != nil || err2 != nil {
			return "", fmt.Errorf("lifecycle: %s: %q: %w", name, sc.Text(), errors.Join(err1, err2))
		}
		if sameAddrPort(l, local) && sameAddrPort(r, remote) {
			if f[9] == "0" {
				return "", nil // not accepted yet
			}
			return f[9], nil
		}
	}
	return "", sc.Err()
}

// parseProcAddr parses an address of /proc/net/tcp{,6}: the address in hex,
// in 32-bit words of host byte order, a colon, and the port in hex.
func parseProcAddr(s string) (netip.AddrPort, error) {
	addrHex, portHex, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(addrHex)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("malformed address %q", s)
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("malformed port in %q", s)
	}
	for i := 0; i < len(raw); i += 4 { // each word as the host stores it
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// sameAddrPort compares two socket addresses, an IPv4 address and the
// IPv4-mapped IPv6 one as equal (a dual-stack server socket lists the
// latter), and ignoring zones, which /proc/net/tcp6 does not list.
func sameAddrPort(a, b netip.AddrPort) bool {
	return a.Port() == b.Port() && a.Addr().Unmap().WithZone("") == b.Addr().Unmap().WithZone("")
}

// maxDescendants bounds the processes that holds looks at below the
// daemon: a fork-per-connection server under load has one per connection.
const maxDescendants = 4096

// holds reports whether process pid, or one of its descendants, has a file
// descriptor whose link reads target, such as "socket:[12345]". A daemon
// may hand the connections it accepts to workers it started (inetd, a
// fork-per-connection server, a prefork server, accepted sockets passed
// over a Unix socket with SCM_RIGHTS, unix(7)): those are the daemon's
// too. It reads pid's own table first (see processHolds), and only if
// target is not there, its descendants' (see descendantHolds). A table
// that cannot be read (a process that is not dumpable) is an error that
// wraps ErrCannotVouch.
func holds(ctx context.Context, pid uint32, target string) (bool, error) {
	held, err := processHolds(ctx, pid, func(link string) bool { return link == target })
	if held || err != nil {
		return held, err
	}
	return descendantHolds(ctx, pid, target)
}

// processHolds reports whether process pid has a file descriptor whose
// link match accepts. It reads /proc/<pid>/fd, the table of the
// thread-group leader. Once the leader has exited (a daemon whose main
// thread called exit(2)) that table is empty to root, and root's own to
// everyone else (proc(5): the leader has no mm, so the kernel's
// task_dump_owner gives the entry to root), so it then reads the tables
// of the process's other threads (/proc/<pid>/task/<tid>/fd), which
// share the process's files and belong to its user.
func processHolds(ctx context.Context, pid uint32, match func(string) bool) (bool, error) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	held, err := fdTableHolds(ctx, dir+"/fd", match)
	if held || (err != nil && !errors.Is(err, ErrCannotVouch)) {
		return held, err
	}
	// Not there, or not readable: the leader's table, or the leader's
	// alone?
	if st, serr := readStat(pid); serr != nil || !st.leaderExited() {
		if err == nil {
			err = serr
		}
		return false, err
	}
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		if task.Name() == strconv.FormatUint(uint64(pid), 10) {
			continue // the leader, which has exited
		}
		held, err := fdTableHolds(ctx, dir+"/task/"+task.Name()+"/fd", match)
		if errors.Is(err, os.ErrNotExist) { // the thread has exited
			continue
		}
		// The threads share one table: the first that can be read
		// answers.
		return held, err
	}
	return false, nil
}

// descendantHolds reports whether a descendant of process pid (a child,
// a child's child, ...) has a file descriptor whose link reads target. It
// finds them in /proc/<pid>/task/<tid>/children (proc(5): the children
// of each thread, in a kernel with CONFIG_PROC_CHILDREN). A descendant
// counts only if it is still the same process, a child of its parent,
// after its table was read (its identity, read before and after): a pid
// that a process exited from, and another took, does not. Where no
// descendant holds target but one could not be read, or the kernel does
// not list children, it returns an error that wraps ErrCannotVouch: the
// holder may be a process the daemon started.
func descendantHolds(ctx context.Context, pid uint32, target string) (bool, error) {
	var hidden error
	seen := map[uint32]bool{pid: true}
	for queue := []uint32{pid}; len(queue) > 0; queue = queue[1:] {
		parent := queue[0]
		kids, err := children(parent)
		if errors.Is(err, errNoChildrenFile) {
			return false, fmt.Errorf("%w: the socket is not the daemon's own, and %w", ErrCannotVouch, err)
		}
		if err != nil { // the parent has exited meanwhile
			continue
		}
		for _, kid := range kids {
			if seen[kid] {
				continue
			}
			seen[kid] = true
			if len(seen) > maxDescendants {
				return false, fmt.Errorf("%w: pid %d has more than %d descendants, and the socket is not among the first's", ErrCannotVouch, pid, maxDescendants)
			}
			before, err := readStat(kid)
			if err != nil || before.ppid != int(parent) {
				continue // gone, or no longer parent's child
			}
			held, err := processHolds(ctx, kid, func(link string) bool { return link == target })
			after, serr := readStat(kid)
			if serr != nil || after.identity != before.identity {
				continue // it exited during the read
			}
			switch {
			case ctx.Err() != nil:
				return false, ctx.Err()
			case errors.Is(err, ErrCannotVouch):
				hidden = cmp.Or(hidden, fmt.Errorf("descendant pid %d: %w", kid, err))
				continue
			case errors.Is(err, os.ErrNotExist):
				continue
			case err != nil:
				return false, err
			case held:
				return true, nil
			}
			queue = append(queue, kid)
		}
	}
	return false, hidden
}

// errNoChildrenFile says that the kernel does not list the children of a
// process.
var errNoChildrenFile = errors.New("this kernel does not list a process's children (/proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN), so its descendants cannot be found")

// children returns the pids of the children of process pid: those of each
// of its threads, from /proc/<pid>/task/<tid>/children.
func children(pid uint32) ([]uint32, error) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var kids []uint32
	for _, task := range tasks {
		b, err := os.ReadFile(dir + "/" + task.Name() + "/children")
		if errors.Is(err, os.ErrNotExist) {
			if _, serr := os.Stat(dir + "/" + task.Name()); serr == nil {
				return nil, errNoChildrenFile // the thread is there, its file is not
			}
			continue // the thread has exited
		}
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.ParseUint(f, 10, 32); err == nil {
				kids = append(kids, uint32(n))
			}
		}
	}
	return kids, nil
}

// fdsReadable reports whether this process may read the file descriptors
// of process pid (see processHolds): nil if it may, or if pid has none to
// show; an error that wraps ErrCannotVouch if the kernel refuses.
func fdsReadable(pid uint32) error {
	_, err := processHolds(context.Background(), pid, func(string) bool { return true })
	if errors.Is(err, ErrCannotVouch) {
		return err
	}
	return nil
}

// hiddenFDs is the error for the file descriptor table dir (of
// /proc/<pid>) that this process may not read, err. It says why: proc(5)
// gives the files of a process that is not dumpable to root, and those of
// another user's process to that user.
func hiddenFDs(dir string, err error) error {
	why := "the process is not dumpable: it called prctl(PR_SET_DUMPABLE, 0), or runs a setuid or file-capability binary"
	var st syscall.Stat_t
	if serr := syscall.Stat(dir, &st); serr == nil && st.Uid != 0 && int(st.Uid) != os.Geteuid() {
		why = fmt.Sprintf("the process runs as uid %d, and this one as uid %d", st.Uid, os.Geteuid())
	}
	return fmt.Errorf("%w: %w (%s; only a keeper with CAP_SYS_PTRACE, such as root, may read its file descriptors, and prove that it is the one that answers)", ErrCannotVouch, err, why)
}

// fdTableHolds reports whether the fd directory dir has a link that match
// accepts.
func fdTableHolds(ctx context.Context, dir string, match func(string) bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrPermission) {
		return false, hiddenFDs(dir, err)
	}
	if err != nil {
		return false, err
	}
	for i, e := range entries {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		link, err := os.Readlink(dir + "/" + e.Name())
		if errors.Is(err, os.ErrPermission) { // it became non-dumpable meanwhile
			return false, hiddenFDs(dir, err)
		}
		if err == nil && match(link) {
			return true, nil
		}
	}
	return false, nil
}
