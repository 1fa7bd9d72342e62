package daemoncontract_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// validator is any contract type.
type validator interface{ Validate() error }

// brokenFields returns the fields that err's *FieldErrors name, in order,
// after checking that every error in err is one.
func brokenFields(t *testing.T, typ string, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	var fields []string
	for _, e := range errs {
		fe, ok := e.(*daemoncontract.FieldError)
		require.True(t, ok, "%T is not a *FieldError: %v", e, e)
		assert.Equal(t, typ, fe.Type)
		assert.True(t, strings.HasPrefix(fe.Err.Error(), "must"), "k8s style, says what the field must be: %q", fe.Err)
		fields = append(fields, fe.Field)
	}
	return fields
}

// validateCase is one value and the fields Validate must find broken.
type validateCase struct {
	name   string
	v      validator
	broken []string // nil: valid
}

func runValidateCases(t *testing.T, typ string, cases []validateCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Validate()
			assert.Equal(t, tt.broken, brokenFields(t, typ, err), "%v", err)
		})
	}
}

func TestDaemonHandleValidate(t *testing.T) {
	h := func(name, url string, pid *uint32) daemoncontract.DaemonHandle {
		return daemoncontract.StartedByUs(name, url, pid)
	}
	const id = "linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213"
	runValidateCases(t, "DaemonHandle", []validateCase{
		{"valid", h("queen-rbee", "http://localhost:7833", new(uint32(4242))), nil},
		{"valid https with IPv6 host", h("q", "https://[::1]:7833/base", nil), nil},
		{"already running, no pid", daemoncontract.AlreadyRunning("q", "http://x"), nil},
		{"empty daemon_name", h("", "http://x", nil), []string{"daemon_name"}},
		{"NUL in daemon_name", h("q\x00", "http://x", nil), []string{"daemon_name"}},
		{"empty base_url", h("q", "", nil), []string{"base_url"}},
		{"relative base_url", h("q", "localhost:7833", nil), []string{"base_url"}},
		{"no host name", h("q", "http://:80", nil), []string{"base_url"}},
		{"other scheme", h("q", "ftp://x", nil), []string{"base_url"}},
		{"opaque URL", h("q", "http:x", nil), []string{"base_url"}},
		{"unparsable URL", h("q", "http://%zz/", nil), []string{"base_url"}},
		{"NUL in base_url", h("q", "http://x\x00", nil), []string{"base_url"}},
		{"user information in base_url", h("q", "http://127.0.0.1:7833@evil.example", nil), []string{"base_url"}},
		{"pid 2", h("q", "http://x", new(uint32(2))), nil},
		{"pid 2147483647", h("q", "http://x", new(uint32(2147483647))), nil},
		{"pid 0", h("q", "http://x", new(uint32(0))), []string{"pid"}},
		{"pid 1 is init", h("q", "http://x", new(uint32(1))), []string{"pid"}},
		{"pid 2147483648", h("q", "http://x", new(uint32(2147483648))), []string{"pid"}},
		{"pid 4294967295", h("q", "http://x", new(uint32(math.MaxUint32))), []string{"pid"}},
		{"process identity with its pid", h("rbee-hive", "http://localhost:7835", new(uint32(4242))).WithProcessIdentity(id), nil},
		{"process identity of another system", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("freebsd:1234:5678"), nil},
		{"process identity of 128 bytes", h("q", "http://x", new(uint32(4242))).WithProcessIdentity(strings.Repeat("~", 128)), nil},
		{"process identity without a pid", h("q", "http://x", nil).WithProcessIdentity(id), []string{"process_identity"}},
		{"process identity on an already-running handle", daemoncontract.AlreadyRunning("q", "http://x").WithProcessIdentity(id), []string{"process_identity"}},
		{"empty process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity(""), []string{"process_identity"}},
		{"process identity of 129 bytes", h("q", "http://x", new(uint32(4242))).WithProcessIdentity(strings.Repeat("a", 129)), []string{"process_identity"}},
		{"space in process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux: 1"), []string{"process_identity"}},
		{"newline in process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux:1\n"), []string{"process_identity"}},
		{"non-ASCII process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux:é"), []string{"process_identity"}},
		{"DEL in process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux:\x7f"), []string{"process_identity"}},
		{"every rule at once", h("", "http://:80", new(uint32(0))).WithProcessIdentity(""), []string{"daemon_name", "base_url", "pid", "process_identity"}},
		{"zero handle", daemoncontract.DaemonHandle{}, []string{"daemon_name", "base_url"}},
	})
}

