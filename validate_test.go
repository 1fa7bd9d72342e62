package daemoncontract_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path"
	"slices"
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
		{"process identity of 128 bytes", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("freebsd:" + strings.Repeat("~", 120)), nil},
		{"process identity without a pid", h("q", "http://x", nil).WithProcessIdentity(id), []string{"process_identity"}},
		{"process identity on an already-running handle", daemoncontract.AlreadyRunning("q", "http://x").WithProcessIdentity(id), []string{"process_identity"}},
		{"empty process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity(""), []string{"process_identity"}},
		{"process identity of 129 bytes", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("freebsd:" + strings.Repeat("a", 121)), []string{"process_identity"}},
		{"space in process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux: 1"), []string{"process_identity"}},
		{"newline in process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux:1\n"), []string{"process_identity"}},
		{"non-ASCII process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux:é"), []string{"process_identity"}},
		{"DEL in process identity", h("q", "http://x", new(uint32(4242))).WithProcessIdentity("linux:\x7f"), []string{"process_identity"}},
		{"base_url with a path", h("q", "http://localhost:7833/rbee/", nil), nil},
		{"base_url with dots inside segments", h("q", "http://h/v1.0/..a/a../.well-known/.../%2e%2e%2e", nil), nil},
		{"base_url with a query", h("q", "http://localhost:7833?x=/", nil), []string{"base_url"}},
		{"base_url with an empty query", h("q", "http://localhost:7833/?", nil), []string{"base_url"}},
		{"base_url with a fragment", h("q", "http://localhost:7833#/", nil), []string{"base_url"}},
		{"base_url with an empty fragment", h("q", "http://localhost:7833/#", nil), []string{"base_url"}},
		{"base_url with ..", h("q", "http://localhost:7833/../../admin", nil), []string{"base_url"}},
		{"base_url ending in ..", h("q", "http://localhost:7833/a/..", nil), []string{"base_url"}},
		{"base_url with .", h("q", "http://localhost:7833/./", nil), []string{"base_url"}},
		{"base_url with %2e%2e", h("q", "http://localhost:7833/%2e%2e/admin", nil), []string{"base_url"}},
		{"base_url with .%2E", h("q", "http://localhost:7833/.%2E/admin", nil), []string{"base_url"}},
		{"base_url with %2E.", h("q", "http://localhost:7833/a/%2E./admin", nil), []string{"base_url"}},
		{"base_url with %2e", h("q", "http://localhost:7833/%2e/", nil), []string{"base_url"}},
		{"base_url with a backslash", h("q", `http://localhost:7833/a\..\admin`, nil), []string{"base_url"}},
		{"every rule at once", h("", "http://:80", new(uint32(0))).WithProcessIdentity(""), []string{"daemon_name", "base_url", "pid", "process_identity"}},
		{"zero handle", daemoncontract.DaemonHandle{}, []string{"daemon_name", "base_url"}},
	})
}

// The ordinary names of the rbee ecosystem, which every name rule accepts.
var ordinaryNames = []string{"queen-rbee", "rbee-hive", "llm-worker-rbee-cpu", "vllm-worker", "rbee-hive.exe", "w1", "A_b.c-9",
	"llm-worker-rbee@gpu0", "rbee-hive+cuda12", "a@b+c", "queen.rbee", strings.Repeat("w", 128),
	// Neighbours of the Windows device names, which are not devices.
	"CONSOLE", "CON-1", "COM10", "LPT", "COMA", "NULL", "nul_x", "conn.exe", "x.con", "AUXILIARY", "com1x", "PRN2"}

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
	{strings.Repeat("a", 129), "longer than 128 bytes"},
	{"@gpu0", "a leading @"},
	{"+cuda", "a leading +"},
	{"queen-rbee.", "a trailing dot, which Windows drops"},
	{"queen-rbee..", "two trailing dots"},
	{"CON", "a Windows device"},
	{"con", "a Windows device, in any case"},
	{"NUL.exe", "a Windows device with an extension"},
	{"nul.tar.gz", "a Windows device with two extensions"},
	{"PRN", "a Windows device"},
	{"Aux", "a Windows device"},
	{"COM1", "a Windows device"},
	{"com9.exe", "a Windows device"},
	{"COM0", "a Windows device (Microsoft lists COM0)"},
	{"LPT1", "a Windows device"},
	{"lpt0.txt", "a Windows device"},
	{"Lpt9", "a Windows device"},
	{"a\u200bb", "a zero-width space"},
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
		assert.NoError(t, make(strings.Repeat("a", 128)).Validate(), "%s: 128 bytes", typ)
		for _, bad := range badNames {
			err := make(bad.name).Validate()
			assert.Contains(t, brokenFields(t, typ, err), fields[typ], "%s %q: %s", typ, bad.name, bad.why)
		}
	}
}

// textMember is one string member of a contract type, made from a string
// that is added to a value its other rules accept.
type textMember struct {
	typ, field string
	make       func(s string) validator
}

