package daemoncontract_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestAlreadyRunning(t *testing.T) {
	h := daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833")
	assert.False(t, h.ShouldCleanup(), "a daemon that was already running is not ours to stop")
	assert.Equal(t, "queen-rbee", h.DaemonName())
	assert.Equal(t, "http://localhost:7833", h.BaseURL())
	pid, ok := h.PID()
	assert.False(t, ok)
	assert.Zero(t, pid)
}

func TestStartedByUs(t *testing.T) {
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345)))
	assert.True(t, h.ShouldCleanup(), "a daemon we started is ours to stop")
	assert.Equal(t, "rbee-hive", h.DaemonName())
	assert.Equal(t, "http://localhost:7835", h.BaseURL())
	pid, ok := h.PID()
	assert.True(t, ok)
	assert.Equal(t, uint32(12345), pid)
}

func TestStartedByUsUnknownPID(t *testing.T) {
	h := daemoncontract.StartedByUs("vllm-worker", "http://localhost:8080", nil)
	assert.True(t, h.ShouldCleanup())
	pid, ok := h.PID()
	assert.False(t, ok, "nil means the pid is unknown")
	assert.Zero(t, pid)
}

func TestStartedByUsPIDZeroIsKnown(t *testing.T) {
	// A known pid of 0 is not the same as an unknown pid; Validate is what
	// rejects it.
	h := daemoncontract.StartedByUs("q", "http://x", new(uint32(0)))
	pid, ok := h.PID()
	assert.True(t, ok)
	assert.Zero(t, pid)
	assert.NotEqual(t, daemoncontract.StartedByUs("q", "http://x", nil), h)
}

func TestStartedByUsCopiesPID(t *testing.T) {
	pid := uint32(7)
	h := daemoncontract.StartedByUs("q", "http://x", &pid)
	pid = 8
	got, _ := h.PID()
	assert.Equal(t, uint32(7), got, "the handle must not share the caller's variable")
}

func TestProcessIdentity(t *testing.T) {
	const id = "linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213"
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(4242)))
	_, ok := h.ProcessIdentity()
	assert.False(t, ok, "StartedByUs knows no identity")

	withID := h.WithProcessIdentity(id)
	got, ok := withID.ProcessIdentity()
	assert.True(t, ok)
	assert.Equal(t, id, got)
	_, ok = h.ProcessIdentity()
	assert.False(t, ok, "the original handle is unchanged")
	assert.NotEqual(t, h, withID)

	// Everything else is kept.
	assert.Equal(t, "rbee-hive", withID.DaemonName())
	assert.Equal(t, "http://localhost:7835", withID.BaseURL())
	assert.True(t, withID.ShouldCleanup())
	pid, ok := withID.PID()
	assert.True(t, ok)
	assert.Equal(t, uint32(4242), pid)

	// A new identity replaces the old one; discovery keeps it.
	other := withID.WithProcessIdentity("linux:x:1")
	got, _ = other.ProcessIdentity()
	assert.Equal(t, "linux:x:1", got)
	got, _ = withID.WithDiscoveredURL("http://10.0.0.7:7835").ProcessIdentity()
	assert.Equal(t, id, got)

	// An empty identity is kept, not dropped: it is present, and Validate
	// rejects it.
	empty := h.WithProcessIdentity("")
	got, ok = empty.ProcessIdentity()
	assert.True(t, ok)
	assert.Empty(t, got)
	assert.NotEqual(t, h, empty)
}

func TestZeroDaemonHandle(t *testing.T) {
	var h daemoncontract.DaemonHandle
	assert.False(t, h.ShouldCleanup(), "the zero handle must never ask for cleanup")
	assert.Empty(t, h.DaemonName())
	assert.Empty(t, h.BaseURL())
	_, ok := h.PID()
	assert.False(t, ok)
	_, ok = h.ProcessIdentity()
	assert.False(t, ok)
}

