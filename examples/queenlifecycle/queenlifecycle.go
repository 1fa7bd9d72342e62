// Package queenlifecycle manages queen-rbee, the daemon that schedules inference across hives.
//
// It is an example of a downstream lifecycle package: the seed plan's
// migration step in Go. It aliases the contract's handle instead of defining
// its own, so a QueenHandle is a daemoncontract.DaemonHandle and needs no
// conversion, and it leaves the work to the shared example package
// [github.com/rbee-keeper/daemoncontract/examples/lifecycle].
package queenlifecycle

import (
	"context"
	"os"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/lifecycle"
)

// QueenHandle is the handle of the queen: the contract's handle under this
// package's name.
type QueenHandle = daemoncontract.DaemonHandle

// DaemonName is the daemon's name on the wire and in narration.
const DaemonName = "queen-rbee"

// DefaultPort is the port the daemon listens on unless configured otherwise.
const DefaultPort = 7833

// Config returns the HTTP config of the daemon on host and port: its health
// check at /health and its shutdown endpoint at /v1/shutdown; see
// [lifecycle.Config]. host is a name or an IP address, IPv6 without
// brackets: Config("::1", DefaultPort) checks http://[::1]:7833/health.
func Config(host string, port int) daemoncontract.HttpDaemonConfig {
	return lifecycle.Config(DaemonName, host, port)
}

// Ensure starts the daemon with start unless it is already running; see
// [lifecycle.Ensure].
func Ensure(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, start func(context.Context) (uint32, error)) (QueenHandle, error) {
	return lifecycle.Ensure(ctx, cfg, start)
}

// EnsureProcess starts the daemon with start unless it is already running,
// keeping the *os.Process that start returns; see [lifecycle.EnsureProcess].
func EnsureProcess(ctx context.Context, cfg daemoncontract.HttpDaemonConfig, start func(context.Context) (*os.Process, error)) (QueenHandle, error) {
	return lifecycle.EnsureProcess(ctx, cfg, start)
}

// Stop stops the daemon if h says this tool started it; see [lifecycle.Stop].
func Stop(ctx context.Context, h QueenHandle, cfg daemoncontract.ShutdownConfig, daemon daemoncontract.HttpDaemonConfig) (lifecycle.Outcome, error) {
	return lifecycle.Stop(ctx, h, cfg, daemon)
}