// The ordinary names of the rbee ecosystem, which every name rule accepts.
var ordinaryNames = []string{"queen-rbee", "rbee-hive", "llm-worker-rbee-cpu", "vllm-worker", "rbee-hive.exe", "w1", "A_b.c-9"}

// Names that every name rule rejects, and why.
var badNames = []struct{ name, why string }{
	{"", "empty"},
	{"-rf", "a leading - is an option once the name is an argument"},
	{".hidden", "a leading ."},
	{".", "the directory itself"},
	{"..", "the parent directory"},
	{"_x", "a leading _"},
	{"rbee hive", "a space"},
	{"rbee\nhive", "a newline"},
	{"\x1b[31mred", "an ANSI escape"},
	{"a/b", "a path separator"},
	{"../../bin/sh", "path traversal"},
	{`a\b`, "a Windows path separator"},
	{"a\x00b", "NUL"},
	{"rbee-hivé", "outside ASCII"},
	{"ｒｂｅｅ", "full-width look-alikes"},
	{"a:b", "a colon"},
	{strings.Repeat("a", 65), "longer than 64 bytes"},
}

func TestNameRules(t *testing.T) {
	// daemon_name in every type, and binary_name, follow one rule.
	messages := map[string]func(name string) validator{
		"DaemonHandle": func(n string) validator { return daemoncontract.AlreadyRunning(n, "http://x") },
		"UninstallConfig": func(n string) validator {
			return daemoncontract.UninstallConfig{DaemonName: n, InstallPath: "/opt/x/" + n}
		},
		"HttpDaemonConfig": func(n string) validator {
			return daemoncontract.HttpDaemonConfig{DaemonName: n, HealthURL: "http://x/health"}
		},
		"ShutdownConfig": func(n string) validator { return daemoncontract.NewShutdownConfig(n, 4242) },
	}
	fields := map[string]string{"DaemonHandle": "daemon_name", "UninstallConfig": "daemon_name", "HttpDaemonConfig": "daemon_name", "ShutdownConfig": "daemon_name", "InstallConfig": "binary_name"}
	messages["InstallConfig"] = func(n string) validator { return daemoncontract.InstallConfig{BinaryName: n} }
	for typ, make := range messages {
		for _, n := range ordinaryNames {
			assert.NoError(t, make(n).Validate(), "%s %q", typ, n)
		}
		assert.NoError(t, make(strings.Repeat("a", 64)).Validate(), "%s: 64 bytes", typ)
		for _, bad := range badNames {
			err := make(bad.name).Validate()
			assert.Contains(t, brokenFields(t, typ, err), fields[typ], "%s %q: %s", typ, bad.name, bad.why)
		}
	}
}

func TestControlCharacters(t *testing.T) {
	// No string member may hold a C0 control, DEL or a C1 control, nor a
	// Unicode format character or separator; each type is tried through a
	// member whose other rules the value passes.
	controls := []string{"\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\u0080", "\u0085", "\u009b", "\u009f",
		// Unicode format characters and separators, which reorder, hide
		// or break text: bidi overrides and isolates, zero-width
		// characters, the byte order mark, line and paragraph separators.
		"\u202e", "\u202a", "\u2066", "\u061c", "\u200b", "\u200d", "\ufeff", "\u2028", "\u2029"}
	allowed := []string{" ", "~", "\u00a0", "é", "😀", "漢字"} // printable, or not a control
	fields := []struct {
		typ, field string
		make       func(s string) validator
	}{
		{"StatusRequest", "id", func(s string) validator { return daemoncontract.StatusRequest{ID: "w" + s} }},
		{"StatusRequest", "job_id", func(s string) validator { return daemoncontract.StatusRequest{ID: "w", JobID: new("j" + s)} }},
		{"StatusResponse", "health_status", func(s string) validator {
			return daemoncontract.StatusResponse{ID: "w", HealthStatus: new("200 OK" + s)}
		}},
		{"InstallConfig", "target_path", func(s string) validator {
			return daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new("/opt/a" + s + "b")}
		}},
		{"InstallResult", "binary_path", func(s string) validator {
			return daemoncontract.InstallResult{BinaryPath: "/opt/a" + s + "b", InstallTime: time.Unix(1, 0)}
		}},
		{"HttpDaemonConfig", "health_url", func(s string) validator {
			return daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h/health?x=" + s}
		}},
	}
	for _, f := range fields {
		for _, c := range controls {
			assert.Equal(t, []string{f.field}, brokenFields(t, f.typ, f.make(c).Validate()), "%s.%s with %q", f.typ, f.field, c)
		}
		for _, c := range allowed {
			if f.field == "health_url" {
				continue // a URL has rules of its own about spaces and the like
			}
			assert.NoError(t, f.make(c).Validate(), "%s.%s with %q", f.typ, f.field, c)
		}
	}
}

