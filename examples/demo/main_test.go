//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	require.Len(t, lines, 8, "one line a step:\n%s", out.String())
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

	// The demo installs a copy of its own binary (here, the test binary).
	exe, err := os.Executable()
	require.NoError(t, err)
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	assert.Equal(t, "install", field(0, "step"))
	assert.Equal(t, exe, field(0, "install", "binary_path"))
	assert.Equal(t, "queen-rbee", field(0, "install", "binary_name"))
	installed := field(0, "receipt", "binary_path")
	assert.Equal(t, filepath.Join(field(0, "install", "target_path").(string), "queen-rbee"), installed)
	assert.Equal(t, hex.EncodeToString(sum[:]), field(0, "receipt", "sha256"))

	assert.Equal(t, "ensure", field(1, "step"))
	assert.Equal(t, "queen-rbee", field(1, "handle", "daemon_name"))
	assert.Equal(t, true, field(1, "handle", "started_by_us"))
	pid := field(1, "handle", "pid")
	require.NotNil(t, pid)
	identity := field(1, "handle", "process_identity")
	assert.Regexp(t, "^linux:[0-9a-f-]+:[0-9]+$", identity)

	assert.Equal(t, "status", field(2, "step"))
	assert.Equal(t, true, field(2, "response", "is_running"))
	assert.Equal(t, "queen", field(2, "response", "id"))
	assert.Equal(t, "200 OK", field(2, "response", "health_status"))

	assert.Equal(t, "ensure", field(3, "step"))
	assert.Equal(t, false, field(3, "handle", "started_by_us"))
	assert.NotContains(t, field(3, "handle"), "pid")
	assert.NotContains(t, field(3, "handle"), "process_identity")

	// The daemon runs the installed binary: the uninstaller refuses.
	assert.Equal(t, "uninstall", field(4, "step"))
	assert.Equal(t, installed, field(4, "uninstall", "install_path"))
	assert.Equal(t, field(0, "receipt"), field(4, "receipt"))
	assert.Equal(t, "refused", field(4, "outcome"))
	assert.Contains(t, field(4, "error"), fmt.Sprintf("pid %v runs %s", pid, installed))

	assert.Equal(t, "stop", field(5, "step"))
	assert.Equal(t, "not ours", field(5, "outcome"))
	assert.Equal(t, false, field(5, "handle", "started_by_us"))

	assert.Equal(t, "stop", field(6, "step"))
	assert.Equal(t, "stopped gracefully", field(6, "outcome"))
	assert.Equal(t, pid, field(6, "shutdown", "pid"))
	assert.Equal(t, identity, field(6, "handle", "process_identity"))

	assert.Equal(t, "uninstall", field(7, "step"))
	assert.Equal(t, "removed", field(7, "outcome"))
	assert.Equal(t, field(0, "receipt"), field(7, "receipt"))

	// run returned after reaping its daemon: the pid is gone; and after
	// removing the binary and its temporary directory.
	assert.ErrorIs(t, syscall.Kill(int(pid.(float64)), 0), syscall.ESRCH, "no process left behind")
	assert.NoDirExists(t, filepath.Dir(filepath.Dir(installed.(string))), "no file left behind")
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
