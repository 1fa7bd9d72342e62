//go:build linux

package lifecycle

// Finding one TCP socket through sock_diag(7), as ss(8) does, on package
// syscall.
//
// A SOCK_DIAG_BY_FAMILY request without NLM_F_DUMP that carries a socket's
// exact id (local address and port, remote address and port) asks the
// kernel for that one socket: inet_diag looks it up in the kernel's hash
// tables (inet_diag_find_one_icsk), so the answer costs the same however
// many sockets the machine has. /proc/net/tcp and tcp6, the fallback,
// list every socket of the network namespace.
//
// The layouts are the kernel's uapi: include/uapi/linux/netlink.h (struct
// nlmsghdr, struct nlmsgerr), sock_diag.h (SOCK_DIAG_BY_FAMILY) and
// inet_diag.h (struct inet_diag_req_v2, inet_diag_sockid, inet_diag_msg).
// Ports and addresses are in network byte order; every other field is in
// the host's.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"
)

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	inetDiagNoCookie = ^uint32(0)
	tcpListen        = 10 // TCP_LISTEN, include/net/tcp_states.h

	sizeofNlMsghdr = syscall.SizeofNlMsghdr // 16
	sizeofSockID   = 48                     // inet_diag_sockid
	sizeofReqV2    = 8 + sizeofSockID       // inet_diag_req_v2
	sizeofDiagMsg  = 4 + sizeofSockID + 20  // inet_diag_msg
	diagSeq        = 1
)

// errNetlinkUnavailable says that sock_diag cannot answer here: no
// AF_NETLINK (a seccomp filter, an LSM), or no inet_diag in the kernel.
var errNetlinkUnavailable = errors.New("sock_diag over netlink is unavailable")

// netlinkSocket opens a NETLINK_SOCK_DIAG socket (NETLINK_INET_DIAG is its
// older name). Tests replace it, to make sock_diag unavailable.
var netlinkSocket = func() (int, error) {
	return syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.NETLINK_INET_DIAG)
}

// diagSocket returns the inode of the server's end of a TCP connection
// whose other end, client, is a socket of this process: the socket whose
// local address is server and whose remote address is client. It asks the
// kernel through sock_diag, and returns "" when there is no such socket
// (the server is on another machine), or it has not been accept()ed yet
// (no inode). It returns errNetlinkUnavailable (wrapped) where sock_diag
// cannot answer, and ctx's error once ctx has ended.
func diagSocket(ctx context.Context, server, client netip.AddrPort) (string, error) {
	inode, found, err := lookupOne(ctx, server, client)
	if err != nil || found {
		return inode, err
	}
	// No such socket, or no inet_diag to find it: the kernel says ENOENT
	// for both. This process's own end of the connection exists; if
	// sock_diag cannot find that either, it cannot find anything.
	if _, found, err := lookupOne(ctx, client, server); err != nil {
		return "", err
	} else if !found {
		return "", fmt.Errorf("%w: it does not find this process's own socket %s -> %s", errNetlinkUnavailable, client, server)
	}
	return "", nil
}

// lookupOne is diagLookup; tests replace it, to make a kernel without
// inet_diag.
var lookupOne = diagLookup

// diagLookup asks for the socket from local to remote. found is false
// when the kernel has no such socket; inode is "" when it has one without
// an inode (not accepted yet, or in TIME_WAIT).
func diagLookup(ctx context.Context, local, remote netip.AddrPort) (inode string, found bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	fd, err := netlinkSocket()
	if err != nil {
		return "", false, fmt.Errorf("%w: %w", errNetlinkUnavailable, os.NewSyscallError("socket", err))
	}
	defer syscall.Close(fd)
	// The kernel answers within the send, so the receive does not wait;
	// it is bounded all the same, by ctx's deadline and a second.
	wait := time.Second
	if deadline, ok := ctx.Deadline(); ok {
		wait = min(wait, max(time.Until(deadline), time.Millisecond))
	}
	tv := syscall.NsecToTimeval(wait.Nanoseconds())
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return "", false, os.NewSyscallError("setsockopt", err)
	}
	if err := syscall.Sendto(fd, diagRequest(local, remote), 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return "", false, fmt.Errorf("%w: %w", errNetlinkUnavailable, os.NewSyscallError("sendto", err))
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN):
			if err := ctx.Err(); err != nil {
				return "", false, err
			}
			return "", false, fmt.Errorf("sock_diag: no answer within %v", wait)
		case err != nil:
			return "", false, os.NewSyscallError("recvfrom", err)
		}
		inode, found, done, err := parseDiagReply(buf[:n], local, remote)
		if err != nil || done {
			return inode, found, err
		}
	}
}