// identifierMembers are string members that hold identifiers: each makes
// a value its other rules accept, with s inside it.
var identifierMembers = []textMember{
	{"StatusRequest", "id", func(s string) validator { return daemoncontract.StatusRequest{ID: "w" + s + "1"} }},
	{"StatusRequest", "job_id", func(s string) validator { return daemoncontract.StatusRequest{ID: "w", JobID: new("j" + s + "1")} }},
	{"InstallConfig", "target_path", func(s string) validator {
		return daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new("/opt/a" + s + "b")}
	}},
	{"InstallResult", "binary_path", func(s string) validator {
		return daemoncontract.InstallResult{BinaryPath: "/opt/a" + s + "b", InstallTime: time.Unix(1, 0)}
	}},
	{"UninstallConfig", "install_path", func(s string) validator {
		return daemoncontract.UninstallConfig{DaemonName: "q", InstallPath: "/opt/a" + s + "b/q"}
	}},
	{"HttpDaemonConfig", "health_url", func(s string) validator {
		return daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h/health?x=" + s}
	}},
	{"DaemonHandle", "base_url", func(s string) validator { return daemoncontract.AlreadyRunning("q", "http://h/a"+s) }},
}

// freeTextMembers are string members that hold words for people.
var freeTextMembers = []textMember{
	{"StatusResponse", "health_status", func(s string) validator {
		return daemoncontract.StatusResponse{ID: "w", HealthStatus: new("200 OK" + s)}
	}},
}

func TestControlCharacters(t *testing.T) {
	// No string member may hold a C0 control, DEL or a C1 control, nor a
	// Unicode format character or separator, but for the two joiners that
	// free text keeps.
	controls := []string{"\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x1f", "\x7f", "\u0080", "\u0085", "\u009b", "\u009f",
		// Unicode format characters (Cf) and separators, which reorder,
		// hide or break text: bidi overrides, embeddings, isolates and
		// marks, zero-width characters, the byte order mark, the soft
		// hyphen, a tag character (which smuggles invisible ASCII), line
		// and paragraph separators.
		"\u202e", "\u202a", "\u2066", "\u2069", "\u061c", "\u200e", "\u200f", "\u200b", "\u2060", "\ufeff", "\u00ad",
		"\U000E0041", "\U000E0001", "\u2028", "\u2029"}
	// The joiners, which identifiers refuse and free text keeps.
	joiners := []string{"\u200c", "\u200d"}
	// Default-ignorable code points that are not Cf: they display as
	// nothing, so identifiers refuse them.
	ignorables := []string{"\u034f", "\ufe00", "\ufe0f", "\U000E0100", "\U000E01EF", "\u3164", "\u115f", "\u1160", "\uffa0",
		"\u180b", "\u180f", "\u17b4", "\u17b5", "\u2065", "\ufff0", "\U000E0000", "\U000E0FFF"}
	allowed := []string{" ", "~", "\u00a0", "é", "😀", "漢字", "ワーカー", "\u2800", "e\u0301"} // printable, and not ignorable
	for _, f := range slices.Concat(identifierMembers, freeTextMembers) {
		for _, c := range controls {
			assert.Equal(t, []string{f.field}, brokenFields(t, f.typ, f.make(c).Validate()), "%s.%s with %q", f.typ, f.field, c)
		}
		for _, c := range allowed {
			if strings.Contains(f.field, "url") {
				continue // a URL has rules of its own about spaces and the like
			}
			assert.NoError(t, f.make(c).Validate(), "%s.%s with %q", f.typ, f.field, c)
		}
	}
	for _, f := range identifierMembers {
		for _, c := range slices.Concat(joiners, ignorables) {
			err := f.make(c).Validate()
			assert.Equal(t, []string{f.field}, brokenFields(t, f.typ, err), "%s.%s with %q", f.typ, f.field, c)
		}
	}
	for _, f := range freeTextMembers {
		for _, c := range slices.Concat(joiners, ignorables) {
			assert.NoError(t, f.make(c).Validate(), "%s.%s with %q", f.typ, f.field, c)
		}
	}
}

func TestFreeTextInHumanLanguages(t *testing.T) {
	// health_status is free text: the joiners and variation selectors
	// that human languages and emoji sequences need pass.
	for _, status := range []string{
		"سرور در حال اجرا است، می\u200cتوانید وصل شوید", // Persian, with ZWNJ
		"क्\u200dष सक्रिय है",                           // Devanagari, with ZWJ
		"ready 👨\u200d👩\u200d👧 ❤\ufe0f 👍🏽",              // an emoji ZWJ sequence, an emoji presentation selector, a skin tone
		"健康", "200 OK", "Größe: 12 GiB",
	} {
		r := daemoncontract.StatusResponse{ID: "w", HealthStatus: new(status)}
		assert.NoError(t, r.Validate(), "%q", status)
	}
}

