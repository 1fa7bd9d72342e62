package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

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
	// NotRunning: the daemon's process had already exited, or its pid now
	// names another process (the process identity differs); nothing was
	// sent.
	NotRunning
	// StoppedGracefully: the process exited within the graceful timeout
	// after being asked to stop.
	StoppedGracefully
	// Killed: the process did not exit in time, or the context ended first,
	// and was sent SIGKILL.
	Killed
	// AskedOverHTTP: the handle does not vouch for a process that may be
	// signalled (it has no pid, or a pid without process_identity, as a
	// handle from a Rust peer or an older version has), so Stop only asked
	// the daemon to stop: a POST to its shutdown endpoint, answered 2xx.
	// It sent no signal, and did not wait for the daemon to exit.
	AskedOverHTTP
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
	case AskedOverHTTP:
		return "asked over HTTP"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText makes an Outcome a JSON string, such as "not ours".
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// KillWait is how long Stop, and Ensure when it kills the daemon it
// started, wait for the process to be gone after SIGKILL.
const KillWait = 5 * time.Second

// Stop stops the daemon of handle h if, and only if, h says this tool
// started it, and signals it only if h vouches for its process.
//
// If h.ShouldCleanup() is false, Stop does nothing and returns NotOurs and a
// nil error: the daemon was running before this tool looked, and belongs to
// someone else.
//
// Otherwise Stop validates h, cfg and daemon, and refuses (Refused, with an
// error that says which) unless they belong together: the three name the
// same daemon, daemon's health_url has h's scheme, host and port, and
// cfg.PID is the pid h carries, when it carries one.
//
// A handle without a pid, or with a pid but no process_identity, is never
// signalled: Stop POSTs to daemon's ShutdownURL and returns AskedOverHTTP
// when the answer is 2xx; without a shutdown_endpoint, or for any other
// answer, it returns Refused.
//
// For a handle with both, Stop first checks that the pid still names the
// process h names (see the package documentation): if not, the daemon is
// gone, and Stop returns NotRunning having sent nothing, not even the
// shutdown request. Then it asks the daemon to stop: a POST to daemon's
// ShutdownURL where it has a shutdown_endpoint, and SIGTERM where it has
// none or the answer is not 2xx. The POST is sent only over a connection
// whose server end the daemon's process, or a process it started, holds
// (see the package documentation): another process that serves the
// same address (on another address family of the same host name, say)
// never gets it, and Stop sends SIGTERM instead. It waits up to
// cfg.GracefulTimeout() for the process to exit (0: no wait), and sends
// SIGKILL after that. It returns StoppedGracefully or Killed, saying which
// of the two ended the process: a process that exits before the SIGKILL is
// sent stopped gracefully. A failed SIGKILL returns Refused.
//
// The context bounds the wait, not the grace: the graceful request is
// always made, even when ctx is already done, with its own RequestTimeout.
// If ctx was already done when Stop was called, Stop still gives the daemon
// the full graceful timeout. If ctx ends after the graceful request was
// made, Stop sends SIGKILL at once and returns Killed and ctx's error, as
// soon as the process is gone (KillWait at most). So a keeper that stops its
// daemons after ^C, with a cancelled context, stops them gracefully.
//
// Concurrent Stop calls for one process (the same pid and
// process_identity), or for one shutdown URL on the HTTP-only path, take
// turns: each call acts on its own, with its own context, after the one
// before it has returned. So each signal goes at most once: the first call
// stops the daemon, and the calls after it find it gone (NotRunning). A
// call whose context ends while it waits for its turn returns Refused and
// the context's error, having done nothing; one whose context was done
// already when it was called waits.
//
// Whether the process has exited is asked of its pidfd, which says when
// the whole process has exited: a daemon whose main thread exited while its
// other threads serve is running, and Stop stops it. Stop waits on the same
// pidfd, and returns as soon as the process has exited. It counts an
// exited, unreaped process (a zombie) as exited: whoever started it must
// reap it (see Ensure).
//
// Elsewhere than Linux, Stop signals nothing: it refuses a handle with a
// process_identity (its error wraps ErrUnsupportedPlatform), and asks over
// HTTP for one without.
func Stop(ctx context.Context, h daemoncontract.DaemonHandle, cfg daemoncontract.ShutdownConfig, daemon daemoncontract.HttpDaemonConfig) (Outcome, error) {
	if !h.ShouldCleanup() {
		return NotOurs, nil
	}
	if err := errors.Join(h.Validate(), cfg.Validate(), daemon.Validate()); err != nil {
		return Refused, fmt.Errorf("lifecycle: refusing to stop: %w", err)
	}
	if err := belongTogether(h, cfg, daemon); err != nil {
		return Refused, fmt.Errorf("lifecycle: refusing to stop: %w", err)
	}
	// A context that is already done does not cut the grace short, nor the
	// wait for a turn; one that ends from now on does.
	waitCtx := ctx
	if ctx.Err() != nil {
		waitCtx = context.WithoutCancel(ctx)
	}
	pid, hasPID := h.PID()
	id, hasID := h.ProcessIdentity()
	signalable := hasPID && hasID
	key, shutdownURL := fmt.Sprintf("process %d %s", pid, id), ""
	if !signalable {
		var err error
		if shutdownURL, err = daemon.ShutdownURL(); err != nil {
			return Refused, fmt.Errorf("lifecycle: refusing to signal %s: %s, and it cannot be asked over HTTP: %w", h.DaemonName(), unsignalable(hasPID), err)
		}
		key = "url " + shutdownURL
	}
	unlock, err := stopping.lock(waitCtx, key)
	if err != nil {
		return Refused, fmt.Errorf("lifecycle: stop %s: waiting for another Stop of it: %w", h.DaemonName(), err)
	}
	defer unlock()
	if !signalable {
		return askOverHTTP(ctx, shutdownURL, hasPID)
	}
	return stop(ctx, waitCtx, pid, id, cfg, daemon)
}