func TestWithDiscoveredURL(t *testing.T) {
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(42)))
	moved := h.WithDiscoveredURL("http://192.168.1.100:7835")

	assert.Equal(t, "http://192.168.1.100:7835", moved.BaseURL())
	assert.Equal(t, "http://localhost:7835", h.BaseURL(), "the original handle is unchanged")
	assert.Equal(t, "rbee-hive", moved.DaemonName())
	assert.True(t, moved.ShouldCleanup(), "discovery does not change who owns the daemon")
	pid, ok := moved.PID()
	assert.True(t, ok)
	assert.Equal(t, uint32(42), pid)
}

func TestDaemonHandleIsComparable(t *testing.T) {
	a := daemoncontract.StartedByUs("q", "http://x", new(uint32(1)))
	tests := []struct {
		name  string
		b     daemoncontract.DaemonHandle
		equal bool
	}{
		{"same fields", daemoncontract.StartedByUs("q", "http://x", new(uint32(1))), true},
		{"other name", daemoncontract.StartedByUs("r", "http://x", new(uint32(1))), false},
		{"other owner", daemoncontract.AlreadyRunning("q", "http://x"), false},
		{"other URL", daemoncontract.StartedByUs("q", "http://y", new(uint32(1))), false},
		{"other pid", daemoncontract.StartedByUs("q", "http://x", new(uint32(2))), false},
		{"no pid", daemoncontract.StartedByUs("q", "http://x", nil), false},
		{"with an identity", daemoncontract.StartedByUs("q", "http://x", new(uint32(1))).WithProcessIdentity("linux:b:1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.equal, a == tt.b)
		})
	}

	seen := map[daemoncontract.DaemonHandle]int{a: 1}
	seen[daemoncontract.StartedByUs("q", "http://x", new(uint32(1)))]++
	assert.Equal(t, map[daemoncontract.DaemonHandle]int{a: 2}, seen, "equal handles are one map key")

	b := a.WithProcessIdentity("linux:b:1")
	assert.True(t, b == a.WithProcessIdentity("linux:b:1"), "identities compare by value, not by pointer")
	assert.False(t, b == a.WithProcessIdentity("linux:b:2"))
}

func TestDaemonHandleSharedBetweenGoroutines(t *testing.T) {
	// Run with -race: a handle is a value that readers share without locks.
	h := daemoncontract.StartedByUs("q", "http://x", new(uint32(9)))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			moved := h.WithDiscoveredURL("http://y")
			_, _ = h.PID()
			_ = h.ShouldCleanup() && moved.BaseURL() != h.BaseURL()
		})
	}
	wg.Wait()
	assert.Equal(t, "http://x", h.BaseURL())
}

