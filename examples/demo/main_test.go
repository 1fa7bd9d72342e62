//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test binary stands in for the demo binary: run with -serve, it is the
// demo daemon.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == "-serve" {
		if err := serve(os.Args[2], os.Stdin); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDemo(t *testing.T) {
	t.Setenv("GORACE", os.Getenv("GORACE")+" atexit_sleep_ms=0") // the child need not linger under -race
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, run(ctx, &out))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 5, "one line a step:\n%s", out.String())
	var steps []map[string]any
	for _, line := range lines {
		var s map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &s), line)
		steps = append(steps, s)
	}
	field := func(i int, path ...string) any {
		var v any = steps[i]
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}

	assert.Equal(t, "ensure", field(0, "step"))
	assert.Equal(t, "queen-rbee", field(0, "handle", "daemon_name"))
	assert.Equal(t, true, field(0, "handle", "started_by_us"))
	pid := field(0, "handle", "pid")
	require.NotNil(t, pid)
	identity := field(0, "handle", "process_identity")
	assert.Regexp(t, "^linux:[0-9a-f-]+:[0-9]+$", identity)

	assert.Equal(t, "status", field(1, "step"))
	assert.Equal(t, true, field(1, "response", "is_running"))
	assert.Equal(t, "queen", field(1, "response", "id"))
	assert.Equal(t, "200 OK", field(1, "response", "health_status"))

	assert.Equal(t, "ensure", field(2, "step"))
	assert.Equal(t, false, field(2, "handle", "started_by_us"))
	assert.NotContains(t, field(2, "handle"), "pid")
	assert.NotContains(t, field(2, "handle"), "process_identity")

	assert.Equal(t, "stop", field(3, "step"))
	assert.Equal(t, "not ours", field(3, "outcome"))
	assert.Equal(t, false, field(3, "handle", "started_by_us"))

	assert.Equal(t, "stop", field(4, "step"))
	assert.Equal(t, "stopped gracefully", field(4, "outcome"))
	assert.Equal(t, pid, field(4, "shutdown", "pid"))
	assert.Equal(t, identity, field(4, "handle", "process_identity"))

	// run returned after reaping its daemon: the pid is gone.
	assert.ErrorIs(t, syscall.Kill(int(pid.(float64)), 0), syscall.ESRCH, "no process left behind")
}

func TestDaemonExitsWhenTheDemoDies(t *testing.T) {
	// The demo gives its daemon a stdin pipe and never writes to it; when the
	// demo dies, however it dies, the pipe closes and the daemon exits.
	t.Setenv("GORACE", os.Getenv("GORACE")+" atexit_sleep_ms=0")
	port, err := freePort()
	require.NoError(t, err)
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-serve", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the daemon serves")

	require.NoError(t, stdin.Close()) // what the demo's death does
	select {
	case err := <-exited:
		assert.NoError(t, err, "a clean exit")
	case <-time.After(10 * time.Second):
		t.Fatal("the daemon outlived its demo")
	}
}

func TestServeReportsABusyAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = serve(ln.Addr().String(), strings.NewReader(""))
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "%v", err)
}