func TestLengthCaps(t *testing.T) {
	pad := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name       string
		ok, tooBig validator
		typ, field string
	}{
		{"id: 256 bytes", daemoncontract.StatusRequest{ID: pad(256)}, daemoncontract.StatusRequest{ID: pad(257)}, "StatusRequest", "id"},
		{"job_id: 256 bytes", daemoncontract.StatusRequest{ID: "w", JobID: new(pad(256))}, daemoncontract.StatusRequest{ID: "w", JobID: new(pad(257))}, "StatusRequest", "job_id"},
		{"health_status: 1024 bytes", daemoncontract.StatusResponse{ID: "w", HealthStatus: new(pad(1024))}, daemoncontract.StatusResponse{ID: "w", HealthStatus: new(pad(1025))}, "StatusResponse", "health_status"},
		{"health_url: 2048 bytes",
			daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h/" + pad(2048-9)},
			daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h/" + pad(2048-8)}, "HttpDaemonConfig", "health_url"},
		{"base_url: 2048 bytes",
			daemoncontract.AlreadyRunning("q", "http://h/"+pad(2048-9)),
			daemoncontract.AlreadyRunning("q", "http://h/"+pad(2048-8)), "DaemonHandle", "base_url"},
		{"target_path: 4096 bytes",
			daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new("/" + pad(4095))},
			daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new("/" + pad(4096))}, "InstallConfig", "target_path"},
		{"install_path: 4096 bytes",
			daemoncontract.UninstallConfig{DaemonName: "q", InstallPath: "/" + pad(4093) + "/q"},
			daemoncontract.UninstallConfig{DaemonName: "q", InstallPath: "/" + pad(4094) + "/q"}, "UninstallConfig", "install_path"},
		{"shutdown_endpoint: 256 bytes",
			daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h", ShutdownEndpoint: new("/" + pad(255))},
			daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h", ShutdownEndpoint: new("/" + pad(256))}, "HttpDaemonConfig", "shutdown_endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NoError(t, tt.ok.Validate())
			err := tt.tooBig.Validate()
			assert.Equal(t, []string{tt.field}, brokenFields(t, tt.typ, err))
			assert.ErrorContains(t, err, "must be at most")
		})
	}
}

func TestShutdownConfigValidate(t *testing.T) {
	c := func(pid uint32, timeout uint64, job *string) validator {
		return daemoncontract.ShutdownConfig{DaemonName: "rbee-hive", PID: pid, GracefulTimeoutSecs: timeout, JobID: job}
	}
	runValidateCases(t, "ShutdownConfig", []validateCase{
		{"valid", daemoncontract.NewShutdownConfig("rbee-hive", 4242), nil},
		{"pid 2", c(2, 5, nil), nil},
		{"pid 2147483647", c(2147483647, 5, nil), nil},
		{"pid 0 is the caller's process group", c(0, 5, nil), []string{"pid"}},
		{"pid 1 is init", c(1, 5, nil), []string{"pid"}},
		{"pid 2147483648 is a negative pid_t", c(2147483648, 5, nil), []string{"pid"}},
		{"pid 4294967295 is -1, every process", c(4294967295, 5, nil), []string{"pid"}},
		{"timeout 0", c(2, 0, nil), nil},
		{"largest timeout", c(2, 9223372036, nil), nil},
		{"timeout beyond a Duration", c(2, 9223372037, nil), []string{"graceful_timeout_secs"}},
		{"largest wire timeout", c(2, math.MaxUint64, nil), []string{"graceful_timeout_secs"}},
		{"job_id", c(2, 5, new("job-1")), nil},
		{"empty job_id", c(2, 5, new("")), []string{"job_id"}},
		{"NUL in job_id", c(2, 5, new("a\x00b")), []string{"job_id"}},
		{"empty daemon_name", daemoncontract.NewShutdownConfig("", 2), []string{"daemon_name"}},
		{"every rule at once", daemoncontract.ShutdownConfig{PID: 1, GracefulTimeoutSecs: math.MaxUint64, JobID: new("")},
			[]string{"daemon_name", "pid", "graceful_timeout_secs", "job_id"}},
	})
}

