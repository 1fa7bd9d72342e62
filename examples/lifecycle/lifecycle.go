// Package lifecycle is an example of code written against daemoncontract: a
// small reference lifecycle for HTTP daemons that starts a daemon when it is
// not running, checks it, and stops it only when this tool started it.
//
// It is an example of use, not part of the contract. It shows the contract's
// rules at work with real processes: decode, then Validate, then act, and
// never signal a process that the handle does not vouch for.
//
// # What it never signals
//
// Stop and Ensure send a signal (SIGTERM or SIGKILL: no other, and no
// signal 0 to probe, which the pidfd's readiness replaces) only to a
// process that a handle vouches for: a handle that says this tool
// started the daemon (started_by_us), carries its pid, and carries its
// process_identity. They never signal
//
//   - a daemon that was running before this tool looked (started_by_us is
//     false): Stop returns NotOurs and does nothing at all;
//   - a pid that the handle does not carry: a ShutdownConfig whose pid
//     differs from the handle's is refused;
//   - a handle without a pid, or with a pid but no process_identity, such as
//     one from a Rust peer or an older version: Stop only asks the daemon
//     over HTTP to stop (AskedOverHTTP), and never signals it;
//   - a process whose identity is not the handle's: the daemon has exited
//     and its pid names another process now. Stop reports NotRunning;
//   - a process by a bare pid: every signal goes through a pidfd (Linux 5.4
//     or later) that is opened before the identity is compared, so it cannot
//     reach a process that took the pid later. Where there is no pidfd,
//     nothing is signalled;
//   - anything when the messages do not belong together: the handle, the
//     HttpDaemonConfig and the ShutdownConfig must name the same daemon, and
//     the health_url must have the handle's scheme, host and port. Stop
//     refuses otherwise.
//
// The identity is compared again immediately before every signal.
//
// Every request goes to exactly the URL the contract names: redirects are
// not followed, and a 3xx answer is neither healthy nor an accepted
// shutdown request. A request meant for a process that a handle vouches for
// (Stop's shutdown request, the health checks by which Ensure proves that
// its child answers) is sent only over a connection whose server end that
// process holds, or a process it started (a descendant: a worker that a
// fork-per-connection or inetd-style daemon hands the connection to).
// Linux: the kernel's socket tables, asked through sock_diag(7), name the
// server's end, and /proc/<pid>/fd (or, once the main thread has exited,
// /proc/<pid>/task/<tid>/fd) and /proc/<pid>/task/<tid>/children its
// holder. Another process that serves the same address, or an address
// the same host name resolves to, never gets it; a daemon that hands its
// connections to a process it did not start (a worker pool of its own,
// started by someone else) counts as another process.
//
// What it cannot know: started_by_us, a pid and a process_identity are
// claims. Anyone can read a process's identity, so a handle forged from
// /proc passes every check: trust a handle only if this tool made it, or
// stored it where only this tool writes.
//
// # One daemon
//
// Ensure starts a daemon when the connection to its health_url is refused:
// nothing listens there. While something accepts connections there, a
// second daemon could not listen, so Ensure waits for a healthy answer
// instead (see ErrNotAnswering). Ensure calls for one daemon name and port
// take turns, in one process and across processes, through a lock that
// the kernel releases when its holder dies (see Ensure).
//
// # Running, and exited
//
// A process runs until its whole thread group has exited: its pidfd
// (pidfd_open(2)) polls readable then, and the package asks nothing else.
// A daemon whose main thread exits while its other threads serve is
// running, although /proc/<pid>/stat shows that thread as a zombie. Stop
// waits for the exit on the same pidfd, and returns as soon as the
// process has exited.
//
// # Who reaps
//
// Whoever starts the daemon reaps it: run cmd.Wait in a goroutine. Until it
// is reaped, an exited daemon is a zombie that keeps its pid and identity;
// this package counts a zombie as exited and never waits for it to go.
//
// # Hardened daemons
//
// A daemon that is not dumpable (it called prctl(PR_SET_DUMPABLE, 0), or
// runs a setuid or file-capability binary, as a daemon that binds a low
// port may) hides /proc/<pid>/fd from a keeper without CAP_SYS_PTRACE. Its
// identity, its pidfd and its signals hold; the proof that it is the
// process that answers does not. So a keeper that runs as root vouches for
// it like any other; an ordinary keeper's Ensure returns ErrCannotVouch at
// once, and leaves the daemon running, to the caller that started it; and
// Stop of a daemon that became non-dumpable after Ensure vouched for it
// asks with SIGTERM instead of the shutdown request.
//
// # Platforms
//
// Process identity is defined for Linux only, and read from /proc, which
// must show this process's own pid namespace (in a new pid namespace, mount
// a new /proc: unshare --pid --fork --mount-proc). Elsewhere, Ensure
// returns an AlreadyRunning handle for a daemon that answers and starts
// nothing otherwise, Stop signals nothing (it asks over HTTP for a handle
// without a process_identity, and refuses one with it), Status works, and
// the refusals wrap ErrUnsupportedPlatform.
//
// The package uses the standard library only: sock_diag and pidfds are
// spoken through package syscall, so the root module keeps testify as its
// only requirement, and the examples stay in it.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

