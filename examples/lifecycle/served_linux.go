//go:build linux

package lifecycle

import (
	"bufio"
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
// process dialled, is a socket that process pr holds: nil if it is,
// errOtherProcess if another process holds it, errNotServed if no process
// has accepted it yet, an error wrapping ErrCannotVouch if pr's file
// descriptors cannot be read.
//
// The server's end of conn is the socket whose local address is conn's
// remote address, and whose remote address is conn's local one; the kernel
// finds it, with its inode, through sock_diag (see diagSocket), or where
// that is unavailable in /proc/net/tcp and /proc/net/tcp6. pr holds it if
// one of the links in /proc/<pid>/fd names "socket:[inode]", and pr is the
// same running process after the look as before. A connection that the
// server has not accept()ed yet has no inode; servedBy waits for it until
// ctx ends, or a second has passed.
func servedBy(ctx context.Context, conn net.Conn, pr *proc) error {
	client, err1 := netip.ParseAddrPort(conn.LocalAddr().String())
	server, err2 := netip.ParseAddrPort(conn.RemoteAddr().String())
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("%w: %w", errNotServed, err)
	}
	wait := time.Millisecond
	deadline := time.Now().Add(time.Second)
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
			// Not among pr's descriptors: another process holds it, or pr
			// closed it meanwhile (its server timed out waiting for a
			// request that waits for this check). Only a socket that is
			// still there is another process's.
			if again, err := socketInode(ctx, server, client); err != nil {
				return err
			} else if again != inode {
				return fmt.Errorf("%w: the server closed the connection to %s before it could be checked", errNotServed, server)
			}
			return fmt.Errorf("%w on %s", errOtherProcess, server)
		}
		if time.Now().After(deadline) {
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

// holds reports whether process pid has a file descriptor whose link reads
// target, such as "socket:[12345]". It reads /proc/<pid>/fd, the table of
// the thread-group leader; once the leader has exited (a daemon whose main
// thread called exit(2)) that table is gone, and it reads the tables of
// the process's other threads (/proc/<pid>/task/<tid>/fd), which hold the
// process's files. A table that cannot be read (the process is not
// dumpable) is an error that wraps ErrCannotVouch.
func holds(ctx context.Context, pid uint32, target string) (bool, error) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	held, err := fdTableHolds(ctx, dir+"/fd", target)
	if held || err != nil {
		return held, err
	}
	if st, err := readStat(pid); err != nil || !st.leaderExited() {
		return false, err
	}
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		held, err := fdTableHolds(ctx, dir+"/task/"+task.Name()+"/fd", target)
		if errors.Is(err, os.ErrNotExist) { // the thread has exited
			continue
		}
		if held || err != nil {
			return held, err
		}
	}
	return false, nil
}

// fdsReadable reports whether this process may read the file descriptors
// of process pid: nil if it may, or if pid has none to show; an error that
// wraps ErrCannotVouch if the kernel refuses.
func fdsReadable(pid uint32) error {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/fd"
	f, err := os.Open(dir)
	if err == nil {
		var names []string
		names, err = f.Readdirnames(1)
		f.Close()
		if len(names) == 1 {
			_, err = os.Readlink(dir + "/" + names[0])
		}
	}
	if errors.Is(err, os.ErrPermission) {
		return hiddenFDs(dir, err)
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

// fdTableHolds reports whether the fd directory dir has a link that reads
// target.
func fdTableHolds(ctx context.Context, dir, target string) (bool, error) {
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
		if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == target {
			return true, nil
		}
	}
	return false, nil
}