var daemonHandleJSONTests = []jsonTest[daemoncontract.DaemonHandle]{
	{
		name: "already running",
		in:   `{"daemon_name":"queen-rbee","started_by_us":false,"base_url":"http://localhost:7833"}`,
		want: daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833"),
		out:  `{"daemon_name":"queen-rbee","started_by_us":false,"base_url":"http://localhost:7833"}`,
	},
	{
		name: "started by us with pid",
		in:   `{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345}`,
		want: daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345))),
		out:  `{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345}`,
	},
	{
		name: "null pid is unknown",
		in:   `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":null}`,
		want: daemoncontract.StartedByUs("w", "http://x", nil),
		out:  `{"daemon_name":"w","started_by_us":true,"base_url":"http://x"}`,
	},
	{
		name: "pid 0 is kept",
		in:   `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":0}`,
		want: daemoncontract.StartedByUs("w", "http://x", new(uint32(0))),
		out:  `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":0}`,
	},
	{
		name: "largest pid",
		in:   `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":4294967295}`,
		want: daemoncontract.StartedByUs("w", "http://x", new(uint32(4294967295))),
		out:  `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":4294967295}`,
	},
	{
		name: "process identity, written after pid",
		in:   `{"process_identity":"linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213","pid":12345,"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835"}`,
		want: daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345))).WithProcessIdentity("linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213"),
		out:  `{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345,"process_identity":"linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213"}`,
	},
	{
		name: "null process identity is unknown",
		in:   `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":7,"process_identity":null}`,
		want: daemoncontract.StartedByUs("w", "http://x", new(uint32(7))),
		out:  `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":7}`,
	},
	{
		name: "empty process identity is kept",
		in:   `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","process_identity":""}`,
		want: daemoncontract.StartedByUs("w", "http://x", nil).WithProcessIdentity(""),
		out:  `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","process_identity":""}`,
	},
	{
		name: "escapes in the process identity",
		in:   `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":7,"process_identity":"linux:\u0061b:1"}`,
		want: daemoncontract.StartedByUs("w", "http://x", new(uint32(7))).WithProcessIdentity("linux:ab:1"),
		out:  `{"daemon_name":"w","started_by_us":true,"base_url":"http://x","pid":7,"process_identity":"linux:ab:1"}`,
	},
	{
		name: "empty strings are kept",
		in:   `{"daemon_name":"","started_by_us":false,"base_url":""}`,
		want: daemoncontract.AlreadyRunning("", ""),
		out:  `{"daemon_name":"","started_by_us":false,"base_url":""}`,
	},
}

func TestDaemonHandleJSON(t *testing.T) {
	runJSONTests(t, daemonHandleJSONTests)
}

func TestDaemonHandleAlreadyRunningWithPID(t *testing.T) {
	// No constructor makes this combination, but the wire allows it and a
	// decoded handle keeps it.
	const in = `{"daemon_name":"w","started_by_us":false,"base_url":"http://x","pid":5}`
	for _, cd := range allCodecs {
		var h daemoncontract.DaemonHandle
		assert.NoError(t, cd.unmarshal([]byte(in), &h), cd.name)
		assert.False(t, h.ShouldCleanup(), cd.name)
		pid, ok := h.PID()
		assert.True(t, ok, cd.name)
		assert.Equal(t, uint32(5), pid, cd.name)
		b, err := cd.marshal(h)
		assert.NoError(t, err, cd.name)
		assert.Equal(t, in, string(b), cd.name)
	}
}

func TestDaemonHandleDecodeKeepsNoOldState(t *testing.T) {
	// Decoding replaces the whole handle: a pid the message lacks is unknown
	// afterwards, whatever the destination held.
	h := daemoncontract.StartedByUs("old", "http://old", new(uint32(99)))
	assert.NoError(t, h.UnmarshalJSON([]byte(`{"daemon_name":"q","started_by_us":false,"base_url":"http://x"}`)))
	assert.Equal(t, daemoncontract.AlreadyRunning("q", "http://x"), h)
}

var daemonHandleDecodeErrorTests = []decodeErrorTest{
	{"missing started_by_us", `{"daemon_name":"q","base_url":"http://x"}`, "started_by_us"},
	{"missing daemon_name", `{"started_by_us":false,"base_url":"http://x"}`, "daemon_name"},
	{"missing base_url", `{"daemon_name":"q","started_by_us":false}`, "base_url"},
	{"null daemon_name", `{"daemon_name":null,"started_by_us":false,"base_url":"http://x"}`, "daemon_name"},
	{"null started_by_us", `{"daemon_name":"q","started_by_us":null,"base_url":"http://x"}`, "started_by_us"},
	{"string started_by_us", `{"daemon_name":"q","started_by_us":"true","base_url":"http://x"}`, "started_by_us"},
	{"pid too large", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":4294967296}`, "pid"},
	{"negative pid", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":-1}`, "pid"},
	{"negative zero pid", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":-0}`, "pid"},
	{"float pid", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1.0}`, "pid"},
	{"exponent pid", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1e3}`, "pid"},
	{"string pid", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":"7"}`, "pid"},
	{"duplicate pid", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1,"pid":2}`, "pid"},
	{"case-variant key", `{"daemon_name":"q","Started_By_Us":true,"base_url":"http://x"}`, "started_by_us"},
	{"number process identity", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1,"process_identity":48213}`, "process_identity"},
	{"object process identity", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1,"process_identity":{}}`, "process_identity"},
	{"duplicate process identity", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1,"process_identity":"a","process_identity":"b"}`, "process_identity"},
	{"lone surrogate in the process identity", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":1,"process_identity":"\udead"}`, "process_identity"},
	{"invalid UTF-8 in the process identity", "{\"daemon_name\":\"q\",\"started_by_us\":true,\"base_url\":\"http://x\",\"process_identity\":\"\xc0\"}", "process_identity"},
	{"key matching only by Unicode folding", `{"daemon_name":"q","started_by_us":true,"ba\u017fe_url":"http://x"}`, "base_url"},
}

func TestDaemonHandleDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.DaemonHandle](t, daemonHandleDecodeErrorTests)
}