// Timing of health checks. Ensure polls with a backoff that starts at
// FirstPollInterval and doubles up to MaxPollInterval, and each of its
// health checks waits for an answer as long as its context lets it (a slow
// answer is an answer); Status's health check and Stop's shutdown request
// have RequestTimeout. Ensure gives up at the context's deadline, or after
// DefaultStartTimeout when the context has none.
const (
	FirstPollInterval   = 25 * time.Millisecond
	MaxPollInterval     = 500 * time.Millisecond
	RequestTimeout      = 2 * time.Second
	DefaultStartTimeout = 30 * time.Second
)

// client makes every HTTP request of the package. It keeps no idle
// connections, so that a daemon that is shutting down has none to wait for,
// and every request dials anew; it follows no redirect: a request goes to
// exactly the URL the contract names, and a 3xx answer is returned as it
// is. A request made for a process (see request) is sent only over a
// connection whose server end the process, or a descendant, holds.
var client = &http.Client{
	Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if c, _ := ctx.Value(connectedKey{}).(*atomic.Bool); c != nil {
				c.Store(true)
			}
			if pr, _ := ctx.Value(servedByKey{}).(*proc); pr != nil {
				if err := servedBy(ctx, conn, pr); err != nil {
					conn.Close()
					return nil, err
				}
			}
			return conn, nil
		},
	},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

var dialer net.Dialer

// servedByKey is the context key of the process that must answer a
// request.
type servedByKey struct{}

// connectedKey is the context key of the flag that a request sets once a
// connection is made: something listens.
type connectedKey struct{}