func TestHttpDaemonConfigValidate(t *testing.T) {
	c := func(health string, endpoint *string) validator {
		return daemoncontract.HttpDaemonConfig{DaemonName: "queen-rbee", HealthURL: health, ShutdownEndpoint: endpoint}
	}
	const health = "http://localhost:7833/health"
	runValidateCases(t, "HttpDaemonConfig", []validateCase{
		{"valid", c(health, new("/v1/shutdown")), nil},
		{"no endpoint", c(health, nil), nil},
		{"health_url with query", c("https://h:1/health?verbose=1", nil), nil},
		{"IPv6 health_url", c("http://[::1]:7833/health", nil), nil},
		{"IPv6 health_url with a zone", c("http://[fe80::1%25eth0]:7833/health", nil), nil},
		{"IPv4 health_url", c("http://127.0.0.1:7835/health", nil), nil},
		{"host name with underscore", c("http://rbee_hive:7835/health", nil), nil},
		{"IDN host in its xn-- form", c("http://xn--bcher-kva.example/health", nil), nil},
		{"largest port", c("http://h:65535/health", nil), nil},
		{"upper-case scheme", c("HTTP://h/health", nil), nil},
		{"health_url without host", c("http://:7833/health", nil), []string{"health_url"}},
		{"health_url relative", c("/health", nil), []string{"health_url"}},
		{"health_url empty", c("", nil), []string{"health_url"}},
		{"health_url file scheme", c("file:///etc/passwd", nil), []string{"health_url"}},
		{"user information hides the real host", c("http://127.0.0.1:7833@evil.example/health", nil), []string{"health_url"}},
		{"credentials", c("http://admin:s3cret@localhost:7833/health", nil), []string{"health_url"}},
		{"empty user information", c("http://@localhost:7833/health", nil), []string{"health_url"}},
		{"port 0", c("http://h:0/health", nil), []string{"health_url"}},
		{"port 65536", c("http://h:65536/health", nil), []string{"health_url"}},
		{"port 99999", c("http://h:99999/health", nil), []string{"health_url"}},
		{"port with a leading zero", c("http://h:07833/health", nil), []string{"health_url"}},
		{"empty port", c("http://h:/health", nil), []string{"health_url"}},
		{"IPv6 without brackets", c("http://::1:7833/health", nil), []string{"health_url"}},
		{"IPv4 in brackets", c("http://[127.0.0.1]:7833/health", nil), []string{"health_url"}},
		{"text after the IPv6 brackets", c("http://[::1]x/health", nil), []string{"health_url"}},
		{"IDN host", c("http://bücher.example/health", nil), []string{"health_url"}},
		{"full-width host", c("http://ｌｏｃａｌｈｏｓｔ:7833/health", nil), []string{"health_url"}},
		{"percent-escape in the host", c("http://local%68ost:7833/health", nil), []string{"health_url"}},
		{"a zone of unreserved characters", c("http://[fe80::1%25eth0.1_x~-]:7833/health", nil), nil},
		{"a percent-escape in the zone", c("http://[fe80::1%25%5B]:7833/health", nil), []string{"health_url"}},
		{"markup in the zone", c("http://[fe80::1%25%3Cscript%3E]/health", nil), []string{"health_url"}},
		{"an empty zone", c("http://[fe80::1%25]/health", nil), []string{"health_url"}},
		{"an octal IPv4 address", c("http://0177.0.0.1:7833/health", nil), []string{"health_url"}},
		{"a hex IPv4 address", c("http://0x7f.1:7833/health", nil), []string{"health_url"}},
		{"an IPv4 address as one number", c("http://2130706433:7833/health", nil), []string{"health_url"}},
		{"an IPv4 address of two parts", c("http://127.1:7833/health", nil), []string{"health_url"}},
		{"zero as a host", c("http://0:7833/health", nil), []string{"health_url"}},
		{"an IPv4 address with a trailing dot", c("http://127.0.0.1.:7833/health", nil), []string{"health_url"}},
		{"a name whose last label is a number", c("http://example.123/health", nil), []string{"health_url"}},
		{"a name that starts with a digit", c("http://1host:7833/health", nil), nil},
		{"endpoint root", c(health, new("/")), nil},
		{"endpoint with unreserved characters", c(health, new("/v1/shut-down_now.v2~x")), nil},
		{"endpoint with dots in a name", c(health, new("/v1/..shutdown./x.y")), nil},
		{"endpoint empty", c(health, new("")), []string{"shutdown_endpoint"}},
		{"endpoint relative", c(health, new("v1/shutdown")), []string{"shutdown_endpoint"}},
		{"endpoint naming another host", c(health, new("//evil.example/x")), []string{"shutdown_endpoint"}},
		{"endpoint with scheme", c(health, new("http://evil.example/x")), []string{"shutdown_endpoint"}},
		{"endpoint with query", c(health, new("/v1/shutdown?now=1")), []string{"shutdown_endpoint"}},
		{"endpoint with fragment", c(health, new("/v1/shutdown#x")), []string{"shutdown_endpoint"}},
		{"endpoint with backslash", c(health, new(`/\evil.example/x`)), []string{"shutdown_endpoint"}},
		{"endpoint with ..", c(health, new("/v1/../admin")), []string{"shutdown_endpoint"}},
		{"endpoint ending in ..", c(health, new("/v1/..")), []string{"shutdown_endpoint"}},
		{"endpoint with .", c(health, new("/./v1")), []string{"shutdown_endpoint"}},
		{"endpoint with an encoded slash naming another host", c(health, new("/%2fevil.example/x")), []string{"shutdown_endpoint"}},
		{"endpoint with percent-encoding", c(health, new("/v1/shut%20down")), []string{"shutdown_endpoint"}},
		{"endpoint with encoded ..", c(health, new("/v1/%2e%2e/admin")), []string{"shutdown_endpoint"}},
		{"endpoint with encoded backslash", c(health, new("/v1/%5cx")), []string{"shutdown_endpoint"}},
		{"endpoint with encoded NUL", c(health, new("/v1/%00")), []string{"shutdown_endpoint"}},
		{"endpoint with bad escape", c(health, new("/v1/%zz")), []string{"shutdown_endpoint"}},
		{"endpoint with NUL", c(health, new("/v1\x00")), []string{"shutdown_endpoint"}},
		{"endpoint with space", c(health, new("/v1/shut down")), []string{"shutdown_endpoint"}},
		{"endpoint with @", c(health, new("/@evil.example")), []string{"shutdown_endpoint"}},
		{"endpoint with colon", c(health, new("/a:b")), []string{"shutdown_endpoint"}},
		{"endpoint outside ASCII", c(health, new("/v1/é")), []string{"shutdown_endpoint"}},
		{"empty job_id", daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: health, JobID: new("")}, []string{"job_id"}},
		{"every rule at once", daemoncontract.HttpDaemonConfig{HealthURL: "x", ShutdownEndpoint: new("//h"), JobID: new("")},
			[]string{"daemon_name", "health_url", "shutdown_endpoint", "job_id"}},
	})
}