func TestIdentifiersThatLookEmpty(t *testing.T) {
	// An identifier of white space, blank characters or marks only looks
	// empty: refused, like "". So does one that starts or ends with a
	// blank, which looks like the identifier without it. With blanks
	// inside, between visible characters, it passes.
	blank := []string{" ", "  ", "\u00a0\u00a0", "\u2800", "\u3000", " \u2800 ", "\u2800\u2800", "\u2003", "\u3164", "\u115f\u1160",
		"\U0001D159", "\U00016FE4", "\U0001D159\U0001D159", " \U00016FE4 ", "\u0301", "\u0301\u0302", "\U000F0000", "\U0010FFFD", "\u0378"}
	atAnEnd := []string{"a ", " a", "worker-1 ", " worker-1", "\u2800a", "a\u2800", "worker-1\u2800", "worker-1\u3000", "worker-1\u00a0", "worker-1\U00016FE4", "\U0001D159w"}
	visible := []string{"w\u00a01", "a b", "a\u2800b", "e\u0301", "\u0661", "-", "😀", "漢"}
	for _, s := range slices.Concat(blank, atAnEnd) {
		assert.Equal(t, []string{"id"}, brokenFields(t, "StatusRequest", daemoncontract.StatusRequest{ID: s}.Validate()), "id %q", s)
		assert.Equal(t, []string{"job_id"}, brokenFields(t, "StatusRequest", daemoncontract.StatusRequest{ID: "w", JobID: new(s)}.Validate()), "job_id %q", s)
	}
	for _, s := range visible {
		assert.NoError(t, daemoncontract.StatusRequest{ID: s, JobID: new(s)}.Validate(), "%q", s)
	}
}

func TestOrdinaryIdentifiers(t *testing.T) {
	// What real deployments send passes.
	for _, id := range []string{"ワーカー1", "job:2024-01-01T00:00:00Z", "workstation", "gpu-box-01.lan/worker-3", "作业-7", "José's hive"} {
		assert.NoError(t, daemoncontract.StatusRequest{ID: id, JobID: new(id)}.Validate(), "%q", id)
	}
}