// Ensure makes sure the daemon that cfg describes is running, and returns a
// handle that says whether this call started it.
//
// If cfg's health_url answers with a 2xx status, the daemon is already
// running: Ensure starts nothing and returns an AlreadyRunning handle, which
// Stop will never stop. If the connection is refused (nothing listens),
// Ensure calls start, polls health_url until the daemon answers (see
// FirstPollInterval and the other timing constants), and returns a
// StartedByUs handle with the pid that start returned and that process's
// identity (see ProcessIdentity). The handle's base URL is health_url's
// scheme and host.
//
// If something accepts connections at health_url but gives no 2xx answer
// (a daemon that is slow, loading or paused; a health check that times out
// is no answer yet), Ensure does not call start: a second daemon could not
// listen there. It waits for a healthy answer until ctx ends, and then
// returns an error that wraps ErrNotAnswering and ctx's error: never a
// handle. A context that ends before anything could be told (one that was
// done already, say) starts nothing either.
//
// start launches the daemon and returns its process ID: the pid of a child
// of this process, such as cmd.Process.Pid after cmd.Start, that is the
// daemon itself (a launcher that forks the daemon and exits, or stays as
// its parent, is not). Whoever starts the process must also reap it: run
// cmd.Wait in a goroutine. Ensure opens a pidfd for the pid at once and
// reads its identity, and accepts it only if the process is still a child
// of this process, so that the identity it records is its child's. (Where
// this process is pid 1 or a subreaper, an orphan it adopted is a child
// too: prefer EnsureProcess there.) A start that ties the process to its context
// (exec.CommandContext) kills the daemon when that context ends, which is
// usually not what a caller of Ensure wants: ctx bounds how long Ensure
// waits, not how long the daemon lives. EnsureProcess, which takes the
// *os.Process itself, is the stronger form: prefer it.
//
// Ownership is proven, not assumed: a health answer counts only if the
// child, or a process it started, holds the server's end of the connection
// (see the package documentation). If
// another process answers (say it holds the port, and the child cannot
// listen), Ensure kills its child (unless it has exited already) and
// returns an error that wraps ErrOtherProcess, and no handle. If the
// child's file descriptors cannot be read (or, where the socket is not
// among them, a descendant's: a daemon that is not dumpable, and a keeper without
// CAP_SYS_PTRACE), Ensure cannot prove that: it returns at once an error
// that wraps ErrCannotVouch and names the cause, and leaves the child
// running, to the caller that started it.
//
// Ensure calls for one daemon name and port take turns, in one process and
// across the processes of one network namespace, whatever their user and
// environment (a lock that is a name in the abstract namespace of Unix
// sockets, @daemoncontract/<name>.<port>, unix(7); no file, so nothing to
// remove; see lock_linux.go): at most one of them starts a daemon, and
// the others then find it running (AlreadyRunning). A process that dies
// holding the lock releases it. A call that waits for its turn gives up
// when ctx ends.
//
// If the daemon never becomes healthy, or its process exits first, Ensure
// returns an error that wraps ErrNotHealthy and says which, and whether it
// killed the process (SIGKILL, with the checks above, then waits for it to
// be gone) or the process had exited by itself. It never signals a pid
// that the contract's Validate rejects, nor a process that it could not
// prove is its own child, held through a pidfd: for such a process it
// returns an error that wraps ErrCannotVouch and leaves it alone.
//
// Whether the child has exited is asked of its pidfd, which says when the
// whole process has exited: a daemon whose main thread exits while other
// threads serve is running.
//
// Elsewhere than Linux, Ensure returns an AlreadyRunning handle for a
// daemon that answers, and otherwise starts nothing, and returns an error
// that wraps ErrUnsupportedPlatform.
func Ensure(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, start func(context.Context) (pid uint32, err error)) (daemoncontract.DaemonHandle, error) {
	return ensure(ctx, cfg, func(ctx context.Context) (uint32, *os.Process, error) {
		pid, err := start(ctx)
		return pid, nil, err
	})
}

// EnsureProcess is Ensure for a start function that returns the daemon's
// *os.Process, such as cmd.Process after cmd.Start. On Linux that
// *os.Process holds a pidfd, the kernel's own name for the process, which no
// other process can take over: Ensure confirms through it that the identity
// it reads is its child's, and Stop, called in this process with the handle
// Ensure returned, signals the daemon through it.
//
// The process must be a child of this process, as with Ensure: an
// *os.Process of another process (os.FindProcess), or one without a pidfd,
// is left alone, and Ensure returns an error. Whoever starts the process must
// reap it, with Wait on that same *os.Process (cmd.Wait in a goroutine);
// Ensure never calls Wait or Release.
func EnsureProcess(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, start func(context.Context) (*os.Process, error)) (daemoncontract.DaemonHandle, error) {
	return ensure(ctx, cfg, func(ctx context.Context) (uint32, *os.Process, error) {
		p, err := start(ctx)
		if err != nil {
			return 0, nil, err
		}
		if p == nil {
			return 0, nil, errors.New("start returned no process")
		}
		if p.Pid < 0 || p.Pid > math.MaxInt32 {
			return 0, nil, fmt.Errorf("start returned a process with pid %d", p.Pid)
		}
		return uint32(p.Pid), p, nil
	})
}