// diagRequest builds a SOCK_DIAG_BY_FAMILY request for the TCP socket
// from local to remote: a struct nlmsghdr and a struct inet_diag_req_v2.
func diagRequest(local, remote netip.AddrPort) []byte {
	req := make([]byte, sizeofNlMsghdr+sizeofReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))      // nlmsg_len
	ne.PutUint16(req[4:], sockDiagByFamily)      // nlmsg_type
	ne.PutUint16(req[6:], syscall.NLM_F_REQUEST) // nlmsg_flags: no NLM_F_DUMP, one socket
	ne.PutUint32(req[8:], diagSeq)               // nlmsg_seq
	r := req[sizeofNlMsghdr:]
	family := byte(syscall.AF_INET6)
	if local.Addr().Unmap().Is4() && remote.Addr().Unmap().Is4() {
		family = syscall.AF_INET
	}
	r[0] = family                   // sdiag_family
	r[1] = syscall.IPPROTO_TCP      // sdiag_protocol
	ne.PutUint32(r[4:], ^uint32(0)) // idiag_states: all (a lookup by id ignores them)
	putSockID(r[8:], family, local, remote)
	return req
}

// putSockID writes a struct inet_diag_sockid.
func putSockID(id []byte, family byte, local, remote netip.AddrPort) {
	binary.BigEndian.PutUint16(id[0:], local.Port())  // idiag_sport
	binary.BigEndian.PutUint16(id[2:], remote.Port()) // idiag_dport
	putAddr(id[4:20], family, local.Addr())           // idiag_src
	putAddr(id[20:36], family, remote.Addr())         // idiag_dst
	binary.NativeEndian.PutUint32(id[36:], zoneIndex(local.Addr().Zone()))
	binary.NativeEndian.PutUint32(id[40:], inetDiagNoCookie) // idiag_cookie: any
	binary.NativeEndian.PutUint32(id[44:], inetDiagNoCookie)
}

// putAddr writes an address of family into a 16-byte field: an IPv4
// address in its first four bytes.
func putAddr(dst []byte, family byte, a netip.Addr) {
	if family == syscall.AF_INET {
		b := a.Unmap().As4()
		copy(dst, b[:])
		return
	}
	b := a.As16()
	copy(dst, b[:])
}

// zoneIndex is the interface index of an IPv6 zone ("eth0" or "2"), or 0.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n)
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	return 0
}

// parseDiagReply reads the netlink messages in b, the answer to
// diagRequest(local, remote). done is true once the answer is complete.
func parseDiagReply(b []byte, local, remote netip.AddrPort) (inode string, found, done bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= sizeofNlMsghdr {
		size := int(ne.Uint32(b[0:]))
		if size < sizeofNlMsghdr || size > len(b) {
			return "", false, true, fmt.Errorf("sock_diag: malformed answer (a message of %d bytes in %d)", size, len(b))
		}
		typ, seq, body := ne.Uint16(b[4:]), ne.Uint32(b[8:]), b[sizeofNlMsghdr:size]
		b = b[min((size+3)&^3, len(b)):] // NLMSG_ALIGN
		if seq != diagSeq {
			continue
		}
		switch typ {
		case syscall.NLMSG_DONE:
			return "", false, true, nil
		case syscall.NLMSG_ERROR:
			if len(body) < 4 {
				return "", false, true, errors.New("sock_diag: malformed error message")
			}
			switch errno := syscall.Errno(-int32(ne.Uint32(body))); errno {
			case 0: // an acknowledgement
				return "", false, true, nil
			case syscall.ENOENT:
				return "", false, true, nil
			default:
				return "", false, true, os.NewSyscallError("sock_diag", errno)
			}
		case sockDiagByFamily:
			if len(body) < sizeofDiagMsg {
				return "", false, true, fmt.Errorf("sock_diag: malformed inet_diag_msg (%d bytes)", len(body))
			}
			state := body[1]
			id := body[4 : 4+sizeofSockID]
			family := body[0]
			gotLocal := sockAddr(family, id[4:20], binary.BigEndian.Uint16(id[0:]))
			gotRemote := sockAddr(family, id[20:36], binary.BigEndian.Uint16(id[2:]))
			// Without a connection of that id, the kernel's lookup falls
			// back to the listening socket on local's port: not the one.
			if state == tcpListen || !sameAddrPort(gotLocal, local) || !sameAddrPort(gotRemote, remote) {
				return "", false, true, nil
			}
			ino := ne.Uint32(body[4+sizeofSockID+16:]) // idiag_inode, after expires, rqueue, wqueue, uid
			if ino == 0 {
				return "", true, true, nil
			}
			return strconv.FormatUint(uint64(ino), 10), true, true, nil
		}
	}
	return "", false, false, nil
}

// sockAddr reads an address of family from a 16-byte field of
// inet_diag_sockid.
func sockAddr(family byte, b []byte, port uint16) netip.AddrPort {
	if family == syscall.AF_INET {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), port)
}
