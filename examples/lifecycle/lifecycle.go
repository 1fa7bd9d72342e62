// Package lifecycle is an example of code written against daemoncontract: a
// small reference lifecycle for HTTP daemons that starts a daemon when it is
// not running, checks it, and stops it only when this tool started it.
//
// It is an example of use, not part of the contract. It shows the contract's
// rules at work with real processes: decode, then Validate, then act, and
// never signal a daemon the handle does not own.
//
// It speaks plain HTTP and Unix signals (elsewhere, Stop and Ensure's cleanup
// report errors.ErrUnsupported), and uses the standard library only.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
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

// exitPollInterval is how often Stop checks whether the process has exited.
const exitPollInterval = 20 * time.Millisecond

// client makes every HTTP request of the package. It keeps no idle
// connections, so that a daemon that is shutting down has none to wait for,
// and it follows no redirect: a request goes to exactly the URL the contract
// names, and a 3xx answer is returned as it is.
var client = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// Ensure makes sure the daemon that cfg describes is running, and returns a
// handle that says whether this call started it.
//
// If cfg's health_url answers with a 2xx status, the daemon is already
// running: Ensure starts nothing and returns an AlreadyRunning handle, which
// Stop will never stop. Otherwise it calls start, polls health_url until the
// daemon answers (see FirstPollInterval and the other timing constants), and
// returns a StartedByUs handle with the pid that start returned. The handle's
// base URL is health_url's scheme and host.
//
// start launches the daemon and returns its process ID. Whoever starts the
// process must also reap it: run cmd.Wait in a goroutine. An exited but
// unreaped process is a zombie, which still answers kill(pid, 0), so Stop
// would see it as alive until its graceful timeout ran out. A start that ties
// the process to its context (exec.CommandContext) kills the daemon when that
// context ends, which is usually not what a caller of Ensure wants: ctx
// bounds how long Ensure waits, not how long the daemon lives.
//
// If the daemon never becomes healthy, or its process exits first, Ensure
// kills the process it started (SIGKILL) and returns an error. It never
// signals a pid that the contract's Validate rejects: for such a pid it
// returns an error and leaves the process alone.
func Ensure(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, start func(context.Context) (pid uint32, err error)) (daemoncontract.DaemonHandle, error) {
	if err := cfg.Validate(); err != nil {
		return daemoncontract.DaemonHandle{}, err
	}
	base, err := baseURL(cfg.HealthURL)
	if err != nil {
		return daemoncontract.DaemonHandle{}, err
	}
	if healthy(ctx, cfg.HealthURL) == nil {
		return daemoncontract.AlreadyRunning(cfg.DaemonName, base), nil
	}

	pid, err := start(ctx)
	if err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: start %s: %w", cfg.DaemonName, err)
	}
	h := daemoncontract.StartedByUs(cfg.DaemonName, base, &pid)
	if err := h.Validate(); err != nil {
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: start %s returned a pid that must not be signalled, so it is left alone: %w", cfg.DaemonName, err)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	if err := waitHealthy(ctx, cfg.HealthURL, int(pid)); err != nil {
		if kerr := signal(int(pid), syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			err = errors.Join(err, fmt.Errorf("kill pid %d: %w", pid, kerr))
		}
		return daemoncontract.DaemonHandle{}, fmt.Errorf("lifecycle: %s (pid %d) did not become healthy, and was killed: %w", cfg.DaemonName, pid, err)
	}
	return h, nil
}

// waitHealthy polls healthURL until it answers 2xx, the process pid exits,
// or ctx ends.
func waitHealthy(ctx context.Context, healthURL string, pid int) error {
	interval := FirstPollInterval
	for {
		err := healthy(ctx, healthURL)
		if err == nil {
			return nil
		}
		if !alive(pid) {
			return fmt.Errorf("the process exited (last health check: %w)", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last health check: %w)", ctx.Err(), err)
		case <-time.After(interval):
		}
		interval = min(2*interval, MaxPollInterval)
	}
}