func TestInstallConfigValidate(t *testing.T) {
	c := func(name string, binary, target *string) validator {
		return daemoncontract.InstallConfig{BinaryName: name, BinaryPath: binary, TargetPath: target}
	}
	runValidateCases(t, "InstallConfig", []validateCase{
		{"valid", c("rbee-hive", new("/home/u/rbee/target/release/rbee-hive"), new("/usr/local/bin")), nil},
		{"name only", c("rbee-hive", nil, nil), nil},
		{"name with dots", c("rbee-hive.v2..x", nil, nil), nil},
		{"empty name", c("", nil, nil), []string{"binary_name"}},
		{"name is a path", c("../../bin/sh", nil, nil), []string{"binary_name"}},
		{"name with slash", c("bin/sh", nil, nil), []string{"binary_name"}},
		{"name with backslash", c(`..\sh`, nil, nil), []string{"binary_name"}},
		{"name .", c(".", nil, nil), []string{"binary_name"}},
		{"name ..", c("..", nil, nil), []string{"binary_name"}},
		{"name with NUL", c("sh\x00", nil, nil), []string{"binary_name"}},
		{"name that is an option", c("-rf", nil, nil), []string{"binary_name"}},
		{"root target", c("x", nil, new("/")), nil},
		{"relative binary_path", c("x", new("target/release/x"), nil), []string{"binary_path"}},
		{"binary_path with ..", c("x", new("/usr/../etc/x"), nil), []string{"binary_path"}},
		{"binary_path with trailing slash", c("x", new("/usr/bin/"), nil), []string{"binary_path"}},
		{"binary_path with //", c("x", new("//usr/bin"), nil), []string{"binary_path"}},
		{"empty target_path", c("x", nil, new("")), []string{"target_path"}},
		{"target_path with .", c("x", nil, new("/usr/./bin")), []string{"target_path"}},
		{"target_path with a newline", c("x", nil, new("/usr/local/bin\n")), []string{"target_path"}},
		{"empty job_id", daemoncontract.InstallConfig{BinaryName: "x", JobID: new("")}, []string{"job_id"}},
		{"job_id of 257 bytes", daemoncontract.InstallConfig{BinaryName: "x", JobID: new(strings.Repeat("j", 257))}, []string{"job_id"}},
		{"every rule at once", daemoncontract.InstallConfig{BinaryName: "..", BinaryPath: new("a"), TargetPath: new("/a/.."), JobID: new("")},
			[]string{"binary_name", "binary_path", "target_path", "job_id"}},
	})
}