// ensure is Ensure and EnsureProcess. start returns the pid, and the
// *os.Process when it has one (nil for Ensure).
func ensure(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, start func(context.Context) (uint32, *os.Process, error)) (daemoncontract.DaemonHandle, error) {
	if err := cfg.Validate(); err != nil {
		return daemoncontract.DaemonHandle{}, err
	}
	base, err := baseURL(cfg.HealthURL)
	if err != nil {
		return daemoncontract.DaemonHandle{}, err
	}
	port, err := portOf(cfg.HealthURL)
	if err != nil {
		return daemoncontract.DaemonHandle{}, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	name := cfg.DaemonName
	if running, err := look(ctx, cfg.HealthURL); err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: %w", name, err)
	} else if running {
		return daemoncontract.AlreadyRunning(name, base), nil
	}
	if !supported {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: nothing answers at %s, and no daemon is started: %w", name, cfg.HealthURL, ErrUnsupportedPlatform)
	}

	// Take turns with every other Ensure of the daemon, in this process
	// and in others; then look again: another may have started it.
	unlock, err := ensuring.lock(ctx, name+" port "+port)
	if err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: waiting for another Ensure of it in this process: %w", name, err)
	}
	defer unlock()
	unlockProcesses, err := lockProcesses(ctx, name, port)
	if err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: %w", name, err)
	}
	defer unlockProcesses()
	if running, err := look(ctx, cfg.HealthURL); err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: %w", name, err)
	} else if running {
		return daemoncontract.AlreadyRunning(name, base), nil
	}

	pid, p, err := start(ctx)
	if err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: start %s: %w", name, err)
	}
	h := daemoncontract.StartedByUs(name, base, &pid)
	if err := h.Validate(); err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: start %s returned a pid that must not be signalled, so it is left alone: %w: %w", name, ErrCannotVouch, err)
	}
	pr, err := vouch(pid, p)
	switch {
	case errors.Is(err, errGone):
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: %s (pid %d) exited before it answered, so nothing was killed: %w: %w", name, pid, ErrNotHealthy, err)
	case errors.Is(err, ErrCannotVouch):
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: %s (pid %d) cannot be proven to be the process that answers, so it is left running, to the caller that started it: %w", name, pid, err)
	case err != nil:
		// Not provably a child of this process, held through a pidfd:
		// whatever it is, it is not signalled. The caller that started it
		// still holds it.
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: %s (pid %d) cannot be proven to be the process this call started, so it is left alone: %w: %w", name, pid, ErrCannotVouch, err)
	}
	kept := false
	defer func() {
		if !kept { // the registry keeps the pidfd of a daemon it holds
			pr.release()
		}
	}()
	h = h.WithProcessIdentity(pr.id)
	if err := h.Validate(); err != nil { // the identity has the contract's form
		_, kerr := pr.killAndWait(ctx)
		return daemoncontract.DaemonHandle{}, errors.Join(err, kerr)
	}

	if err := waitHealthy(ctx, cfg.HealthURL, pr); err != nil {
		return daemoncontract.DaemonHandle{}, failed(ctx, name, pr, err)
	}
	started.add(pr)
	kept = true
	return h, nil
}