// longPath returns an absolute path of exactly n bytes, n >= 2, of
// elements of at most 200 bytes.
func longPath(n int) string {
	var b strings.Builder
	for b.Len() < n {
		elem := min(200, n-b.Len()-1)
		if elem == 0 { // a lone "/" would be left: lengthen the last element
			return b.String()[:b.Len()-1] + "aa"
		}
		b.WriteString("/" + strings.Repeat("a", elem))
	}
	return b.String()
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
		{"target_path: 4095 bytes",
			daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new(longPath(4095))},
			daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new(longPath(4096))}, "InstallConfig", "target_path"},
		{"install_path: 4095 bytes",
			daemoncontract.UninstallConfig{DaemonName: "q", InstallPath: longPath(4093) + "/q"},
			daemoncontract.UninstallConfig{DaemonName: "q", InstallPath: longPath(4094) + "/q"}, "UninstallConfig", "install_path"},
		{"binary_path element: 255 bytes",
			daemoncontract.InstallConfig{BinaryName: "x", BinaryPath: new("/opt/" + pad(255))},
			daemoncontract.InstallConfig{BinaryName: "x", BinaryPath: new("/opt/" + pad(256))}, "InstallConfig", "binary_path"},
		{"target_path element: 255 bytes",
			daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new("/" + pad(255) + "/bin")},
			daemoncontract.InstallConfig{BinaryName: "x", TargetPath: new("/" + pad(256) + "/bin")}, "InstallConfig", "target_path"},
		{"binary_path element: 255 bytes, in characters of two bytes",
			daemoncontract.InstallResult{BinaryPath: "/opt/" + strings.Repeat("é", 127) + "a", InstallTime: time.Unix(1, 0)},
			daemoncontract.InstallResult{BinaryPath: "/opt/" + strings.Repeat("é", 128), InstallTime: time.Unix(1, 0)}, "InstallResult", "binary_path"},
		{"name: 128 bytes",
			daemoncontract.NewShutdownConfig(pad(128), 4242), daemoncontract.NewShutdownConfig(pad(129), 4242), "ShutdownConfig", "daemon_name"},
		{"shutdown_endpoint: 256 bytes",
			daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h", ShutdownEndpoint: new("/" + pad(255))},
			daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h", ShutdownEndpoint: new("/" + pad(256))}, "HttpDaemonConfig", "shutdown_endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.NoError(t, tt.ok.Validate())
			err := tt.tooBig.Validate()
			assert.Equal(t, []string{tt.field}, brokenFields(t, tt.typ, err))
			assert.Regexp(t, `must (be at most \d+ bytes|have no element longer than 255 bytes|be a name of 1 to 128 characters)`, err.Error())
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
		{"empty port, the default", c("http://localhost:/health", nil), nil},
		{"empty port after an IPv6 address", c("http://[::1]:/health", nil), nil},
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
		// Hosts are DNS names (RFC 1035, RFC 1123), or IP addresses that
		// name a peer (see TestHosts).
		{"endpoint root", c(health, new("/")), []string{"shutdown_endpoint"}},
		{"endpoint of a well-known path", c(health, new("/.well-known/rbee/shutdown")), nil},
		{"endpoint beside health_url's path", c(health, new("/healthz")), nil},
		{"endpoint below health_url's path", c(health, new("/health/stop")), nil},
		{"endpoint that is health_url's path", c(health, new("/health")), []string{"shutdown_endpoint"}},
		{"endpoint that is health_url's path with a trailing slash", c(health, new("/health/")), []string{"shutdown_endpoint"}},
		{"endpoint that is health_url's path with a doubled slash", c(health, new("/health//")), []string{"shutdown_endpoint"}},
		{"endpoint that is health_url's path, escaped", c("http://h/%68ealth", new("/health")), []string{"shutdown_endpoint"}},
		{"endpoint that is health_url's path, with dot segments", c("http://h/x/../health", new("/health")), []string{"shutdown_endpoint"}},
		{"endpoint that is health_url's path, doubled slashes", c("http://h//v1//health", new("/v1/health")), []string{"shutdown_endpoint"}},
		{"endpoint that is health_url's path, before its query", c("http://h/health?full=1", new("/health")), []string{"shutdown_endpoint"}},
		{"endpoint of a health_url without a path", c("http://h", new("/v1/shutdown")), nil},
		{"endpoint and a health_url that is invalid: one error", c("http://:80/health", new("/health")), []string{"health_url"}},
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
		{"root target", c("x", nil, new("/")), []string{"target_path"}},
		{"target with a trailing slash", c("x", nil, new("/usr/local/bin/")), nil},
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
		{"directly under the root", c("/queen-rbee"), []string{"install_path"}},
		{"a whole directory named as the daemon", daemoncontract.UninstallConfig{DaemonName: "usr", InstallPath: "/usr"}, []string{"install_path"}},
		{"the homes, named as the daemon", daemoncontract.UninstallConfig{DaemonName: "home", InstallPath: "/home"}, []string{"install_path"}},
		{"a name that policy must refuse", daemoncontract.UninstallConfig{DaemonName: "bin", InstallPath: "/usr/local/bin"}, nil},
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
		{"the epoch", r("/opt/b", time.Unix(0, 0)), nil},
		{"largest time", r("/opt/b", time.Unix(9223371974719179007, 0)), nil},
		{"a time that wraps around before year 1", r("/opt/b", time.Unix(9223371974719179008, 0)), []string{"install_time"}},
		{"int64 seconds, which wrap around", r("/opt/b", time.Unix(math.MaxInt64, 0)), []string{"install_time"}},
		{"before the epoch", r("/opt/b", time.Unix(-1, 0)), []string{"install_time"}},
		{"zero time", r("/opt/b", time.Time{}), []string{"install_time"}},
		{"top-level binary_path", r("/b", time.Unix(0, 0)), []string{"binary_path"}},
		{"relative path", r("b", time.Unix(0, 0)), []string{"binary_path"}},
		{"unclean path", r("/a/../b", time.Unix(0, 0)), []string{"binary_path"}},
		{"every rule at once", r("", time.Time{}), []string{"binary_path", "install_time"}},
	})
	const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	h := func(sha256 string) validator {
		return daemoncontract.InstallResult{BinaryPath: "/opt/b", InstallTime: time.Unix(0, 0), SHA256: &sha256}
	}
	runValidateCases(t, "InstallResult", []validateCase{
		{"no sha256", daemoncontract.InstallResult{BinaryPath: "/opt/b", InstallTime: time.Unix(0, 0)}, nil},
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
	assert.EqualError(t, err, `daemoncontract: InstallConfig: field "binary_name": must be a bare file name of 1 to 128 characters from A-Z a-z 0-9 . _ - @ +, starting with a letter or digit, got "../../bin/sh"`)

	// The value as sent, with its user information hidden: not a URL
	// rewritten into one that looks valid.
	err = daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://127.0.0.1:7833@evil.example"}.Validate()
	assert.EqualError(t, err, `daemoncontract: HttpDaemonConfig: field "health_url": must not contain user information before the host (user@ or user:password@): it hides the real host, and puts credentials in logs; got "http://xxxxx@evil.example"`)

	err = daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: "http://h/health", ShutdownEndpoint: new("/health")}.Validate()
	assert.EqualError(t, err, `daemoncontract: HttpDaemonConfig: field "shutdown_endpoint": must not be the path of health_url, "/health": every health check would ask the daemon to stop`)

	err = daemoncontract.AlreadyRunning("q", "http://[::ffff:127.0.0.1]:7833").Validate()
	assert.EqualError(t, err, `daemoncontract: DaemonHandle: field "base_url": must not have an IPv4 address in IPv6 dress (a dotted quad inside [ ], IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, IPv4-compatible ::/96): write an IPv4 address as four decimal numbers, got "http://[::ffff:127.0.0.1]:7833"`)

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
		{"http://h", "/x", "http://h/x"},
		// An empty port is the default port (RFC 3986 §6.2.3).
		{"http://localhost:/health", "/v1/shutdown", "http://localhost/v1/shutdown"},
		{"http://[::1]:/health", "/v1/shutdown", "http://[::1]/v1/shutdown"},
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

	// ShutdownURL applies Validate's rules for both members, the one that
	// relates them too.
	for _, endpoint := range []string{"/health", "/"} {
		c = daemoncontract.HttpDaemonConfig{HealthURL: "http://h/health", ShutdownEndpoint: new(endpoint)}
		_, err = c.ShutdownURL()
		assert.Equal(t, []string{"shutdown_endpoint"}, brokenFields(t, "HttpDaemonConfig", err), endpoint)
	}
	c = daemoncontract.HttpDaemonConfig{HealthURL: "http://[::ffff:127.0.0.1]/health", ShutdownEndpoint: new("/x")}
	_, err = c.ShutdownURL()
	assert.Equal(t, []string{"health_url"}, brokenFields(t, "HttpDaemonConfig", err))
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

func TestProcessIdentityForm(t *testing.T) {
	// A token is <os>:<rest>; a linux: token is exactly what the kernel
	// writes: linux:<boot_id>:<starttime> (proc(5), random(4)).
	const boot = "0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10"
	handle := func(id string) validator {
		return daemoncontract.StartedByUs("q", "http://x", new(uint32(4242))).WithProcessIdentity(id)
	}
	good := []string{
		"linux:" + boot + ":48213",
		"linux:" + boot + ":0",
		"linux:" + boot + ":1",
		"linux:" + boot + ":18446744073709551615", // u64 max
		"linux:f9e4f944-cb68-4f4f-83c4-7fd6f2a28f56:7",
		"linux:f9e4f944-cb68-4f4f-b3c4-7fd6f2a28f56:7",
		"freebsd:1234:5678",
		"darwin2:x",
		"windows:AbC-{x}:~!",
		"z:1",
	}
	bad := map[string]string{
		"linux::":                                       "no boot_id, no starttime",
		"linux:" + boot:                                 "no starttime",
		"linux:" + boot + ":":                           "an empty starttime",
		"linux:not-a-boot-id:123":                       "a boot_id that is no UUID",
		"linux:" + strings.ToUpper(boot) + ":1":         "an upper-case boot_id",
		"linux:0b2a0c471d8e4b599c1e4f3b2f7d9a10:1":      "a boot_id without hyphens",
		"linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a1:1":   "a boot_id one digit short",
		"linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10a:1": "a boot_id one digit long",
		"linux:0b2a0c47-1d8e-4b59-9c1e+4f3b2f7d9a10:1":  "a boot_id with another separator",
		"linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9g10:1":  "a boot_id with a letter beyond f",
		"linux:00000000-0000-0000-0000-000000000000:7":  "the nil UUID, which the kernel never writes",
		"linux:f9e4f944-cb68-1f4f-83c4-7fd6f2a28f56:7":  "a version 1 UUID: the kernel writes version 4",
		"linux:f9e4f944-cb68-4f4f-03c4-7fd6f2a28f56:7":  "a UUID of the NCS variant",
		"linux:f9e4f944-cb68-4f4f-c3c4-7fd6f2a28f56:7":  "a UUID of the Microsoft variant",
		"linux:" + boot + ":0123":                       "a starttime with a leading zero",
		"linux:" + boot + ":00":                         "a starttime of two zeros",
		"linux:" + boot + ":18446744073709551616":       "a starttime beyond u64",
		"linux:" + boot + ":-1":                         "a negative starttime",
		"linux:" + boot + ":+1":                         "a starttime with a sign",
		"linux:" + boot + ":1:2":                        "an extra field",
		"linux:" + boot + ":0x10":                       "a hex starttime",
		"LINUX:" + boot + ":1":                          "an upper-case os",
		"Linux:x":                                       "an os with a capital",
		":x":                                            "no os",
		"x":                                             "no colon",
		"x:":                                            "nothing after the os",
		"1linux:x":                                      "an os that starts with a digit",
		"lin_ux:x":                                      "an os with an underscore",
		"lin-ux:x":                                      "an os with a hyphen",
	}
	for _, id := range good {
		assert.NoError(t, handle(id).Validate(), id)
	}
	for id, why := range bad {
		assert.Equal(t, []string{"process_identity"}, brokenFields(t, "DaemonHandle", handle(id).Validate()), "%q: %s", id, why)
	}
}

func TestHosts(t *testing.T) {
	// A host is a DNS name, an IPv4 address written as four decimal
	// numbers, or an IPv6 address in its own plain form, that names a peer.
	label63 := strings.Repeat("a", 63)
	name253 := strings.Join([]string{label63, label63, label63, strings.Repeat("b", 61)}, ".") // 63*3+61+3 = 253
	good := []string{
		"localhost", "LOCALHOST", "gpu-box-01.lan", "gpu-box-01.lan.", "my_host", "rbee_hive", "_srv.example",
		"a-b", "1host", "xn--bcher-kva.example", label63, label63 + ".example", name253, name253 + ".",
		"127.0.0.1", "10.0.0.5", "1.0.0.0", "223.255.255.255", "255.255.255.254", "169.254.169.254",
		"[::1]", "[2001:db8::1]", "[fe80::1%25enp3s0f0]", "[fe80::1%25eth0.1_x~-]", "[fe80::abcd]",
		"[2002:7f00:1::]", "[64:ff9b:2::1]", "[64:ff9a::7f00:1]", "[::ffff:0:0:1:0:0]",
	}
	bad := map[string]string{
		// IPv4 in IPv6 dress.
		"[::ffff:127.0.0.1]":         "IPv4-mapped",
		"[::ffff:7f00:1]":            "IPv4-mapped, in hex",
		"[0:0:0:0:0:ffff:a9fe:a9fe]": "IPv4-mapped 169.254.169.254, the cloud metadata address",
		"[::FFFF:10.0.0.1]":          "IPv4-mapped, upper case",
		"[::127.0.0.1]":              "IPv4-compatible, deprecated",
		"[::7f00:1]":                 "IPv4-compatible, in hex",
		"[::2]":                      "IPv4-compatible 0.0.0.2",
		"[::ffff:1.2.3.4%25eth0]":    "IPv4-mapped, with a zone",
		"[::ffff:0:1.2.3.4]":         "IPv4-translated (RFC 6145)",
		"[::ffff:0:7f00:1]":          "IPv4-translated, in hex",
		"[64:ff9b::169.254.169.254]": "NAT64 (RFC 6052), the metadata address",
		"[64:ff9b::a9fe:a9fe]":       "NAT64, in hex",
		"[64:ff9b:1::7f00:1]":        "NAT64 local-use (RFC 8215)",
		"[2001:db8::1.2.3.4]":        "a dotted quad inside any IPv6 address",
		"[::0.0.0.1]":                "a dotted quad in ::/96",
		// Addresses that name no peer.
		"0.0.0.0":              "unspecified",
		"0.1.2.3":              "this network, 0.0.0.0/8",
		"[::]":                 "unspecified",
		"[0:0:0:0:0:0:0:0]":    "unspecified, written out",
		"255.255.255.255":      "limited broadcast",
		"224.0.0.1":            "multicast",
		"239.255.255.250":      "multicast, SSDP",
		"[ff02::1]":            "multicast",
		"[ff02::1%25eth0]":     "multicast, with a zone",
		"[ff05::2]":            "multicast",
		"[::1%25eth0]":         "a zone on loopback",
		"[2001:db8::1%25eth0]": "a zone on a global address",
		"[fec0::1%25eth0]":     "a zone on a site-local address",
		// Names that are no DNS name.
		"..":                    "empty labels",
		".":                     "the root alone",
		"-":                     "a label that is a hyphen",
		"a..b":                  "an empty label",
		".a":                    "a leading dot",
		"a.":                    "", // a trailing dot is allowed: see good
		"-a":                    "a label that starts with -",
		"a-":                    "a label that ends with -",
		"a.-b.c":                "an inner label that starts with -",
		"a.b-.c":                "an inner label that ends with -",
		strings.Repeat("a", 64): "a label of 64 bytes",
		label63 + "." + strings.Repeat("c", 64) + ".x": "an inner label of 64 bytes",
		name253 + "b":                   "a name of 254 bytes",
		name253 + "b.":                  "a name of 254 bytes with a trailing dot",
		strings.Repeat("a.", 149) + "a": "a name of 299 bytes",
	}
	delete(bad, "a.")
	good = append(good, "a.")
	for _, host := range good {
		for _, u := range []string{"http://" + host + "/health", "https://" + host + ":7833/health"} {
			assert.NoError(t, daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: u}.Validate(), u)
			assert.NoError(t, daemoncontract.AlreadyRunning("q", strings.TrimSuffix(u, "/health")).Validate(), u)
		}
	}
	for host, why := range bad {
		u := "http://" + host + ":7833/health"
		err := daemoncontract.HttpDaemonConfig{DaemonName: "q", HealthURL: u}.Validate()
		assert.Equal(t, []string{"health_url"}, brokenFields(t, "HttpDaemonConfig", err), "%s: %s", u, why)
		err = daemoncontract.AlreadyRunning("q", "http://"+host).Validate()
		assert.Equal(t, []string{"base_url"}, brokenFields(t, "DaemonHandle", err), "%s: %s", host, why)
	}
}

