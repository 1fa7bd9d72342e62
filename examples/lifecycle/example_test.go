//go:build linux

package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rbee-keeper/daemoncontract"
	"github.com/rbee-keeper/daemoncontract/examples/lifecycle"
)

// A keeper CLI runs twice: "keeper up" ensures the daemon, saves its handle
// to a file and exits, while the daemon runs on; later "keeper down", a new
// process, reads the handle back and stops the daemon, which the handle
// says this tool started. Here this program plays the three parts, in
// three processes, by the role in EXAMPLE_ROLE.
func Example_handleInAFile() {
	dir, err := os.MkdirTemp("", "keeper-") // mode 0700: only this user writes there
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the daemon
	if err != nil {
		panic(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	// The daemon exits when its stdin closes: when this example ends,
	// whatever happens.
	stdin, keep, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	defer keep.Close()
	run := func(role string, stdin *os.File) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "EXAMPLE_ROLE="+role, "EXAMPLE_PORT="+strconv.Itoa(port),
			"EXAMPLE_HANDLE="+filepath.Join(dir, "queen.json"),
			"GORACE=atexit_sleep_ms=0") // under go test -race, exit at once
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if stdin != nil {
			cmd.Stdin = stdin
		}
		if err := cmd.Run(); err != nil {
			panic(err)
		}
	}

	run("keeper up", stdin) // it passes its stdin on to the daemon
	stdin.Close()
	fmt.Println("after keeper up, the daemon answers:", answers(port))
	run("keeper down", nil)
	fmt.Println("after keeper down, the daemon answers:", answers(port))
	// Output:
	// keeper up: queen-rbee started by us, handle saved
	// after keeper up, the daemon answers: true
	// keeper down: stopped gracefully
	// after keeper down, the daemon answers: false
}

func init() {
	port, _ := strconv.Atoi(os.Getenv("EXAMPLE_PORT"))
	cfg := lifecycle.Config("queen-rbee", "127.0.0.1", port)
	var err error
	switch os.Getenv("EXAMPLE_ROLE") {
	case "":
		return // the example itself
	case "keeper up":
		err = keeperUp(cfg, os.Getenv("EXAMPLE_HANDLE"))
	case "keeper down":
		err = keeperDown(cfg, os.Getenv("EXAMPLE_HANDLE"))
	case "daemon":
		err = daemon(port)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// keeperUp ensures the daemon and writes its handle to path.
func keeperUp(cfg daemoncontract.HttpDaemonConfig, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := lifecycle.EnsureProcess(ctx, cfg, func(context.Context) (*os.Process, error) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "EXAMPLE_ROLE=daemon")
		cmd.Stdin = os.Stdin
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		// Reap it while this keeper runs; once it exits, init adopts the
		// daemon and reaps it.
		go func() { _ = cmd.Wait() }()
		return cmd.Process, nil
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(h) // pid and process_identity included
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return err
	}
	owner := "someone else"
	if h.ShouldCleanup() {
		owner = "us"
	}
	fmt.Printf("keeper up: %s started by %s, handle saved\n", h.DaemonName(), owner)
	return nil
}

// keeperDown reads the handle back from path, and stops the daemon if the
// handle says this tool started it.
func keeperDown(cfg daemoncontract.HttpDaemonConfig, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var h daemoncontract.DaemonHandle
	if err := json.Unmarshal(b, &h); err != nil { // strict: a malformed handle is an error
		return err
	}
	pid, _ := h.PID()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Stop validates the handle, and signals the process only if its pid
	// still names the process of the handle's process_identity.
	outcome, err := lifecycle.Stop(ctx, h, daemoncontract.NewShutdownConfig(h.DaemonName(), pid), cfg)
	if err != nil {
		return err
	}
	fmt.Println("keeper down:", outcome)
	return nil
}

// daemon serves /health, and exits on a POST to /v1/shutdown, or when its
// stdin closes.
func daemon(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return err
	}
	stop := make(chan struct{}, 2)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(http.ResponseWriter, *http.Request) {})
	mux.HandleFunc("POST /v1/shutdown", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		stop <- struct{}{}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); stop <- struct{}{} }()
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// answers reports whether the daemon on port answers its health check.
func answers(port int) bool {
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