// healthy checks healthURL once: nil for a 2xx answer.
func healthy(ctx context.Context, healthURL string) error {
	_, err := request(ctx, http.MethodGet, healthURL)
	return err
}

// noAnswer is the health_status of a health check that got no HTTP answer
// at all (refused, timed out, not HTTP): a fixed text, never the error's,
// which can be long and quotes the URL.
const noAnswer = "no answer"

// request sends one request without a body to target, following no
// redirect, and returns the status of the answer as "200 OK": the code and
// http.StatusText, never the server's reason phrase. It returns noAnswer
// when there was no answer. The error is nil for a 2xx status only.
func request(ctx context.Context, method, target string) (status string, err error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
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

// baseURL returns healthURL's scheme and host, such as "http://localhost:7833".
func baseURL(healthURL string) (string, error) {
	u, err := url.Parse(healthURL)
	if err != nil {
		return "", err
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), nil
}

// Status checks the daemon that cfg describes and answers req. is_running is
// whether health_url answers with a 2xx status, to exactly that URL: a
// redirect is not followed, and is not running. health_status is the status
// of the answer, its code and standard text such as "200 OK" or "503
// Service Unavailable", or "no answer" when there was none; never the
// server's own words. The response's ID is the request's, and the response
// passes Validate.
func Status(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, req daemoncontract.StatusRequest) (daemoncontract.StatusResponse, error) {
	if err := errors.Join(cfg.Validate(), req.Validate()); err != nil {
		return daemoncontract.StatusResponse{}, err
	}
	status, err := request(ctx, http.MethodGet, cfg.HealthURL)
	return daemoncontract.StatusResponse{ID: req.ID, IsRunning: err == nil, HealthStatus: &status}, nil
}

// Outcome says how Stop ended, or why it did nothing.
type Outcome int

const (
	// Refused: Stop did not end the process, for the reason in its error.
	// Usually it sent nothing; if SIGKILL failed, it had already asked the
	// daemon to stop.
	Refused Outcome = iota
	// NotOurs: the handle does not own the daemon (ShouldCleanup is false),
	// so Stop did nothing, and returned no error.
	NotOurs
	// NotRunning: the process had already exited; nothing was sent.
	NotRunning
	// StoppedGracefully: the process exited within the graceful timeout
	// after being asked to stop.
	StoppedGracefully
	// Killed: the process did not exit in time, or the context ended first,
	// and was sent SIGKILL.
	Killed
)

// String returns the outcome in words, such as "stopped gracefully".
func (o Outcome) String() string {
	switch o {
	case Refused:
		return "refused"
	case NotOurs:
		return "not ours"
	case NotRunning:
		return "not running"
	case StoppedGracefully:
		return "stopped gracefully"
	case Killed:
		return "killed"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText makes an Outcome a JSON string, such as "not ours".
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Stop stops the daemon of handle h, process cfg.PID, if and only if h says
// this tool started it.
//
// If h.ShouldCleanup() is false, Stop does nothing and returns NotOurs and a
// nil error: the daemon was running before this tool looked, and belongs to
// someone else.
//
// Otherwise Stop validates cfg and daemon, and refuses a cfg.PID that differs
// from the pid the handle carries. It asks the daemon to stop: a POST to
// daemon's ShutdownURL where it has a shutdown_endpoint, and SIGTERM where it
// has none or the POST fails. It then waits up to cfg.GracefulTimeout() for
// the process to exit (0: no wait) and sends SIGKILL after that. If ctx ends
// while it waits, Stop sends SIGKILL at once and returns ctx's error. It
// returns StoppedGracefully or Killed, saying which of the two ended the
// process.
//
// Stop watches the process with kill(pid, 0), so whoever started it must
// reap it (see Ensure). It never signals a pid that the contract's Validate
// rejects.
func Stop(ctx context.Context, h daemoncontract.DaemonHandle, cfg daemoncontract.ShutdownConfig, daemon daemoncontract.HttpDaemonConfig) (Outcome, error) {
	if !h.ShouldCleanup() {
		return NotOurs, nil
	}
	if err := errors.Join(h.Validate(), cfg.Validate(), daemon.Validate()); err != nil {
		return Refused, fmt.Errorf("lifecycle: refusing to stop: %w", err)
	}
	if pid, ok := h.PID(); ok && pid != cfg.PID {
		return Refused, fmt.Errorf("lifecycle: refusing to stop pid %d: the handle of %s holds pid %d", cfg.PID, h.DaemonName(), pid)
	}
	pid := int(cfg.PID)
	if !alive(pid) {
		return NotRunning, nil
	}

	if err := askToStop(ctx, pid, daemon); err != nil {
		return Refused, fmt.Errorf("lifecycle: stop %s (pid %d): %w", cfg.DaemonName, pid, err)
	}
	timer := time.NewTimer(cfg.GracefulTimeout())
	defer timer.Stop()
	if err := waitExit(ctx, pid, timer.C); err != nil {
		if ctx.Err() != nil {
			return Killed, errors.Join(err, kill(pid))
		}
		if err := kill(pid); err != nil {
			return Refused, err
		}
		killWait := time.NewTimer(KillWait)
		defer killWait.Stop()
		if err := waitExit(ctx, pid, killWait.C); err != nil {
			return Killed, fmt.Errorf("lifecycle: %s (pid %d) still exists after SIGKILL; is it reaped? %w", cfg.DaemonName, pid, err)
		}
		return Killed, nil
	}
	return StoppedGracefully, nil
}

// KillWait is how long Stop waits for a process to disappear after SIGKILL.
const KillWait = 5 * time.Second

var errTimeout = errors.New("timed out")

// waitExit waits until process pid has exited, or ctx ends, or timeout
// fires.
func waitExit(ctx context.Context, pid int, timeout <-chan time.Time) error {
	tick := time.NewTicker(exitPollInterval)
	defer tick.Stop()
	for alive(pid) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout:
			return errTimeout
		case <-tick.C:
		}
	}
	return nil
}

// askToStop POSTs to daemon's shutdown URL, or sends SIGTERM where there is
// no such URL or the answer is not 2xx.
func askToStop(ctx context.Context, pid int, daemon daemoncontract.HttpDaemonConfig) error {
	if shutdownURL, err := daemon.ShutdownURL(); err == nil {
		if _, err := request(ctx, http.MethodPost, shutdownURL); err == nil {
			return nil
		}
	}
	if err := signal(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// kill sends SIGKILL to pid; a process that has exited meanwhile is fine.
func kill(pid int) error {
	if err := signal(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lifecycle: kill pid %d: %w", pid, err)
	}
	return nil
}

// alive reports whether process pid exists, by sending it signal 0. Only
// ESRCH means it does not: EPERM, or any other failure, counts as alive. A
// zombie exists until it is reaped.
func alive(pid int) bool {
	return !errors.Is(signal(pid, 0), syscall.ESRCH)
}

// errUnsafePID is what signal returns instead of signalling a pid that is
// not one process.
var errUnsafePID = errors.New("lifecycle: refusing to signal a pid outside 1..2147483647: kill(2) would read it as a process group, or as every process")

// signal is the one way this package signals a process: all of its kill(2)
// calls, signal 0 included, go through it. Tests replace it. Whatever its
// callers have checked already, it refuses a pid outside 1..2147483647: kill
// reads 0 and negative pids as process groups, and a larger int becomes a
// negative pid_t in the kernel (4294967295 becomes -1, every process).
var signal = func(pid int, sig syscall.Signal) error {
	if pid < 1 || pid > math.MaxInt32 {
		return errUnsafePID
	}
	return sendSignal(pid, sig)
}