func TestUninstallConfigValidate(t *testing.T) {
	c := func(path string) validator {
		return daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: path}
	}
	runValidateCases(t, "UninstallConfig", []validateCase{
		{"valid", c("/home/u/.local/bin/queen-rbee"), nil},
		{"Windows binary", c("/opt/rbee/queen-rbee.exe"), nil},
		{"directly under the root", c("/queen-rbee"), nil},
		{"root", c("/"), []string{"install_path"}},
		{"double slash root", c("//"), []string{"install_path"}},
		{"a system directory", c("/usr"), []string{"install_path"}},
		{"another file", c("/etc/passwd"), []string{"install_path"}},
		{"a device", c("/dev/sda"), []string{"install_path"}},
		{"a directory named after the daemon", c("/opt/queen-rbee/bin"), []string{"install_path"}},
		{"another daemon's binary", c("/usr/local/bin/rbee-hive"), []string{"install_path"}},
		{"the name with another suffix", c("/usr/local/bin/queen-rbee.sh"), []string{"install_path"}},
		{"the name as a prefix", c("/usr/local/bin/queen-rbee-old"), []string{"install_path"}},
		{"relative", c("bin/queen-rbee"), []string{"install_path"}},
		{"climbs out", c("/home/u/../../etc/queen-rbee"), []string{"install_path"}},
		{"ends in ..", c("/home/.."), []string{"install_path"}},
		{"empty", c(""), []string{"install_path"}},
		{"NUL", c("/home/u\x00/queen-rbee"), []string{"install_path"}},
		{"an invalid daemon_name is reported once", daemoncontract.UninstallConfig{DaemonName: "-rf", InstallPath: "/usr/bin/-rf"}, []string{"daemon_name"}},
		{"every rule at once", daemoncontract.UninstallConfig{InstallPath: "/", JobID: new("")},
			[]string{"daemon_name", "install_path", "job_id"}},
	})
}

func TestInstallResultValidate(t *testing.T) {
	r := func(path string, at time.Time) validator {
		return daemoncontract.InstallResult{BinaryPath: path, InstallTime: at}
	}
	runValidateCases(t, "InstallResult", []validateCase{
		{"valid", r("/usr/local/bin/rbee-hive", time.Unix(1700000000, 0)), nil},
		{"the epoch", r("/b", time.Unix(0, 0)), nil},
		{"largest time", r("/b", time.Unix(math.MaxInt64, 0)), nil},
		{"before the epoch", r("/b", time.Unix(-1, 0)), []string{"install_time"}},
		{"zero time", r("/b", time.Time{}), []string{"install_time"}},
		{"relative path", r("b", time.Unix(0, 0)), []string{"binary_path"}},
		{"unclean path", r("/a/../b", time.Unix(0, 0)), []string{"binary_path"}},
		{"every rule at once", r("", time.Time{}), []string{"binary_path", "install_time"}},
	})
	const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	h := func(sha256 string) validator {
		return daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(0, 0), SHA256: &sha256}
	}
	runValidateCases(t, "InstallResult", []validateCase{
		{"no sha256", daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(0, 0)}, nil},
		{"a sha256", h(sum), nil},
		{"every digit", h(strings.Repeat("0123456789abcdef", 4)), nil},
		{"empty sha256", h(""), []string{"sha256"}},
		{"upper-case sha256", h(strings.ToUpper(sum)), []string{"sha256"}},
		{"one upper-case digit", h(sum[:63] + "A"), []string{"sha256"}},
		{"63 digits", h(sum[:63]), []string{"sha256"}},
		{"65 digits", h(sum + "0"), []string{"sha256"}},
		{"a SHA-512", h(sum + sum), []string{"sha256"}},
		{"not hex", h(sum[:63] + "g"), []string{"sha256"}},
		{"prefixed", h("sha256:" + sum[:57]), []string{"sha256"}},
		{"a space", h(sum[:63] + " "), []string{"sha256"}},
		{"NUL", h(sum[:63] + "\x00"), []string{"sha256"}},
		{"full-width digit", h(sum[:61] + "０"), []string{"sha256"}},
		{"every rule at once", daemoncontract.InstallResult{SHA256: new("x")}, []string{"binary_path", "install_time", "sha256"}},
	})
}