func TestPaths(t *testing.T) {
	// Paths are absolute and clean, with elements of at most 255 bytes, no
	// backslash, nothing under /proc, /sys or /dev; what an install writes
	// or an uninstall removes is inside a directory.
	source := func(p string) validator {
		return daemoncontract.InstallConfig{BinaryName: "rbee-hive", BinaryPath: new(p)}
	}
	target := func(p string) validator {
		return daemoncontract.InstallConfig{BinaryName: "rbee-hive", TargetPath: new(p)}
	}
	installed := func(p string) validator {
		return daemoncontract.InstallResult{BinaryPath: p, InstallTime: time.Unix(1700000000, 0)}
	}
	remove := func(p string) validator {
		return daemoncontract.UninstallConfig{DaemonName: path.Base(p), InstallPath: p}
	}
	type member struct {
		typ, field string
		make       func(string) validator
	}
	var (
		src  = member{"InstallConfig", "binary_path", source}
		dst  = member{"InstallConfig", "target_path", target}
		res  = member{"InstallResult", "binary_path", installed}
		rm   = member{"UninstallConfig", "install_path", remove}
		all  = []member{src, dst, res, rm}
		file = []member{src, res, rm}
	)
	tests := []struct {
		path    string
		members []member
		ok      bool
		why     string
	}{
		{"/usr/local/bin/rbee-hive", all, true, "ordinary"},
		{"/home/u/My Models/rbee-hive", all, true, "a space"},
		{"/home/josé/bin/rbee-hive", all, true, "outside ASCII"},
		{"/nix/store/0c0ff33-rbee-0.1.0/bin/rbee-hive", all, true, "the Nix store"},
		{"/opt/rbee@0.1.0/bin/rbee-hive", all, true, "an @"},
		{"/home/u/.local/bin/rbee-hive", all, true, "a hidden directory"},
		{"/devices/rbee-hive", all, true, "a neighbour of /dev"},
		{"/process/rbee-hive", all, true, "a neighbour of /proc"},
		{"/system/rbee-hive", all, true, "a neighbour of /sys"},
		{"/opt/dev/rbee-hive", all, true, "dev, not at the top"},
		{"/opt/" + strings.Repeat("a", 255) + "/rbee-hive", all, true, "an element of 255 bytes"},
		{"/rbee-hive", []member{src}, true, "a top-level file may be copied"},
		{"/rbee-hive", []member{res, rm}, false, "a top-level entry is not inside a directory"},
		{"/usr", []member{res, rm}, false, "a whole system directory"},
		{"/home", []member{res, rm}, false, "a whole directory of homes"},
		{"/usr/local/bin/", []member{dst}, true, "the trailing slash people type"},
		{"/usr/local/bin/", file, false, "a file path with a trailing slash"},
		{"/usr/local/bin//", all, false, "two trailing slashes"},
		{"/", all, false, "the root directory"},
		{"//", all, false, "the root directory, twice"},
		{"/usr", []member{dst}, true, "a directory at the top"},
		{"/dev/zero", all, false, "a device that never ends"},
		{"/dev", all, false, "/dev itself"},
		{"/dev/shm/rbee-hive", all, false, "under /dev"},
		{"/proc/self/environ", all, false, "the installer's own secrets"},
		{"/proc/sys/kernel", all, false, "the kernel's settings"},
		{"/sys/class/net/rbee-hive", all, false, "sysfs"},
		{"/DEV/zero", all, false, "/dev in another case, on a file system that folds case"},
		{"/Proc/self/exe", all, false, "/proc in another case"},
		{`/opt/rbee/..\..\..\Windows\System32`, all, false, "a backslash climbs out on Windows"},
		{`/opt/rbee\rbee-hive`, all, false, "a backslash"},
		{"/opt/" + strings.Repeat("a", 256) + "/rbee-hive", all, false, "an element of 256 bytes"},
		{"/opt/a\u034fb/rbee-hive", all, false, "a default-ignorable code point"},
		{"/opt/a\u200bb/rbee-hive", all, false, "a zero-width space"},
		{"opt/rbee-hive", all, false, "relative"},
		{"/opt/../etc/rbee-hive", all, false, "climbs out"},
	}
	for _, tt := range tests {
		for _, m := range tt.members {
			err := m.make(tt.path).Validate()
			if tt.ok {
				assert.NoError(t, err, "%s.%s %q: %s", m.typ, m.field, tt.path, tt.why)
			} else {
				assert.Contains(t, brokenFields(t, m.typ, err), m.field, "%s.%s %q: %s", m.typ, m.field, tt.path, tt.why)
			}
		}
	}
}

