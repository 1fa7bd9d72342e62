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
	h := func(name, url string, pid *uint32) validator { return daemoncontract.StartedByUs(name, url, pid) }
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
		{"pid 1", h("q", "http://x", new(uint32(1))), nil},
		{"pid 2147483647", h("q", "http://x", new(uint32(2147483647))), nil},
		{"pid 0", h("q", "http://x", new(uint32(0))), []string{"pid"}},
		{"pid 2147483648", h("q", "http://x", new(uint32(2147483648))), []string{"pid"}},
		{"pid 4294967295", h("q", "http://x", new(uint32(math.MaxUint32))), []string{"pid"}},
		{"every rule at once", h("", "http://:80", new(uint32(0))), []string{"daemon_name", "base_url", "pid"}},
		{"zero handle", daemoncontract.DaemonHandle{}, []string{"daemon_name", "base_url"}},
	})
}

func TestShutdownConfigValidate(t *testing.T) {
	c := func(pid uint32, timeout uint64, job *string) validator {
		return daemoncontract.ShutdownConfig{DaemonName: "rbee-hive", PID: pid, GracefulTimeoutSecs: timeout, JobID: job}
	}
	runValidateCases(t, "ShutdownConfig", []validateCase{
		{"valid", daemoncontract.NewShutdownConfig("rbee-hive", 4242), nil},
		{"pid 1", c(1, 5, nil), nil},
		{"pid 2147483647", c(2147483647, 5, nil), nil},
		{"pid 0 is the caller's process group", c(0, 5, nil), []string{"pid"}},
		{"pid 2147483648 is a negative pid_t", c(2147483648, 5, nil), []string{"pid"}},
		{"pid 4294967295 is -1, every process", c(4294967295, 5, nil), []string{"pid"}},
		{"timeout 0", c(1, 0, nil), nil},
		{"largest timeout", c(1, 9223372036, nil), nil},
		{"timeout beyond a Duration", c(1, 9223372037, nil), []string{"graceful_timeout_secs"}},
		{"largest wire timeout", c(1, math.MaxUint64, nil), []string{"graceful_timeout_secs"}},
		{"job_id", c(1, 5, new("job-1")), nil},
		{"empty job_id", c(1, 5, new("")), []string{"job_id"}},
		{"NUL in job_id", c(1, 5, new("a\x00b")), []string{"job_id"}},
		{"empty daemon_name", daemoncontract.NewShutdownConfig("", 1), []string{"daemon_name"}},
		{"every rule at once", daemoncontract.ShutdownConfig{PID: 0, GracefulTimeoutSecs: math.MaxUint64, JobID: new("")},
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
		{"health_url without host", c("http://:7833/health", nil), []string{"health_url"}},
		{"health_url relative", c("/health", nil), []string{"health_url"}},
		{"health_url empty", c("", nil), []string{"health_url"}},
		{"health_url file scheme", c("file:///etc/passwd", nil), []string{"health_url"}},
		{"endpoint root", c(health, new("/")), nil},
		{"endpoint with percent-encoding", c(health, new("/v1/shut%20down")), nil},
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
		{"endpoint with encoded ..", c(health, new("/v1/%2e%2e/admin")), []string{"shutdown_endpoint"}},
		{"endpoint with encoded backslash", c(health, new("/v1/%5cx")), []string{"shutdown_endpoint"}},
		{"endpoint with encoded NUL", c(health, new("/v1/%00")), []string{"shutdown_endpoint"}},
		{"endpoint with bad escape", c(health, new("/v1/%zz")), []string{"shutdown_endpoint"}},
		{"endpoint with NUL", c(health, new("/v1\x00")), []string{"shutdown_endpoint"}},
		{"endpoint with dots in a name", c(health, new("/v1/..shutdown./x.y")), nil},
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
		{"root target", c("x", nil, new("/")), nil},
		{"relative binary_path", c("x", new("target/release/x"), nil), []string{"binary_path"}},
		{"binary_path with ..", c("x", new("/usr/../etc/x"), nil), []string{"binary_path"}},
		{"binary_path with trailing slash", c("x", new("/usr/bin/"), nil), []string{"binary_path"}},
		{"binary_path with //", c("x", new("//usr/bin"), nil), []string{"binary_path"}},
		{"empty target_path", c("x", nil, new("")), []string{"target_path"}},
		{"target_path with .", c("x", nil, new("/usr/./bin")), []string{"target_path"}},
		{"empty job_id", daemoncontract.InstallConfig{BinaryName: "x", JobID: new("")}, []string{"job_id"}},
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
		{"root", c("/"), []string{"install_path"}},
		{"double slash root", c("//"), []string{"install_path"}},
		{"relative", c("bin/queen-rbee"), []string{"install_path"}},
		{"climbs out", c("/home/u/../../etc"), []string{"install_path"}},
		{"ends in ..", c("/home/.."), []string{"install_path"}},
		{"empty", c(""), []string{"install_path"}},
		{"NUL", c("/home/u\x00"), []string{"install_path"}},
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
}

func TestStatusValidate(t *testing.T) {
	runValidateCases(t, "StatusRequest", []validateCase{
		{"valid", daemoncontract.StatusRequest{ID: "workstation", JobID: new("j")}, nil},
		{"empty id", daemoncontract.StatusRequest{}, []string{"id"}},
		{"NUL in id", daemoncontract.StatusRequest{ID: "\x00"}, []string{"id"}},
		{"empty job_id", daemoncontract.StatusRequest{ID: "w", JobID: new("")}, []string{"job_id"}},
	})
	runValidateCases(t, "StatusResponse", []validateCase{
		{"valid", daemoncontract.StatusResponse{ID: "w", IsRunning: true, HealthStatus: new("healthy"), Metadata: json.RawMessage(`{"port":7833}`)}, nil},
		{"not running is valid", daemoncontract.StatusResponse{ID: "w"}, nil},
		{"empty metadata is absent", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage{}}, nil},
		{"NUL inside metadata is the sender's business", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`"a\u0000b"`)}, nil},
		{"empty id", daemoncontract.StatusResponse{}, []string{"id"}},
		{"empty health_status", daemoncontract.StatusResponse{ID: "w", HealthStatus: new("")}, []string{"health_status"}},
		{"invalid metadata", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`{`)}, []string{"metadata"}},
		{"metadata with repeated names", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`{"a":1,"a":1}`)}, []string{"metadata"}},
		{"metadata with invalid UTF-8", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage("\"\xff\"")}, []string{"metadata"}},
		{"metadata of two values", daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`1 2`)}, []string{"metadata"}},
	})
}

func TestValidateErrorText(t *testing.T) {
	err := daemoncontract.NewShutdownConfig("rbee-hive", 0).Validate()
	assert.EqualError(t, err, `daemoncontract: ShutdownConfig: field "pid": must be a process ID in 1..2147483647, got 0, which kill(2) reads as the caller's own process group`)

	err = daemoncontract.InstallConfig{BinaryName: "../../bin/sh"}.Validate()
	assert.EqualError(t, err, `daemoncontract: InstallConfig: field "binary_name": must be a bare file name, without / or \ and not . or .., got "../../bin/sh"`)

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
		{"http://h", "/", "http://h/"},
		{"http://h/health", "/v1/shut%20down", "http://h/v1/shut%20down"},
		{"http://h/health", "/v1/a%2Fb", "http://h/v1/a%2Fb"},
		{"http://user:pw@h/health", "/x", "http://user:pw@h/x"},
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