// belongTogether checks that h, cfg and daemon are about one daemon.
func belongTogether(h daemoncontract.DaemonHandle, cfg daemoncontract.ShutdownConfig, daemon daemoncontract.HttpDaemonConfig) error {
	var errs []error
	if name := h.DaemonName(); name != cfg.DaemonName || name != daemon.DaemonName {
		errs = append(errs, fmt.Errorf("the handle names daemon %q, the ShutdownConfig %q and the HttpDaemonConfig %q: all three must name the same daemon", name, cfg.DaemonName, daemon.DaemonName))
	}
	handleOrigin, err1 := origin(h.BaseURL())
	healthOrigin, err2 := origin(daemon.HealthURL)
	if err := errors.Join(err1, err2); err != nil {
		errs = append(errs, err)
	} else if handleOrigin != healthOrigin {
		errs = append(errs, fmt.Errorf("the HttpDaemonConfig's health_url %q is not on the handle's base_url %q: their scheme, host and port must be equal", daemon.HealthURL, h.BaseURL()))
	}
	if pid, ok := h.PID(); ok && pid != cfg.PID {
		errs = append(errs, fmt.Errorf("refusing to stop pid %d: the handle of %s holds pid %d", cfg.PID, h.DaemonName(), pid))
	}
	return errors.Join(errs...)
}

// askOverHTTP is Stop for a handle that does not vouch for a process: it
// only asks, and signals nothing. hasPID says whether the handle has a pid.
func askOverHTTP(ctx context.Context, shutdownURL string, hasPID bool) (Outcome, error) {
	if _, _, err := request(context.WithoutCancel(ctx), http.MethodPost, shutdownURL, nil, RequestTimeout); err != nil {
		return Refused, fmt.Errorf("lifecycle: asking to stop (%s, so no signal is sent): %w", unsignalable(hasPID), err)
	}
	return AskedOverHTTP, nil
}

// unsignalable says why a handle does not vouch for a process: it has no
// pid, or a pid but no process_identity.
func unsignalable(hasPID bool) string {
	if hasPID {
		return "the handle has a pid but no process_identity to check it against"
	}
	return "the handle has no pid"
}

// stop is Stop for the process pid whose identity is id. waitCtx is ctx,
// or ctx without its cancellation when ctx was done when Stop was called.
func stop(ctx, waitCtx context.Context, pid uint32, id string, cfg daemoncontract.ShutdownConfig, daemon daemoncontract.HttpDaemonConfig) (Outcome, error) {
	pr, done, err := open(pid, id)
	if errors.Is(err, errGone) {
		started.remove(pid, id)
		return NotRunning, nil
	}
	if err != nil {
		return Refused, fmt.Errorf("lifecycle: stop %s (pid %d): %w", cfg.DaemonName, pid, err)
	}
	defer done()

	if err := askToStop(ctx, pr, daemon); err != nil {
		return Refused, fmt.Errorf("lifecycle: stop %s (pid %d): %w", cfg.DaemonName, pid, err)
	}
	err = waitExit(waitCtx, pr, cfg.GracefulTimeout())
	if err == nil {
		started.remove(pid, id)
		return StoppedGracefully, nil
	}
	sent, kerr := pr.kill()
	switch {
	case kerr != nil:
		return Refused, fmt.Errorf("lifecycle: stop %s (pid %d): it did not exit (%w), and %w", cfg.DaemonName, pid, err, kerr)
	case !sent: // it exited between the last look and the kill
		started.remove(pid, id)
		return StoppedGracefully, nil
	}
	// Whatever ctx says now, the process is gone before Stop returns, so
	// that the next Stop does not find it dying.
	if werr := waitExit(context.WithoutCancel(ctx), pr, KillWait); werr != nil {
		return Killed, errors.Join(waitCtx.Err(), fmt.Errorf("lifecycle: %s (pid %d) still runs after SIGKILL: %w", cfg.DaemonName, pid, werr))
	}
	started.remove(pid, id)
	return Killed, waitCtx.Err()
}

var errTimeout = errors.New("timed out")

// askToStop POSTs to daemon's shutdown URL over a connection whose server
// end pr or a descendant holds, or sends SIGTERM where there is no such URL, no such
// connection, or the answer is not 2xx. The request is made even when ctx
// is done (see Stop). A process that has exited meanwhile is fine.
func askToStop(ctx context.Context, pr *proc, daemon daemoncontract.HttpDaemonConfig) error {
	if shutdownURL, err := daemon.ShutdownURL(); err == nil {
		if _, _, err := request(context.WithoutCancel(ctx), http.MethodPost, shutdownURL, pr, RequestTimeout); err == nil {
			return nil
		}
	}
	if err := pr.signal(sigTerm); err != nil && !errors.Is(err, errGone) {
		return err
	}
	return nil
}