// README, Safety: shutdown_endpoint must not be "health_url's own path
// (compared as a server reads it ...)", and "two readers of one URL must not
// disagree".
//
// The WHATWG URL standard's basic URL parser starts by removing "any leading
// and trailing C0 control or space" from its input (§4.4). A browser, Node's
// fetch and Rust's url crate (2.3.1: Url::parse("http://h/v1/shutdown ")
// has path "/v1/shutdown") all send the health check of this health_url to
// /v1/shutdown. Go's url.Parse keeps the space, so Validate compares
// "/v1/shutdown " with "/v1/shutdown" and passes the pair. Measured against
// a real net/http ServeMux with /health and /v1/shutdown handlers: a Node
// fetch of this health_url ran the shutdown handler.
func TestShutdownEndpointIsNotHealthPathAsAWHATWGClientSendsIt(t *testing.T) {
	for _, health := range []string{
		"http://localhost:7833/v1/shutdown ",
		"http://localhost:7833/v1/shutdown   ",
		"http://localhost:7833/v1/shutdown?probe ",
	} {
		c := daemoncontract.HttpDaemonConfig{DaemonName: "queen-rbee", HealthURL: health, ShutdownEndpoint: new("/v1/shutdown")}
		err := c.Validate()
		assert.ErrorIs(t, err, daemoncontract.ErrInvalidValue, "health_url %q: a WHATWG client sends its health check to /v1/shutdown", health)
		_, err = c.ShutdownURL()
		assert.Error(t, err, "ShutdownURL of health_url %q", health)
	}
}