// failed is Ensure's error when its child pr did not become healthy, for
// the reason err from waitHealthy. It kills the child where that is due,
// and says what it did.
func failed(ctx context.Context, name string, pr *proc, err error) error {
	switch {
	case errors.Is(err, ErrCannotVouch):
		return fmt.Errorf("lifecycle: %s (pid %d) runs, but cannot be proven to be the process that answers, so it is left running, to the caller that started it: %w", name, pr.pid, err)
	case errors.Is(err, errGone):
		return fmt.Errorf("lifecycle: %s (pid %d) exited before it answered, so nothing was killed: %w: %w", name, pr.pid, ErrNotHealthy, err)
	}
	what, kerr := pr.killAndWait(ctx)
	if kerr != nil {
		what = "could not be killed"
	}
	if errors.Is(err, ErrOtherProcess) {
		return errors.Join(fmt.Errorf("lifecycle: %s (pid %d) %s, because %w", name, pr.pid, what, err), kerr)
	}
	return errors.Join(fmt.Errorf("lifecycle: %s (pid %d) %s: %w: %w", name, pr.pid, what, ErrNotHealthy, err), kerr)
}

// look asks healthURL whether a daemon runs there. It returns true when a
// 2xx answer comes, and false when nothing listens: the connection is
// refused, or cannot be made at all. While something accepts connections
// but gives no 2xx answer, it asks again (see FirstPollInterval), until
// ctx ends; then it returns an error, as it does when ctx ends before a
// connection could be made or refused.
func look(ctx context.Context, healthURL string) (bool, error) {
	interval := FirstPollInterval
	var listening bool
	var last error
	for {
		_, connected, err := request(ctx, http.MethodGet, healthURL, nil, 0)
		if err == nil {
			return true, nil
		}
		listening = listening || connected
		if ctx.Err() == nil && !connected {
			return false, nil // nothing there
		}
		if ctx.Err() != nil {
			break
		}
		last = err
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
		if ctx.Err() != nil {
			break
		}
		interval = min(2*interval, MaxPollInterval)
	}
	if listening {
		why := ""
		if last != nil {
			why = fmt.Sprintf(" (last: %v)", last)
		}
		return false, fmt.Errorf("%w: something accepts connections at %s but gave no 2xx answer before the context ended%s; nothing was started: %w", ErrNotAnswering, healthURL, why, ctx.Err())
	}
	return false, fmt.Errorf("the context ended before the health check at %s could tell whether the daemon runs; nothing was started: %w", healthURL, ctx.Err())
}

// waitHealthy polls healthURL until pr itself answers 2xx, pr exits, or
// ctx ends. An answer from another process is an error at once (it wraps
// ErrOtherProcess), and so is a process whose file descriptors cannot be
// read (ErrCannotVouch); a process that has exited gives errGone.
func waitHealthy(ctx context.Context, healthURL string, pr *proc) error {
	interval := FirstPollInterval
	for {
		_, _, err := request(ctx, http.MethodGet, healthURL, pr, 0)
		state := pr.check()
		switch {
		case errors.Is(err, ErrCannotVouch):
			return err
		case errors.Is(err, errOtherProcess):
			return fmt.Errorf("%w (%s), not the one this call started: %w", ErrOtherProcess, healthURL, err)
		case errors.Is(state, errGone):
			if err != nil {
				return fmt.Errorf("%w (last health check: %w)", state, err)
			}
			return state
		case state != nil:
			return state
		case err == nil:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("it gave no 2xx answer before the context ended: %w (last health check: %w)", ctx.Err(), err)
		case <-time.After(interval):
		}
		interval = min(2*interval, MaxPollInterval)
	}
}

// noAnswer is the health_status of a health check that got no HTTP answer
// at all (refused, timed out, not HTTP): a fixed text, never the error's,
// which can be long and quotes the URL.
const noAnswer = "no answer"

