//go:build linux

// A request meant for the daemon reaches only the daemon's own process.

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract/internal/testenv"
)

// squat starts another process's server on addr, in the test process, that
// answers 200 to everything; it stops when the test ends.
func squat(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
}

func TestEnsureRefusesASquatter(t *testing.T) {
	// A health check that passes does not prove that the answer came from
	// our process. Here another process takes the address after Ensure
	// found nothing there, and before its child listens: the child cannot
	// listen, and exits, and the other process answers 200. Ensure
	// returned a started_by_us handle for it; now it is an error, and no
	// handle.
	addr := freeAddr(t)
	var child *daemon
	start := func(context.Context) (uint32, error) {
		squat(t, addr)
		d, err := startDaemon(t, "serve", addr)
		if err != nil {
			return 0, err
		}
		child = d
		return d.pid(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := Ensure(ctx, config(addr, new("/v1/shutdown")), start)
	require.Error(t, err, "got handle %v", h)
	assert.False(t, h.ShouldCleanup(), "never a started_by_us handle")
	// Whether the squatter's answer comes before or after the child gives
	// up, the error says that another process answers, or that the child
	// exited.
	if !errors.Is(err, ErrOtherProcess) {
		assert.ErrorIs(t, err, ErrNotHealthy)
		assert.ErrorContains(t, err, "exited before it answered")
	}
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, child)
	assert.True(t, child.gone(5*time.Second))
}

func TestStopPostsOnlyToItsOwnProcess(t *testing.T) {
	// Stop POSTed the shutdown request to whatever served
	// the URL, so another process on the same address (while ours still
	// ran) exited, and ours was SIGKILLed. The POST now goes only over a
	// connection that the daemon's own process accepted; here another
	// process serves the address, so Stop sends SIGTERM to ours instead.
	d, cfg, h := ensureDaemon(t, "serve", new("/v1/shutdown"))
	var posts atomic.Int32
	served := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))

	// The handle and the config point at the other server's address, as a
	// rebinding of the daemon's host name would.
	moved := h.WithDiscoveredURL("http://" + served)
	cfg.HealthURL = "http://" + served + "/health"
	signals := countSignals(t)
	how, err := Stop(context.Background(), moved, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.Zero(t, posts.Load(), "the other server got no request")
	assert.Equal(t, 1, signals()[syscall.SIGTERM], "our daemon was asked with SIGTERM instead")
	assert.True(t, d.gone(5*time.Second))
}