// README, Safety: base_url must have no "`.` or `..` segment (`%2e` counts
// as a dot, as the WHATWG URL standard reads it)".
//
// WHATWG strips the trailing space (§4.4), and then "/a/.." is a double-dot
// segment: Node and Rust's url crate both read "http://h/a/.. " as
// "http://h/". Go's url.Parse keeps the segment as ".. ", not a dot segment.
func TestBaseURLHasNoDotSegmentAsWHATWGReadsIt(t *testing.T) {
	for _, base := range []string{
		"http://localhost:7833/a/.. ",
		"http://localhost:7833/a/%2e%2e ",
		"http://localhost:7833/a/. ",
	} {
		err := daemoncontract.AlreadyRunning("queen-rbee", base).Validate()
		assert.ErrorIs(t, err, daemoncontract.ErrInvalidValue, "base_url %q has a dot segment as WHATWG reads it", base)
	}
}

// README, Safety: a linux: process_identity is "`boot_id` a lower-case UUID
// (8-4-4-4-12 hex digits) ... That is how the kernel writes both
// (`random(4)`, `proc(5)`); a token of another form ... never equals a live
// process's".
//
// The kernel makes boot_id with generate_random_uuid (lib/uuid.c), which sets
// the version nibble to 4 and the variant bits to 10: the 13th hex digit is
// always 4 and the 17th one of 8 9 a b. A nil UUID, or one of another
// version, never equals a live token. The machine's own boot_id shows the
// form.
func TestLinuxIdentityBootIDIsAsTheKernelWritesIt(t *testing.T) {
	if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
		id := strings.TrimSpace(string(b))
		require.Len(t, id, 36)
		require.Equal(t, byte('4'), id[14], "boot_id %s: version 4", id)
		require.Contains(t, "89ab", string(id[19]), "boot_id %s: RFC 4122 variant", id)
	}
	for _, bootID := range []string{
		"00000000-0000-0000-0000-000000000000",
		"f9e4f944-cb68-1f4f-83c4-7fd6f2a28f56", // version 1
		"f9e4f944-cb68-4f4f-03c4-7fd6f2a28f56", // NCS variant
	} {
		h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(42))).WithProcessIdentity("linux:" + bootID + ":12345")
		assert.ErrorIs(t, h.Validate(), daemoncontract.ErrInvalidValue, "boot_id %s is none the kernel writes", bootID)
	}
}

// README, Safety, "Which members are what": free text's "rules keep out what
// breaks a log line or a terminal, and keep what human writing needs".
//
// These Cf characters are visible marks of human scripts (they are
// Prepended_Concatenation_Mark, which is why Unicode excludes them from
// Default_Ignorable_Code_Point), or, for Mongolian, a letter separator its
// spelling needs (U+180E MONGOLIAN VOWEL SEPARATOR, Unicode §13.5); none
// reorders text or breaks a line.
func TestFreeTextKeepsWhatHumanWritingNeeds(t *testing.T) {
	for _, status := range []string{
		"\u0600\u0661\u0662\u0663",       // ARABIC NUMBER SIGN before Arabic-Indic digits
		"\u06dd\u0661\u0662",             // ARABIC END OF AYAH around a verse number
		"\u070f\u0710\u0712",             // SYRIAC ABBREVIATION MARK
		"\u182d\u1820\u1837\u180e\u1820", // Mongolian: qar + MVS + a
	} {
		err := daemoncontract.StatusResponse{ID: "w", IsRunning: true, HealthStatus: &status}.Validate()
		assert.NoError(t, err, "health_status %q", status)
	}
}
