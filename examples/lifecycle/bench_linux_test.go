//go:build linux

// What Ensure and Stop cost as the machine's TCP sockets grow, with the
// socket lookup through sock_diag (the package's) and through a scan of
// /proc/net/tcp{,6} (the fallback, and the lookup before sock_diag).
//
// make benchlifecycle runs it. Helper processes hold loopback connections
// (two sockets each) spread over 127.x.y.z source addresses, so that no
// address runs out of ephemeral ports, each up to 100,000 sockets or the
// hard limit of RLIMIT_NOFILE (which they raise where they may). 500k sockets take about 2 GiB of
// kernel memory. The socket counts come from LIFECYCLE_BENCH_SOCKETS
// (default "0,100000,500000").

package lifecycle

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

// socketsPerHelper is how many sockets one helper process holds at most:
// 100,000, or fewer where the hard limit of RLIMIT_NOFILE is lower and
// cannot be raised (without CAP_SYS_RESOURCE).
func socketsPerHelper() int {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return 1000
	}
	n := 100_000
	if raise := (syscall.Rlimit{Cur: uint64(n + 64), Max: max(limit.Max, uint64(n+64))}); limit.Max < raise.Max {
		// Whether this process may raise it: then so may its helpers.
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raise); err != nil {
			n = int(limit.Max) - 64
		}
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit)
	}
	return n &^ 1
}

// connsPerSource is how many connections a helper makes from one source
// address, below the 28,232 ports of the default ephemeral range.
const connsPerSource = 20_000

// holdSockets is the helper process of the benchmark (LIFECYCLE_TEST_SOCKETS
// is n, LIFECYCLE_TEST_NET the second byte of its addresses): it makes n/2
// loopback connections to a listener of its own on 127.<net>.0.1, holds
// both ends, writes "holding N", and exits when its stdin closes. Each
// socket lingers 0 s: its close sends a reset, and leaves nothing in
// TIME_WAIT behind.
func holdSockets(n, net2 int) error {
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return err
	}
	limit.Cur = uint64(n + 64)
	limit.Max = max(limit.Max, limit.Cur) // above the hard limit: CAP_SYS_RESOURCE
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &limit); err != nil {
		return fmt.Errorf("RLIMIT_NOFILE %d: %w", limit.Cur, err)
	}
	linger := &syscall.Linger{Onoff: 1, Linger: 0}
	ls, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	server := &syscall.SockaddrInet4{Addr: [4]byte{127, byte(net2), 0, 1}}
	if err := syscall.Bind(ls, server); err != nil {
		return err
	}
	if err := syscall.Listen(ls, 4096); err != nil {
		return err
	}
	sa, err := syscall.Getsockname(ls)
	if err != nil {
		return err
	}
	server.Port = sa.(*syscall.SockaddrInet4).Port
	const ipBindAddressNoPort = 24 // IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect, by the whole 4-tuple
	for i := range n / 2 {
		k := i / connsPerSource
		c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := syscall.SetsockoptInt(c, syscall.IPPROTO_IP, ipBindAddressNoPort, 1); err != nil {
			return err
		}
		if err := syscall.Bind(c, &syscall.SockaddrInet4{Addr: [4]byte{127, byte(net2), byte(1 + k/250), byte(1 + k%250)}}); err != nil {
			return err
		}
		if err := syscall.Connect(c, server); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		a, _, err := syscall.Accept4(ls, syscall.SOCK_CLOEXEC)
		if err != nil {
			return err
		}
		for _, fd := range []int{c, a} {
			if err := syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, linger); err != nil {
				return err
			}
		}
	}
	fmt.Printf("holding %d\n", n/2*2)
	buf := make([]byte, 1)
	_, _ = os.Stdin.Read(buf)
	return nil
}

// benchLevels returns the socket counts to measure at.
func benchLevels(b *testing.B) []int {
	spec := os.Getenv("LIFECYCLE_BENCH_SOCKETS")
	if spec == "" {
		spec = "0,100000,500000"
	}
	var levels []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			b.Fatalf("LIFECYCLE_BENCH_SOCKETS=%q: want counts such as 0,100000,500000", spec)
		}
		levels = append(levels, n)
	}
	return levels
}

