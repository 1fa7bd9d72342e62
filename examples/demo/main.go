// Command demo shows the daemon contract driving a real daemon lifecycle.
//
// It installs a small HTTP daemon (a copy of this program, which run with
// -serve plays queen-rbee on a free loopback port) into a temporary
// directory, starts it from there, and walks its lifecycle through the
// example packages:
//
//  1. install: the daemon's binary is copied into the directory that the
//     installer's policy allows; the receipt carries its sha256.
//  2. ensure: the daemon is not running, so the demo starts the installed
//     binary; the handle says started_by_us, and carries the pid and
//     process_identity.
//  3. status: the daemon answers its health check.
//  4. ensure again: now it is already running, and this second handle does
//     not own it.
//  5. uninstall: refused, because a process runs the binary.
//  6. stop through the second handle: nothing happens, it is not ours.
//  7. stop through the first handle: the daemon is asked to stop, and exits.
//  8. uninstall: the receipt proves the file is the one installed, and no
//     process runs it: it is removed.
//
// Each step prints one line: a JSON object with that step's contract
// messages, exactly as json.Marshal writes them. The demo exits 0 and leaves
// no process and no file behind; if the demo is killed, its child notices
// its stdin close and exits too (the temporary directory stays).
//
// Run it with make demo, or go run ./examples/demo.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/install"
	"github.com/rbee-keeper/daemoncontract/examples/lifecycle"
	"github.com/rbee-keeper/daemoncontract/examples/queenlifecycle"
)

func main() {
	serveAddr := flag.String("serve", "", "run as the demo daemon, serving on this address (used by the demo itself)")
	flag.Parse()
	if *serveAddr != "" {
		if err := serve(*serveAddr, os.Stdin); err != nil {
			fmt.Fprintln(os.Stderr, "demo daemon:", err)
			os.Exit(1)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// step is one line of the demo's output: a step's name, its contract
// messages, and how it ended.
type step struct {
	Step      string                           `json:"step"`
	Install   *daemoncontract.InstallConfig    `json:"install,omitempty"`
	Uninstall *daemoncontract.UninstallConfig  `json:"uninstall,omitempty"`
	Receipt   *daemoncontract.InstallResult    `json:"receipt,omitempty"`
	Config    *daemoncontract.HttpDaemonConfig `json:"config,omitempty"`
	Request   *daemoncontract.StatusRequest    `json:"request,omitempty"`
	Response  *daemoncontract.StatusResponse   `json:"response,omitempty"`
	Handle    *daemoncontract.DaemonHandle     `json:"handle,omitempty"`
	Shutdown  *daemoncontract.ShutdownConfig   `json:"shutdown,omitempty"`
	Outcome   string                           `json:"outcome,omitempty"`
	Error     string                           `json:"error,omitempty"`
}

// run walks the lifecycle and prints one line a step to w. It returns once
// the daemon it started has exited and been reaped, and its binary removed.
func run(ctx context.Context, w io.Writer) error {
	emit := func(s step) error {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}

	// The installer may write into one directory only: bin, in a new
	// temporary directory.
	tmp, err := os.MkdirTemp("", "daemoncontract-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		return err
	}
	policy := install.Policy{Dirs: []string{bin}}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	installCfg := daemoncontract.InstallConfig{BinaryName: queenlifecycle.DaemonName, BinaryPath: &exe, TargetPath: &bin}
	receipt, err := install.Install(ctx, policy, installCfg)
	if err != nil {
		return err
	}
	if err := emit(step{Step: "install", Install: &installCfg, Receipt: &receipt}); err != nil {
		return err
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	cfg := queenlifecycle.Config("127.0.0.1", port)
	child := &child{exe: receipt.BinaryPath, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	defer child.close()

	ours, err := queenlifecycle.EnsureProcess(ctx, cfg, child.start)
	if err != nil {
		return err
	}
	if err := emit(step{Step: "ensure", Config: &cfg, Handle: &ours}); err != nil {
		return err
	}

	req := daemoncontract.StatusRequest{ID: "queen", JobID: new("demo-1")}
	resp, err := lifecycle.Status(ctx, cfg, req)
	if err != nil {
		return err
	}
	if err := emit(step{Step: "status", Request: &req, Response: &resp}); err != nil {
		return err
	}

	theirs, err := queenlifecycle.EnsureProcess(ctx, cfg, child.start)
	if err != nil {
		return err
	}
	if err := emit(step{Step: "ensure", Config: &cfg, Handle: &theirs}); err != nil {
		return err
	}

	uninstallCfg := daemoncontract.UninstallConfig{DaemonName: queenlifecycle.DaemonName, InstallPath: receipt.BinaryPath}
	err = install.Uninstall(ctx, policy, uninstallCfg, receipt)
	if !errors.Is(err, install.ErrRunning) {
		return fmt.Errorf("uninstall while the daemon runs: want a refusal, got %v", err)
	}
	if err := emit(step{Step: "uninstall", Uninstall: &uninstallCfg, Receipt: &receipt, Outcome: "refused", Error: err.Error()}); err != nil {
		return err
	}

	pid, _ := ours.PID()
	shutdown := daemoncontract.NewShutdownConfig(queenlifecycle.DaemonName, pid)
	for _, h := range []queenlifecycle.QueenHandle{theirs, ours} {
		outcome, err := queenlifecycle.Stop(ctx, h, shutdown, cfg)
		if err != nil {
			return err
		}
		if err := emit(step{Step: "stop", Handle: &h, Shutdown: &shutdown, Outcome: outcome.String()}); err != nil {
			return err
		}
	}

	select {
	case <-child.exited:
	case <-ctx.Done():
		return fmt.Errorf("the daemon did not exit: %w", ctx.Err())
	}
	if err := install.Uninstall(ctx, policy, uninstallCfg, receipt); err != nil {
		return err
	}
	return emit(step{Step: "uninstall", Uninstall: &uninstallCfg, Receipt: &receipt, Outcome: "removed"})
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// child is the daemon process the demo starts: the installed copy of this
// program, run with -serve.
type child struct {
	exe    string // the installed binary
	addr   string
	stdin  io.Closer     // closing it tells the daemon to exit
	cmd    *exec.Cmd     // nil until started
	exited chan struct{} // closed once the process has exited and been reaped
}

// start starts the daemon, for lifecycle.EnsureProcess, and reaps it when
// it exits. It returns the *os.Process, whose pidfd Stop signals through.
func (c *child) start(context.Context) (*os.Process, error) {
	if c.cmd != nil {
		return nil, errors.New("the demo daemon was started already")
	}
	cmd := exec.Command(c.exe, "-serve", c.addr)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.cmd, c.stdin, c.exited = cmd, stdin, make(chan struct{})
	go func() { _ = cmd.Wait(); close(c.exited) }()
	return cmd.Process, nil
}

// close makes sure the daemon is gone when the demo returns, whatever
// happened: closing its stdin asks it to exit, and a kill follows.
func (c *child) close() {
	if c.cmd == nil {
		return
	}
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(2 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
}

// serve is the demo daemon: /health answers "ok", and a POST to /v1/shutdown
// makes it exit. It also exits when stdin closes, which happens when the demo
// that started it exits, however it exits.
func serve(addr string, stdin io.Reader) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	stop := make(chan struct{})
	var once sync.Once
	exit := func() { once.Do(func() { close(stop) }) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		exit()
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _, _ = io.Copy(io.Discard, stdin); exit() }()
	go func() { _ = srv.Serve(ln) }()
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}
