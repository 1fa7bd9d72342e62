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
// Stop and Ensure send a signal (SIGTERM, SIGKILL, or signal 0 to probe)
// only to a process that a handle vouches for: a handle that says this tool
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
// its child answers) is sent only over a connection that the process itself
// accepted (Linux: the kernel's socket tables and /proc/<pid>/fd say which
// process holds the server's end). Another process that serves the same
// address, or an address the same host name resolves to, never gets it.
//
// What it cannot know: started_by_us, a pid and a process_identity are
// claims. Anyone can read a process's identity, so a handle forged from
// /proc passes every check: trust a handle only if this tool made it, or
// stored it where only this tool writes.
//
// # Who reaps
//
// Whoever starts the daemon reaps it: run cmd.Wait in a goroutine. Until it
// is reaped, an exited daemon is a zombie that keeps its pid and identity;
// this package counts a zombie as exited and never waits for it to go.
//
// Process identity is defined for Linux only, and read from /proc, which
// must show this process's own pid namespace (in a new pid namespace, mount
// a new /proc: unshare --pid --fork --mount-proc). Elsewhere
// ProcessIdentity returns errors.ErrUnsupported, so Ensure cannot vouch for
// a daemon it starts, and returns an error, leaving the process to the
// caller that started it. The package uses the standard library only.
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
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

// Timing of health checks. Ensure polls with a backoff that starts at
// FirstPollInterval and doubles up to MaxPollInterval; every request has
// RequestTimeout; Ensure gives up at the context's deadline, or after
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
// connection that the process itself accepted.
var client = &http.Client{
	Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
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

// Ensure makes sure the daemon that cfg describes is running, and returns a
// handle that says whether this call started it.
//
// If cfg's health_url answers with a 2xx status, the daemon is already
// running: Ensure starts nothing and returns an AlreadyRunning handle, which
// Stop will never stop. Otherwise it calls start, polls health_url until the
// daemon answers (see FirstPollInterval and the other timing constants), and
// returns a StartedByUs handle with the pid that start returned and that
// process's identity (see ProcessIdentity). The handle's base URL is
// health_url's scheme and host.
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
// child itself accepted the connection (see the package documentation). If
// another process answers (say it holds the port, and the child cannot
// listen), Ensure kills its child and returns an error that says so, and no
// handle; if the child exits first, the error says that.
//
// A health check that gets no answer before ctx ends does not show that
// the daemon is not running: Ensure then starts nothing, and returns ctx's
// error.
//
// Concurrent Ensure calls for one daemon name, in one process, take turns:
// at most one of them starts a daemon, and the others then find it running
// (AlreadyRunning). A call that waits for its turn gives up when ctx ends.
//
// If the daemon never becomes healthy, or its process exits first, Ensure
// kills the process it started (SIGKILL, with the checks above) and returns
// an error. It never signals a pid that the contract's Validate rejects, nor
// a process that it could not prove is its own child, held through a pidfd:
// for such a process it returns an error and leaves it alone.
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
	unlock, err := ensuring.lock(ctx, cfg.DaemonName)
	if err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: waiting for another Ensure of it: %w", cfg.DaemonName, err)
	}
	defer unlock()
	if _, err := request(ctx, http.MethodGet, cfg.HealthURL, nil); err == nil {
		return daemoncontract.AlreadyRunning(cfg.DaemonName, base), nil
	} else if ctx.Err() != nil {
		// No answer in time is not "not running": start nothing.
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: ensure %s: %w (health check: %w)", cfg.DaemonName, ctx.Err(), err)
	}

	pid, p, err := start(ctx)
	if err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: start %s: %w", cfg.DaemonName, err)
	}
	h := daemoncontract.StartedByUs(cfg.DaemonName, base, &pid)
	if err := h.Validate(); err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: start %s returned a pid that must not be signalled, so it is left alone: %w", cfg.DaemonName, err)
	}
	pr, err := vouch(pid, p)
	if err != nil {
		// Not provably a child of this process, held through a pidfd:
		// whatever it is, it is not signalled. The caller that started it
		// still holds it.
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: %s (pid %d) cannot be proven to be the process this call started, so it is left alone: %w", cfg.DaemonName, pid, err)
	}
	h = h.WithProcessIdentity(pr.id)
	if err := h.Validate(); err != nil { // the identity has the contract's form
		_, kerr := pr.kill()
		return daemoncontract.DaemonHandle{}, errors.Join(err, kerr)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	if err := waitHealthy(ctx, cfg.HealthURL, pr); err != nil {
		_, kerr := pr.kill()
		return daemoncontract.DaemonHandle{}, errors.Join(
			fmt.Errorf("lifecycle: %s (pid %d) did not become healthy, and was killed: %w", cfg.DaemonName, pid, err),
			kerr)
	}
	started.add(pr)
	return h, nil
}

// waitHealthy polls healthURL until pr itself answers 2xx, pr exits, or
// ctx ends. An answer from another process is an error at once: another
// process serves that address, not the one this call started.
func waitHealthy(ctx context.Context, healthURL string, pr *proc) error {
	interval := FirstPollInterval
	for {
		_, err := request(ctx, http.MethodGet, healthURL, pr)
		state := pr.check()
		switch {
		case errors.Is(err, errOtherProcess):
			return fmt.Errorf("another process answers at %s, not the one this call started: %w", healthURL, err)
		case errors.Is(state, errGone):
			return fmt.Errorf("the process exited (last health check: %w)", err)
		case state != nil:
			return state
		case err == nil:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last health check: %w)", ctx.Err(), err)
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
//
// With a process pr, the request is sent only if pr itself holds the socket
// that accepted the connection (see servedBy): a request meant for the
// daemon never reaches another process that listens on the same address,
// or that resolves from the same host name. Otherwise there is no answer,
// and the error is errNotServed.
func request(ctx context.Context, method, target string, pr *proc) (status string, err error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	if pr != nil {
		ctx = context.WithValue(ctx, servedByKey{}, pr)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return noAnswer, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return noAnswer, err // net/http's text names the method and URL
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	status = strconv.Itoa(resp.StatusCode)
	if text := http.StatusText(resp.StatusCode); text != "" {
		status += " " + text
	}
	if resp.StatusCode/100 != 2 {
		return status, fmt.Errorf("%s %s: %s", method, target, status)
	}
	return status, nil
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
func baseURL(healthURL string) (string, error) {
	u, err := url.Parse(healthURL)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), nil
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
	status, err := request(ctx, http.MethodGet, cfg.HealthURL, nil)
	return daemoncontract.StatusResponse{ID: req.ID, IsRunning: err == nil, HealthStatus: &status}, nil
}