// countSockets counts the TCP sockets of this network namespace: the
// lines of /proc/net/tcp and /proc/net/tcp6, less their headers.
func countSockets() int {
	total := 0
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		buf := make([]byte, 1<<20)
		lines := 0
		for {
			n, err := f.Read(buf)
			lines += strings.Count(string(buf[:n]), "\n")
			if err != nil {
				break
			}
		}
		f.Close()
		total += max(lines-1, 0)
	}
	return total
}

func BenchmarkLifecycle(b *testing.B) {
	held, helpers, perHelper := 0, 0, socketsPerHelper()
	for _, level := range benchLevels(b) {
		// Helpers, in parallel, until level sockets are held.
		var starting []*daemon
		for ; held < level; helpers++ {
			n := min(perHelper, level-held)
			net2 := 10 + helpers
			h, err := spawnHelper(b, true, "LIFECYCLE_TEST_SOCKETS="+strconv.Itoa(n), "LIFECYCLE_TEST_NET="+strconv.Itoa(net2))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.stdin.Close(); _ = h.cmd.Process.Kill() })
			starting = append(starting, h)
			held += n
		}
		for _, h := range starting {
			deadline := time.Now().Add(5 * time.Minute)
			for !strings.Contains(h.out.String(), "holding ") {
				select {
				case <-h.exited:
					b.Fatalf("a helper failed to hold its sockets: %v", h.state)
				case <-time.After(50 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					b.Fatal("a helper took over 5 minutes")
				}
			}
		}
		sockets := countSockets()
		b.Run(fmt.Sprintf("sockets=%d", level), func(b *testing.B) {
			for _, lookup := range []struct {
				name string
				f    func(context.Context, netip.AddrPort, netip.AddrPort) (string, error)
			}{{"sock_diag", socketInode}, {"proc", procSocketInode}} {
				b.Run("lookup="+lookup.name, func(b *testing.B) {
					real := socketInode
					socketInode = lookup.f
					defer func() { socketInode = real }()
					// Each result carries the TCP sockets counted on the
					// machine (other processes' included) before the level's
					// runs began.
					b.Run("op=Ensure", func(b *testing.B) { benchEnsureStop(b, true); b.ReportMetric(float64(sockets), "sockets") })
					b.Run("op=Stop", func(b *testing.B) { benchEnsureStop(b, false); b.ReportMetric(float64(sockets), "sockets") })
					b.Run("op=lookup", func(b *testing.B) { benchLookup(b); b.ReportMetric(float64(sockets), "sockets") })
				})
			}
		})
	}
}

// benchEnsureStop times Ensure (ensure true) or Stop of the helper daemon
// on a fresh port, and does the other untimed.
func benchEnsureStop(b *testing.B, ensure bool) {
	for range b.N {
		b.StopTimer()
		addr := freeAddr(b)
		start, started := starter(b, "serve", addr)
		cfg := config(addr, new("/v1/shutdown"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if ensure {
			b.StartTimer()
		}
		h, err := Ensure(ctx, cfg, start)
		if ensure {
			b.StopTimer()
		}
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		pid, _ := h.PID()
		if !ensure {
			b.StartTimer()
		}
		how, err := Stop(context.Background(), h, daemoncontract.NewShutdownConfig(cfg.DaemonName, pid), cfg)
		if !ensure {
			b.StopTimer()
		}
		if err != nil || how != StoppedGracefully {
			b.Fatalf("Stop: %v, %v", how, err)
		}
		<-(*started).exited
	}
}

// benchLookup times socketInode for the server's end of a loopback
// connection that has been accepted.
func benchLookup(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	defer (<-accepted).Close()
	client := netip.MustParseAddrPort(conn.LocalAddr().String())
	server := netip.MustParseAddrPort(conn.RemoteAddr().String())
	for b.Loop() {
		if inode, err := socketInode(context.Background(), server, client); err != nil || inode == "" {
			b.Fatalf("no inode: %v", err)
		}
	}
}