func TestStopAsksNoStrangerOnADualStackName(t *testing.T) {
	// With the usual /etc/hosts, localhost is
	// both ::1 and 127.0.0.1. Our daemon listens on 127.0.0.1:P, another
	// process on [::1]:P; Go dials ::1 first, and the other process got our
	// shutdown request and exited. The test runs in a mount namespace of
	// its own, where /etc/hosts says that.
	if os.Getenv("LIFECYCLE_TEST_HOSTS") == "" {
		runWithDualStackHosts(t)
		return
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(context.Background(), "localhost")
	require.NoError(t, err)
	t.Logf("localhost is %v", addrs)
	port := portOfAddr(t, freeAddrOn(t, "127.0.0.1"))
	cfg := config("localhost:"+port, new("/v1/shutdown"))
	var ours *daemon
	h, err := Ensure(context.Background(), cfg, func(context.Context) (uint32, error) {
		var err error
		ours, err = startDaemon(t, "serve", "127.0.0.1:"+port)
		if err != nil {
			return 0, err
		}
		return ours.pid(), nil
	})
	require.NoError(t, err)
	theirs := startStranger(t, "serve", "[::1]:"+port)

	how, err := Stop(context.Background(), h, shutdownConfig(int(ours.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	assert.True(t, ours.gone(5*time.Second))
	assert.Empty(t, theirs.ended(300*time.Millisecond), "the other daemon, on [::1], still runs")
}

// runWithDualStackHosts runs TestStopAsksNoStrangerOnADualStackName again in
// a new mount namespace whose /etc/hosts names localhost 127.0.0.1 and ::1.
func runWithDualStackHosts(t *testing.T) {
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		testenv.Skipf(t, "needs unshare (util-linux): %v", err)
	}
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		testenv.Skipf(t, "needs IPv6 on loopback: %v", err)
	} else {
		ln.Close()
	}
	hosts := filepath.Join(t.TempDir(), "hosts")
	require.NoError(t, os.WriteFile(hosts, []byte("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), 0o644))
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$LIFECYCLE_TEST_HOSTS" /etc/hosts && exec "$@"`, "sh",
		exe, "-test.run=^TestStopAsksNoStrangerOnADualStackName$", "-test.v", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), "LIFECYCLE_TEST_HOSTS="+hosts, "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	out, err := cmd.CombinedOutput()
	t.Logf("in a new mount namespace:\n%s", out)
	if err != nil && (strings.Contains(string(out), "unshare failed") || strings.Contains(string(out), "mount:")) {
		testenv.Skipf(t, "a mount namespace is not permitted here: %v", err)
	}
	require.NoError(t, err)
	require.Contains(t, string(out), "--- PASS: TestStopAsksNoStrangerOnADualStackName")
}

func TestEnsureRefusesAnAnswerFromAnotherProcess(t *testing.T) {
	// While our child ran without listening, another process's answer
	// made Ensure return a started_by_us handle. The health check now
	// counts only an answer from the child itself: Ensure kills its child,
	// and says why.
	addr := freeAddr(t)
	var child *daemon
	h, err := Ensure(context.Background(), config(addr, nil), func(context.Context) (uint32, error) {
		var err error
		child, err = startDaemon(t, "record", "") // runs, and listens nowhere
		if err != nil {
			return 0, err
		}
		squat(t, addr)
		return child.pid(), nil
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrOtherProcess)
	assert.ErrorContains(t, err, "another process answers")
	assert.ErrorContains(t, err, "was killed (SIGKILL)")
	assert.False(t, h.ShouldCleanup(), "no handle")
	require.True(t, child.gone(5*time.Second), "its own child was killed: it cannot serve there")
	assert.False(t, child.exitedByItself())
}

// acceptedPair makes a loopback connection to a listener on network and
// address, and returns the client's end, the server's accepted end, and
// the inode of the server's end as the kernel reports it (fstat(2)).
func acceptedPair(t *testing.T, network, address, dial string) (client, server net.Conn, inode string) {
	t.Helper()
	ln, err := net.Listen(network, address)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	client, err = net.Dial("tcp", net.JoinHostPort(dial, port))
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	raw, err := server.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var st syscall.Stat_t
	require.NoError(t, raw.Control(func(fd uintptr) { err = syscall.Fstat(int(fd), &st) }))
	require.NoError(t, err)
	return client, server, strconv.FormatUint(st.Ino, 10)
}

// ends returns the server's and the client's address of client's
// connection.
func ends(t *testing.T, client net.Conn) (server, local netip.AddrPort) {
	t.Helper()
	return netip.MustParseAddrPort(client.RemoteAddr().String()), netip.MustParseAddrPort(client.LocalAddr().String())
}

func TestSockDiagFindsTheServersSocket(t *testing.T) {
	// sock_diag(7), asked for one socket by its addresses, finds the
	// server's end of a connection: the socket whose inode the server's
	// descriptor has. So does the scan of /proc/net/tcp{,6}.
	tests := []struct{ name, network, listen, dial string }{
		{"IPv4", "tcp4", "127.0.0.1:0", "127.0.0.1"},
		{"IPv6", "tcp6", "[::1]:0", "::1"},
		{"IPv4 to a dual-stack listener", "tcp", ":0", "127.0.0.1"},
		{"IPv6 to a dual-stack listener", "tcp", ":0", "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.dial, ":") {
				if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
					testenv.Skipf(t, "needs IPv6 on loopback: %v", err)
				} else {
					ln.Close()
				}
			}
			client, _, want := acceptedPair(t, tt.network, tt.listen, tt.dial)
			server, local := ends(t, client)
			got, err := diagSocket(context.Background(), server, local)
			require.NoError(t, err)
			assert.Equal(t, want, got, "sock_diag")
			got, err = procSocketInode(context.Background(), server, local)
			require.NoError(t, err)
			assert.Equal(t, want, got, "/proc/net")
		})
	}
}

func TestSockDiagFindsNoSocketThatIsNotThere(t *testing.T) {
	// A connection not accept()ed yet has no inode; an address with no
	// connection has no socket, although a listener holds its port (the
	// kernel's lookup falls back to it, and the answer must not be taken).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String()) // never accepted
	require.NoError(t, err)
	defer client.Close()
	server, local := ends(t, client)
	for name, lookup := range map[string]func(context.Context, netip.AddrPort, netip.AddrPort) (string, error){
		"sock_diag": diagSocket, "/proc/net": procSocketInode,
	} {
		got, err := lookup(context.Background(), server, local)
		require.NoError(t, err, name)
		assert.Empty(t, got, "%s: not accepted", name)
	}
	stranger := netip.AddrPortFrom(local.Addr(), local.Port()+1)
	inode, found, err := diagLookup(context.Background(), server, stranger)
	require.NoError(t, err)
	assert.False(t, found, "sock_diag: no such connection, whatever listens on the port")
	assert.Empty(t, inode)
	got, err := procSocketInode(context.Background(), server, stranger)
	require.NoError(t, err)
	assert.Empty(t, got, "/proc/net: no such connection")
}

func TestSocketLookupFallsBackToProc(t *testing.T) {
	// Where sock_diag is unavailable, the lookup reads /proc/net: where
	// socket(2) of AF_NETLINK fails (as a seccomp filter makes it fail),
	// and where the kernel has no inet_diag, which answers ENOENT for every
	// socket, as it does for a socket that is not there (the lookup finds
	// that out by asking for this process's own end of the connection).
	tests := []struct {
		name        string
		unavailable func(t *testing.T)
	}{
		{"no AF_NETLINK", func(t *testing.T) {
			real := netlinkSocket
			netlinkSocket = func() (int, error) { return -1, syscall.EAFNOSUPPORT }
			t.Cleanup(func() { netlinkSocket = real })
		}},
		{"no inet_diag", func(t *testing.T) {
			real := lookupOne
			lookupOne = func(context.Context, netip.AddrPort, netip.AddrPort) (string, bool, error) { return "", false, nil }
			t.Cleanup(func() { lookupOne = real })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, _, want := acceptedPair(t, "tcp4", "127.0.0.1:0", "127.0.0.1")
			server, local := ends(t, client)
			tt.unavailable(t)
			_, err := diagSocket(context.Background(), server, local)
			require.ErrorIs(t, err, errNetlinkUnavailable)
			got, err := socketInode(context.Background(), server, local)
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

func TestSocketLookupsStopWhenTheContextEnds(t *testing.T) {
	client, _, _ := acceptedPair(t, "tcp4", "127.0.0.1:0", "127.0.0.1")
	server, local := ends(t, client)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	for name, lookup := range map[string]func(context.Context, netip.AddrPort, netip.AddrPort) (string, error){
		"sock_diag": diagSocket, "/proc/net": procSocketInode,
	} {
		_, err := lookup(done, server, local)
		assert.ErrorIs(t, err, context.Canceled, name)
	}
	_, err := holds(done, uint32(os.Getpid()), "socket:[1]")
	assert.ErrorIs(t, err, context.Canceled, "the fd tables too")
}

func TestEnsureVouchesForADualStackListener(t *testing.T) {
	// A daemon that listens on [::]:port, reached at 127.0.0.1: its
	// accepted socket is an IPv6 socket with IPv4-mapped addresses.
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		testenv.Skipf(t, "needs IPv6 on loopback: %v", err)
	} else {
		ln.Close()
	}
	addr := freeAddr(t)
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	start, started := starter(t, "serve", ":"+port)
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	d := *started
	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how)
	require.True(t, d.gone(5*time.Second))
	assert.True(t, d.exitedByItself(), "asked over HTTP, on its own connection")
}

func TestServedBySaysNotServedWhenTheServerClosed(t *testing.T) {
	// A server that closes the connection while the check runs (its
	// header timeout fired: under load, the /proc scan took longer) no
	// longer holds the socket; that does not make another process the
	// server. The check says "not served", and the health check is tried
	// again, where it said "another process answers", and Ensure gave up.
	client, server, _ := acceptedPair(t, "tcp4", "127.0.0.1:0", "127.0.0.1")
	_, pr := runningProc(t) // a process that holds neither end

	real := socketInode
	var calls int
	socketInode = func(ctx context.Context, s, c netip.AddrPort) (string, error) {
		if calls++; calls == 2 { // after the first look: the server closes
			server.Close()
			require.Eventually(t, func() bool { inode, _ := real(ctx, s, c); return inode == "" }, 5*time.Second, time.Millisecond)
		}
		return real(ctx, s, c)
	}
	t.Cleanup(func() { socketInode = real })
	err := servedBy(context.Background(), client, pr)
	assert.ErrorIs(t, err, errNotServed)
	assert.NotErrorIs(t, err, errOtherProcess)
	assert.ErrorContains(t, err, "closed the connection")
	assert.Equal(t, 2, calls)
}

// runHandoff is the helper daemon in the modes handoff and
// handoff-worker: a daemon that accepts connections and hands each to a
// worker process it started, as inetd, a fork-per-connection server
// (Python's socketserver.ForkingMixIn, many C daemons) or a server that
// passes accepted sockets to its workers does. The daemon (handoff)
// listens on addr, starts the worker with one end of a Unix socket pair as
// its fd 3, and sends it each accepted connection (SCM_RIGHTS, unix(7)),
// closing its own copy. The worker (handoff-worker) serves HTTP, as the
// mode serve does, on the connections it receives.
func runHandoff(mode, addr string, say func(string)) int {
	if mode == "handoff-worker" {
		uc, err := net.FileConn(os.NewFile(3, "handoff"))
		if err != nil {
			return 5
		}
		ln := &handedListener{uc: uc.(*net.UnixConn), conns: make(chan net.Conn)}
		go ln.receive()
		mux := http.NewServeMux()
		mux.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {})
		_ = (&http.Server{Handler: mux, ReadHeaderTimeout: time.Second}).Serve(ln)
		return 0
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return 2
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return 5
	}
	exe, err := os.Executable()
	if err != nil {
		return 5
	}
	worker := exec.Command(exe)
	worker.Env = append(os.Environ(), "LIFECYCLE_TEST_DAEMON=handoff-worker")
	worker.ExtraFiles = []*os.File{os.NewFile(uintptr(fds[1]), "handoff")}
	worker.Stdout, worker.Stderr = os.Stdout, os.Stderr
	if err := worker.Start(); err != nil {
		return 5
	}
	syscall.Close(fds[1])
	go func() { _ = worker.Wait() }()
	say("ready")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f, err := conn.(*net.TCPConn).File()
			conn.Close()
			if err != nil {
				continue
			}
			_ = syscall.Sendmsg(fds[0], []byte{0}, syscall.UnixRights(int(f.Fd())), nil, 0)
			f.Close()
		}
	}()
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = worker.Process.Kill()
	return 0
}

// handedListener is a net.Listener of the connections that arrive as file
// descriptors on a Unix socket.
type handedListener struct {
	uc    *net.UnixConn
	conns chan net.Conn
}

func (l *handedListener) receive() {
	defer close(l.conns)
	for {
		b, oob := make([]byte, 1), make([]byte, syscall.CmsgSpace(4))
		_, oobn, _, _, err := l.uc.ReadMsgUnix(b, oob)
		if err != nil {
			return
		}
		msgs, _ := syscall.ParseSocketControlMessage(oob[:oobn])
		for _, m := range msgs {
			fds, _ := syscall.ParseUnixRights(&m)
			for _, fd := range fds {
				f := os.NewFile(uintptr(fd), "conn")
				if c, err := net.FileConn(f); err == nil {
					l.conns <- c
				}
				f.Close()
			}
		}
	}
}

func (l *handedListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}

func (l *handedListener) Close() error   { return l.uc.Close() }
func (l *handedListener) Addr() net.Addr { return l.uc.LocalAddr() }

func TestEnsureKillsNoHealthyDaemonWhoseWorkerAnswers(t *testing.T) {
	// ErrOtherProcess says "another process answers at the daemon's
	// health address ... The address is taken: the daemon Ensure started
	// could not listen there". A daemon that listens there itself,
	// accepts each connection and hands it to a worker process of its own
	// (inetd, fork per connection, passing accepted sockets to workers)
	// got that error, and Ensure killed it (SIGKILL): its health check
	// does pass, through its own worker, but the daemon's process no
	// longer holds the socket when Ensure looks. Whether Ensure vouches
	// for it or says it cannot (ErrCannotVouch, leaving it running), it
	// must not call it another process's address and kill it.
	addr := freeAddr(t)
	start, started := starter(t, "handoff", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := Ensure(ctx, config(addr, nil), start)
	require.NotNil(t, *started)
	d := *started
	assert.NotErrorIs(t, err, ErrOtherProcess, "the daemon itself listens there")
	assert.NotContains(t, fmt.Sprint(err), "was killed")
	assert.False(t, d.gone(300*time.Millisecond), "the daemon is not killed: %v, handle %v", err, h)
}

func TestEnsureVouchesForADaemonWhoseWorkerAnswers(t *testing.T) {
	// The fix chosen for the test above: a process that the daemon started
	// (its descendant) is the daemon, so Ensure vouches for a daemon whose
	// worker holds the accepted connection, and Stop stops it.
	addr := freeAddr(t)
	start, started := starter(t, "handoff", addr)
	cfg := config(addr, new("/v1/shutdown"))
	h, err := Ensure(context.Background(), cfg, start)
	require.NoError(t, err)
	assert.True(t, h.ShouldCleanup())
	d := *started

	how, err := Stop(context.Background(), h, shutdownConfig(int(d.pid()), 5), cfg)
	require.NoError(t, err)
	assert.Equal(t, StoppedGracefully, how, "the worker does not serve the shutdown endpoint: SIGTERM")
	assert.True(t, d.gone(5*time.Second))
}