func TestStatusValidate(t *testing.T) {
	runValidateCases(t, "StatusRequest", []validateCase{
		{"valid", daemoncontract.StatusRequest{ID: "workstation", JobID: new("j")}, nil},
		{"empty id", daemoncontract.StatusRequest{}, []string{"id"}},
		{"NUL in id", daemoncontract.StatusRequest{ID: "\x00"}, []string{"id"}},
		{"invalid UTF-8 in id", daemoncontract.StatusRequest{ID: "\xff"}, []string{"id"}},
		{"empty job_id", daemoncontract.StatusRequest{ID: "w", JobID: new("")}, []string{"job_id"}},
	})
	runValidateCases(t, "StatusResponse", []validateCase{
		{"valid", daemoncontract.StatusResponse{ID: "w", IsRunning: true, HealthStatus: new("healthy"), Metadata: json.RawMessage(`{"port":7833}`)}, nil},
		{"not running is valid", daemoncontract.StatusResponse{ID: "w"}, nil},
		{"empty metadata is absent", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage{}}, nil},
		{"NUL inside metadata is the sender's business", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`"a\u0000b"`)}, nil},
		{"empty id", daemoncontract.StatusResponse{}, []string{"id"}},
		{"empty health_status", daemoncontract.StatusResponse{ID: "w", HealthStatus: new("")}, []string{"health_status"}},
		{"ANSI escape in health_status", daemoncontract.StatusResponse{ID: "w", HealthStatus: new("\x1b[2J")}, []string{"health_status"}},
		{"invalid metadata", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`{`)}, []string{"metadata"}},
		{"metadata with repeated names", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`{"a":1,"a":1}`)}, []string{"metadata"}},
		{"metadata with invalid UTF-8", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage("\"\xff\"")}, []string{"metadata"}},
		{"metadata of two values", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`1 2`)}, []string{"metadata"}},
	})
}

func TestValidateErrorText(t *testing.T) {
	err := daemoncontract.NewShutdownConfig("rbee-hive", 0).Validate()
	assert.EqualError(t, err, `daemoncontract: ShutdownConfig: field "pid": must be a process ID in 2..2147483647, got 0, which kill(2) reads as the caller's own process group`)

	err = daemoncontract.NewShutdownConfig("rbee-hive", 1).Validate()
	assert.EqualError(t, err, `daemoncontract: ShutdownConfig: field "pid": must be a process ID in 2..2147483647, got 1, which is init: no tool started it, and signalling it inside a container ends the container`)

	err = daemoncontract.InstallConfig{BinaryName: "../../bin/sh"}.Validate()
	assert.EqualError(t, err, `daemoncontract: InstallConfig: field "binary_name": must be a bare file name of 1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, got "../../bin/sh"`)

	err = daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: "/etc/passwd"}.Validate()
	assert.EqualError(t, err, `daemoncontract: UninstallConfig: field "install_path": must name the daemon's own binary, ending in /queen-rbee or /queen-rbee.exe (daemon_name), got "/etc/passwd"`)

	err = daemoncontract.StatusRequest{ID: "w\x1b[2J"}.Validate()
	assert.EqualError(t, err, `daemoncontract: StatusRequest: field "id": must not contain a control character, got U+001B at byte 1`)

	err = daemoncontract.StatusRequest{ID: strings.Repeat("w", 300)}.Validate()
	assert.EqualError(t, err, `daemoncontract: StatusRequest: field "id": must be at most 256 bytes long, got 300 bytes`)

	long := "/" + strings.Repeat("a", 100) + "/.."
	err = daemoncontract.UninstallConfig{DaemonName: "d", InstallPath: long}.Validate()
	assert.ErrorContains(t, err, `got "/`+strings.Repeat("a", 63)+`"...`, "long values are cut short")
}

func TestValidateDecodedMessages(t *testing.T) {
	// The dangerous messages of the Safety section decode, and Validate
	// stops them.
	tests := []struct {
		name  string
		in    string
		into  interface{ Validate() error }
		field string
	}{
		{"pid 0", `{"daemon_name":"h","pid":0}`, new(daemoncontract.ShutdownConfig), "pid"},
		{"pid -1 as a u32", `{"daemon_name":"h","pid":4294967295}`, new(daemoncontract.ShutdownConfig), "pid"},
		{"path traversal", `{"binary_name":"../../bin/sh"}`, new(daemoncontract.InstallConfig), "binary_name"},
		{"mass deletion", `{"daemon_name":"d","install_path":"/"}`, new(daemoncontract.UninstallConfig), "install_path"},
		{"another host", `{"daemon_name":"d","health_url":"http://h/health","shutdown_endpoint":"//evil.example/x"}`, new(daemoncontract.HttpDaemonConfig), "shutdown_endpoint"},
		{"handle pid 0", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":0}`, new(daemoncontract.DaemonHandle), "pid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, json.Unmarshal([]byte(tt.in), tt.into), "the wire accepts it")
			var fe *daemoncontract.FieldError
			require.ErrorAs(t, tt.into.Validate(), &fe)
			assert.Equal(t, tt.field, fe.Field)
		})
	}
}