func TestDaemonHandleString(t *testing.T) {
	tests := []struct {
		h    daemoncontract.DaemonHandle
		want string
	}{
		{daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345))), "rbee-hive at http://localhost:7835, started by us, pid 12345"},
		{daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345))).WithProcessIdentity("linux:b:1"), "rbee-hive at http://localhost:7835, started by us, pid 12345"},
		{daemoncontract.StartedByUs("vllm-worker", "http://[::1]:8080", nil), "vllm-worker at http://[::1]:8080, started by us"},
		{daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833"), "queen-rbee at http://localhost:7833, not started by us"},
		{daemoncontract.DaemonHandle{}, `"" at "", not started by us`},
		// A handle from the wire cannot forge a log line, nor leak a password.
		{daemoncontract.AlreadyRunning("q\nlevel=ERROR msg=forged", "http://x"), `"q\nlevel=ERROR msg=forged" at http://x, not started by us`},
		{daemoncontract.AlreadyRunning("q", "http://admin:s3cret@h:1/x"), "q at http://xxxxx@h:1/x, not started by us"},
		{daemoncontract.AlreadyRunning("q", "http:///admin:s3cret@h:1/x"), "q at http:///xxxxx@h:1/x, not started by us"},
		{daemoncontract.AlreadyRunning("q\x1b[2J", "http://h/\u202e"), `"q\x1b[2J" at "http://h/\u202e", not started by us`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.h.String())
		assert.Equal(t, tt.want, fmt.Sprintf("%v", tt.h), "%%v")
		assert.Equal(t, tt.want, fmt.Sprintf("%+v", tt.h), "%%+v prints no internal fields")
		assert.NotContains(t, tt.h.String(), "\n")
	}
}

func TestDaemonHandleLogValue(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	h := daemoncontract.StartedByUs("rbee-hive", "http://admin:s3cret@localhost:7835", new(uint32(12345))).WithProcessIdentity("linux:b:1")
	log.Info("stopping", "daemon", h)
	log.Info("found", "daemon", daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833"))
	assert.Equal(t,
		`{"level":"INFO","msg":"stopping","daemon":{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://xxxxx@localhost:7835","pid":12345,"process_identity":"linux:b:1"}}`+"\n"+
			`{"level":"INFO","msg":"found","daemon":{"daemon_name":"queen-rbee","started_by_us":false,"base_url":"http://localhost:7833"}}`+"\n",
		buf.String())

	buf.Reset()
	text := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	text.Info("stopping", "daemon", daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345))))
	assert.Equal(t, "level=INFO msg=stopping daemon.daemon_name=rbee-hive daemon.started_by_us=true daemon.base_url=http://localhost:7835 daemon.pid=12345\n", buf.String())
}

