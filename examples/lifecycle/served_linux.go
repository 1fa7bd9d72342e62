//go:build linux

package lifecycle

import (
	"bufio"
	"bytes"
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
	"time"
)

// servedBy reports whether the far end of conn, a TCP connection this
// process dialled, is a socket that process pr holds: nil if it is,
// errOtherProcess if another process holds it, errNotServed if no process
// has accepted it yet.
//
// The kernel lists every TCP socket of this network namespace in
// /proc/net/tcp and /proc/net/tcp6, with the inode of its socket file: the
// server's end of conn is the one whose local address is conn's remote
// address, and whose remote address is conn's local one. pr holds it if
// one of the links in /proc/<pid>/fd names "socket:[inode]", and pr's
// identity is the same after the look as before. A connection that the
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
		inode, err := serverSocket(server, client)
		if err != nil {
			return err
		}
		if inode != "" {
			held, err := holds(pr.pid, "socket:["+inode+"]")
			if err != nil {
				return err
			}
			if err := pr.check(); err != nil { // the fds read were pr's
				return err
			}
			if held {
				return nil
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

// serverSocket returns the inode of the socket whose local address is
// server and whose remote address is client, or "" when there is none, or
// it has no inode yet (not accepted).
func serverSocket(server, client netip.AddrPort) (string, error) {
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		inode, err := findSocket(name, server, client)
		if err != nil || inode != "" {
			return inode, err
		}
	}
	return "", nil
}

// findSocket looks for the socket from local to remote in name, a
// /proc/net/tcp or tcp6 file.
func findSocket(name string, local, remote netip.AddrPort) (string, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) { // no IPv6 in this kernel
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Scan() // the header
	for sc.Scan() {
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
// target, such as "socket:[12345]".
func holds(pid uint32, target string) (bool, error) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if link, err := os.Readlink(dir + "/" + e.Name()); err == nil && link == target {
			return true, nil
		}
	}
	return false, nil
}