func TestShutdownURL(t *testing.T) {
	tests := []struct {
		health, endpoint, want string
	}{
		{"http://localhost:7833/health", "/v1/shutdown", "http://localhost:7833/v1/shutdown"},
		{"https://h/health?verbose=1#top", "/v1/shutdown", "https://h/v1/shutdown"},
		{"http://[::1]:7835/a/b/health", "/stop", "http://[::1]:7835/stop"},
		{"http://[fe80::1%25eth0]:7835/health", "/stop", "http://[fe80::1%25eth0]:7835/stop"},
		{"http://h", "/", "http://h/"},
		{"HTTP://h/health", "/x", "http://h/x"},
		{"http://h/health", "/v1/shut-down_now.v2~x", "http://h/v1/shut-down_now.v2~x"},
		{"http://h/health", "/a//b", "http://h/a//b"},
		{"http://[fe80::1%25eth0.1]:7835/health", "/stop", "http://[fe80::1%25eth0.1]:7835/stop"},
	}
	for _, tt := range tests {
		c := daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: tt.health, ShutdownEndpoint: new(tt.endpoint)}
		got, err := c.ShutdownURL()
		require.NoError(t, err, "%s + %s", tt.health, tt.endpoint)
		assert.Equal(t, tt.want, got, "%s + %s", tt.health, tt.endpoint)
	}
}

func TestShutdownURLErrors(t *testing.T) {
	c := daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: "http://h/health"}
	_, err := c.ShutdownURL()
	assert.ErrorIs(t, err, daemoncontract.ErrNoShutdownEndpoint)

	c.ShutdownEndpoint = new("//evil.example/x")
	_, err = c.ShutdownURL()
	assert.Equal(t, []string{"shutdown_endpoint"}, brokenFields(t, "HttpDaemonConfig", err))

	c = daemoncontract.HttpDaemonConfig{HealthURL: "http://:80/health", ShutdownEndpoint: new("/x/../y")}
	_, err = c.ShutdownURL()
	assert.Equal(t, []string{"health_url", "shutdown_endpoint"}, brokenFields(t, "HttpDaemonConfig", err))
	assert.False(t, errors.Is(err, daemoncontract.ErrNoShutdownEndpoint))

	// However a WHATWG parser reads it, no password reaches the error.
	for _, u := range []string{"http:///admin:hunter2@10.0.0.5:7833/health", "http:admin:hunter2@10.0.0.5/health", `http:\\admin:hunter2@10.0.0.5/health`} {
		c = daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: u, ShutdownEndpoint: new("/x")}
		_, err = c.ShutdownURL()
		assert.Equal(t, []string{"health_url"}, brokenFields(t, "HttpDaemonConfig", err))
		assert.NotContains(t, err.Error(), "hunter2")
	}

	// The shutdown request never carries credentials, and the error that
	// refuses them does not repeat them.
	c = daemoncontract.HttpDaemonConfig{HealthURL: "http://admin:s3cret@h/health", ShutdownEndpoint: new("/x")}
	_, err = c.ShutdownURL()
	assert.Equal(t, []string{"health_url"}, brokenFields(t, "HttpDaemonConfig", err))
	assert.NotContains(t, err.Error(), "s3cret")
	assert.NotContains(t, err.Error(), "admin")
	c.HealthURL = "http://admin:s3cret@%zz/health" // unparsable, too
	_, err = c.ShutdownURL()
	assert.Equal(t, []string{"health_url"}, brokenFields(t, "HttpDaemonConfig", err))
	assert.NotContains(t, err.Error(), "s3cret")

	// The daemon's name and job ID are not ShutdownURL's business.
	c = daemoncontract.HttpDaemonConfig{HealthURL: "http://h/health", ShutdownEndpoint: new("/x"), JobID: new("")}
	got, err := c.ShutdownURL()
	assert.NoError(t, err)
	assert.Equal(t, "http://h/x", got)
}

func TestGracefulTimeout(t *testing.T) {
	tests := []struct {
		secs uint64
		want time.Duration
	}{
		{0, 0},
		{1, time.Second},
		{5, 5 * time.Second},
		{9223372036, 9223372036 * time.Second},
		{9223372037, time.Duration(math.MaxInt64)},
		{math.MaxUint64, time.Duration(math.MaxInt64)},
	}
	for _, tt := range tests {
		c := daemoncontract.ShutdownConfig{GracefulTimeoutSecs: tt.secs}
		assert.Equal(t, tt.want, c.GracefulTimeout(), "%d seconds", tt.secs)
	}
	assert.Equal(t, 5*time.Second, daemoncontract.NewShutdownConfig("h", 1).GracefulTimeout())
}