func TestDaemonHandleGoString(t *testing.T) {
	// %#v shows every field that is set, in Go syntax, and hides user
	// information as String and LogValue do.
	tests := []struct {
		h    daemoncontract.DaemonHandle
		want string
	}{
		{daemoncontract.StartedByUs("rbee-hive", "http://admin:s3cret@localhost:7835", new(uint32(12345))).WithProcessIdentity("linux:b:1"),
			`daemoncontract.DaemonHandle{daemonName:"rbee-hive", startedByUs:true, baseURL:"http://xxxxx@localhost:7835", pid:12345, processIdentity:"linux:b:1"}`},
		{daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833"),
			`daemoncontract.DaemonHandle{daemonName:"queen-rbee", startedByUs:false, baseURL:"http://localhost:7833"}`},
		{daemoncontract.DaemonHandle{}, `daemoncontract.DaemonHandle{daemonName:"", startedByUs:false, baseURL:""}`},
		{daemoncontract.AlreadyRunning("q\n", "http:admin:hunter2@h"), `daemoncontract.DaemonHandle{daemonName:"q\n", startedByUs:false, baseURL:"http:xxxxx@h"}`},
	}
	for _, tt := range tests {
		got := fmt.Sprintf("%#v", tt.h)
		assert.Equal(t, tt.want, got)
		assert.NotContains(t, got, "s3cret")
		assert.NotContains(t, got, "hunter2")
		assert.NotContains(t, fmt.Sprintf("%#v", []daemoncontract.DaemonHandle{tt.h}), "s3cret", "inside a slice too")
	}
}

// README, Compared with Rust: String and LogValue show no user information
// from the URL; GoString's doc: %#v shows "the base URL with its user
// information replaced by "xxxxx"".
//
// fmt calls String only for %v %s %q %x %X, and GoString only for %#v; for
// any other verb (a typo such as %d in a log call), and for a handle in an
// unexported struct field (fmt cannot call its methods there), fmt prints
// the raw fields, password included.
func TestHandlePrintingHidesUserInformation(t *testing.T) {
	h := daemoncontract.StartedByUs("rbee-hive", "http://admin:s3cret@localhost:7835", new(uint32(42)))
	type holder struct{ handle daemoncontract.DaemonHandle }
	for _, verb := range []string{"%d", "%t", "%o", "%b", "%e", "%c", "%U", "%p"} {
		for _, v := range []any{h, &h, []daemoncontract.DaemonHandle{h}, map[string]daemoncontract.DaemonHandle{"h": h}} {
			got := fmt.Sprintf(verb, v)
			assert.NotContains(t, got, "s3cret", "fmt %s of %T", verb, v)
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		got := fmt.Sprintf(verb, holder{h})
		assert.NotContains(t, got, "s3cret", "fmt %s of a struct holding the handle in an unexported field", verb)
	}
}

// README, Safety: "credentials in URLs end up in logs (errors and `String`
// show them as `xxxxx`)".
//
// A password that holds / ? or # (a base64 password holds /) ends the
// authority early, so the URL is malformed and redactUserinfo finds no @
// in the authority: the error, String and GoString repeat the password. A
// URL without a scheme ("//admin:s3cret@h/") keeps its user name.
func TestUserInformationHiddenInMalformedURLs(t *testing.T) {
	for _, tt := range []struct{ url, secret string }{
		{"http://admin:pa/ss@localhost:7835/", "pa/ss"},
		{"http://admin:pa#ss@localhost:7835/", "pa#ss"},
		{"http://admin:pa?ss@localhost:7835/", "pa?ss"},
		{"//admin:s3cret@localhost:7835/", "admin"},
	} {
		h := daemoncontract.AlreadyRunning("rbee-hive", tt.url)
		err := h.Validate()
		require.Error(t, err)
		for what, got := range map[string]string{"Validate's error": err.Error(), "String": h.String(), "GoString": h.GoString()} {
			assert.NotContains(t, got, tt.secret, "%s of base_url %q", what, tt.url)
		}
	}
}