// request sends one request without a body to target, following no
// redirect, and returns the status of the answer as "200 OK": the code and
// http.StatusText, never the server's reason phrase. It returns noAnswer
// when there was no answer. The error is nil for a 2xx status only.
// connected says whether a connection was made: something listens at
// target. The request has timeout, or lasts as long as ctx when timeout is
// 0.
//
// With a process pr, the request is sent only if pr, or a descendant of
// pr, holds the server's end of the connection (see servedBy): a request
// meant for the
// daemon never reaches another process that listens on the same address,
// or that resolves from the same host name. Otherwise there is no answer,
// and the error wraps errNotServed.
func request(ctx context.Context, method, target string, pr *proc, timeout time.Duration) (status string, connected bool, err error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var conn atomic.Bool
	ctx = context.WithValue(ctx, connectedKey{}, &conn)
	if pr != nil {
		ctx = context.WithValue(ctx, servedByKey{}, pr)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return noAnswer, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return noAnswer, conn.Load(), err // net/http's text names the method and URL
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	status = strconv.Itoa(resp.StatusCode)
	if text := http.StatusText(resp.StatusCode); text != "" {
		status += " " + text
	}
	if resp.StatusCode/100 != 2 {
		return status, true, fmt.Errorf("%s %s: %s", method, target, status)
	}
	return status, true, nil
}

// Config returns the HTTP config of the rbee daemon called daemonName on
// host and port: its health check at /health and its shutdown endpoint at
// /v1/shutdown, the paths every rbee daemon serves. host is a name or an IP
// address, IPv6 without brackets and with its zone, if any, as is:
// Config("queen-rbee", "::1", 7833) checks http://[::1]:7833/health, and
// Config("queen-rbee", "fe80::1%eth0", 7833) checks
// http://[fe80::1%25eth0]:7833/health.
func Config(daemonName, host string, port int) daemoncontract.HttpDaemonConfig {
	// In a URL, the % before an IPv6 zone is written %25.
	hostPort := net.JoinHostPort(strings.ReplaceAll(host, "%", "%25"), strconv.Itoa(port))
	return daemoncontract.HttpDaemonConfig{
		DaemonName:       daemonName,
		HealthURL:        "http://" + hostPort + "/health",
		ShutdownEndpoint: new("/v1/shutdown"),
	}
}

// baseURL returns healthURL's scheme and host, such as "http://localhost:7833".
// An empty port is the scheme's default, and left out: "http://h:/health"
// gives "http://h" (RFC 3986 §6.2.3), as ShutdownURL does.
func baseURL(healthURL string) (string, error) {
	u, err := url.Parse(healthURL)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: u.Scheme, Host: strings.TrimSuffix(u.Host, ":")}).String(), nil
}

// portOf returns the port of an http or https URL: its own, or the
// scheme's default.
func portOf(rawURL string) (string, error) {
	o, err := origin(rawURL)
	if err != nil {
		return "", err
	}
	_, port, _ := strings.Cut(o, " port ")
	return port, nil
}

// origin returns the scheme, host and port of an http or https URL, in a
// form that compares equal for equal origins: lower case, and the scheme's
// default port where the URL has none.
func origin(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	// Host names are case-insensitive; the zone of an IPv6 address is an
	// interface name, which is not.
	host, zone, hasZone := strings.Cut(u.Hostname(), "%")
	host = strings.ToLower(host)
	if hasZone {
		host += "%" + zone
	}
	return scheme + "://" + host + " port " + port, nil
}

// Status checks the daemon that cfg describes and answers req. is_running is
// whether health_url answers with a 2xx status, to exactly that URL: a
// redirect is not followed, and is not running. health_status is the status
// of the answer, its code and standard text such as "200 OK" or "503
// Service Unavailable", or "no answer" when there was none; never the
// server's own words. The response's ID is the request's, and the response
// passes Validate.
//
// Status has no handle to tie cfg to: it checks cfg and req with Validate,
// and refuses either when it breaks a rule.
func Status(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, req daemoncontract.StatusRequest) (daemoncontract.StatusResponse, error) {
	if err := errors.Join(cfg.Validate(), req.Validate()); err != nil {
		return daemoncontract.StatusResponse{}, err
	}
	status, _, err := request(ctx, http.MethodGet, cfg.HealthURL, nil, RequestTimeout)
	return daemoncontract.StatusResponse{ID: req.ID, IsRunning: err == nil, HealthStatus: &status}, nil
}
