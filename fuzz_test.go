package daemoncontract_test

import (
	"bytes"
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"errors"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/rbee-keeper/daemoncontract"
)

// message is a pointer to one of the eight contract types.
type message[T any] interface {
	*T
	json.Unmarshaler
	Validate() error
}

// fuzzSeeds returns the conformance inputs for type typ, followed by extra.
func fuzzSeeds(f *testing.F, typ string, extra ...string) {
	for _, c := range loadConformance(f) {
		if c.Type == typ {
			f.Add([]byte(c.Input))
		}
	}
	for _, in := range extra {
		f.Add([]byte(in))
	}
	for _, in := range append(syntaxErrorInputs, invalidNameInputs...) {
		f.Add([]byte(in))
	}
}

// inputs returns the messages of the tables of decoding tests for T.
func inputs[T any](ok []jsonTest[T], bad []decodeErrorTest) []string {
	var out []string
	for _, c := range ok {
		out = append(out, c.in)
	}
	for _, c := range bad {
		out = append(out, c.in)
	}
	return out
}

// fuzzMessage checks, for any input, that:
//   - decoding does not panic, through encoding/json, encoding/json/v2 or
//     UnmarshalJSON, and all three agree on whether the input is a message
//     and on what it holds;
//   - a message that decodes encodes again without error;
//   - encoding is a fixed point: encode(decode(encode(x))) == encode(x),
//     through either package;
//   - Validate does not panic.
func fuzzMessage[T any, P message[T]](f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var viaV1, viaV2, viaMethod T
		errV1 := json.Unmarshal(data, &viaV1)
		errV2 := jsonv2.Unmarshal(data, &viaV2)
		errMethod := P(&viaMethod).UnmarshalJSON(data)
		if (errV1 == nil) != (errV2 == nil) || (errV2 == nil) != (errMethod == nil) {
			t.Fatalf("entry points disagree on %q:\n json:    %v\n jsonv2:  %v\n methods: %v", data, errV1, errV2, errMethod)
		}
		checkSameField(t, data, errV1, errV2, errMethod)
		_ = P(&viaV1).Validate()
		if errV1 != nil {
			return
		}
		if !equalJSON(t, viaV1, viaV2) || !equalJSON(t, viaV2, viaMethod) {
			t.Fatalf("entry points decode %q differently: %+v, %+v, %+v", data, viaV1, viaV2, viaMethod)
		}

		for _, cd := range codecs {
			first, err := cd.marshal(viaV1)
			if err != nil {
				t.Fatalf("%s: a decoded message must encode: %q: %v", cd.name, data, err)
			}
			var again T
			if err := cd.unmarshal(first, &again); err != nil {
				t.Fatalf("%s: an encoded message must decode: %s: %v", cd.name, first, err)
			}
			second, err := cd.marshal(again)
			if err != nil {
				t.Fatalf("%s: encode again: %v", cd.name, err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("%s: encoding is not a fixed point:\n %s\n %s", cd.name, first, second)
			}
		}
	})
}

// checkSameField fails unless the errors name the same field, and have the
// same cases (sentinels), where they are *FieldErrors.
func checkSameField(t *testing.T, data []byte, errs ...error) {
	t.Helper()
	field, cases := "", ""
	found := false
	for _, err := range errs {
		fe, ok := errors.AsType[*daemoncontract.FieldError](err)
		if !ok {
			continue
		}
		var c []string
		for _, name := range slices.Sorted(maps.Keys(decodeSentinels)) {
			if errors.Is(err, decodeSentinels[name]) {
				c = append(c, name)
			}
		}
		if found && (fe.Field != field || strings.Join(c, " ") != cases) {
			t.Fatalf("entry points disagree on the field or the case of %q: %v", data, errs)
		}
		field, cases, found = fe.Field, strings.Join(c, " "), true
	}
}

// equalJSON reports whether a and b encode to the same bytes.
func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	x, errX := jsonv2.Marshal(a)
	y, errY := jsonv2.Marshal(b)
	return errX == nil && errY == nil && bytes.Equal(x, y)
}

func FuzzDaemonHandle(f *testing.F) {
	fuzzSeeds(f, "DaemonHandle",
		inputs(daemonHandleJSONTests, daemonHandleDecodeErrorTests)...)
	fuzzMessage[daemoncontract.DaemonHandle](f)
}

func FuzzStatusRequest(f *testing.F) {
	fuzzSeeds(f, "StatusRequest",
		inputs(statusRequestJSONTests, statusRequestDecodeErrorTests)...)
	fuzzMessage[daemoncontract.StatusRequest](f)
}

func FuzzStatusResponse(f *testing.F) {
	fuzzSeeds(f, "StatusResponse",
		inputs(statusResponseJSONTests, statusResponseDecodeErrorTests)...)
	fuzzMessage[daemoncontract.StatusResponse](f)
}

func FuzzInstallConfig(f *testing.F) {
	fuzzSeeds(f, "InstallConfig",
		inputs(installConfigJSONTests, installConfigDecodeErrorTests)...)
	fuzzMessage[daemoncontract.InstallConfig](f)
}

func FuzzInstallResult(f *testing.F) {
	fuzzSeeds(f, "InstallResult",
		inputs(installResultJSONTests, installResultDecodeErrorTests)...)
	fuzzMessage[daemoncontract.InstallResult](f)
}

func FuzzUninstallConfig(f *testing.F) {
	fuzzSeeds(f, "UninstallConfig", inputs(uninstallConfigJSONTests, uninstallConfigDecodeErrorTests)...)
	fuzzMessage[daemoncontract.UninstallConfig](f)
}

func FuzzHttpDaemonConfig(f *testing.F) {
	fuzzSeeds(f, "HttpDaemonConfig", inputs(httpDaemonConfigJSONTests, httpDaemonConfigDecodeErrorTests)...)
	fuzzMessage[daemoncontract.HttpDaemonConfig](f)
}

func FuzzShutdownConfig(f *testing.F) {
	fuzzSeeds(f, "ShutdownConfig",
		inputs(shutdownConfigJSONTests, shutdownConfigDecodeErrorTests)...)
	fuzzMessage[daemoncontract.ShutdownConfig](f)
}

// FuzzShutdownURL holds ShutdownURL to its promise: whatever health_url and
// shutdown_endpoint hold, a URL it returns parses, names health_url's own
// scheme and host, carries no user information, query or fragment, keeps
// that host when the endpoint is resolved as a reference against health_url
// (as a client resolves a redirect or a relative target), and is what
// net/http sends a request to.
func FuzzShutdownURL(f *testing.F) {
	for _, seed := range [][2]string{
		{"http://localhost:7833/health", "/v1/shutdown"},
		{"http://[::1]:7833/health", "/stop"},
		{"http://[fe80::1%25eth0]:7833/health", "/"},
		{"http://127.0.0.1:7833@evil.example/health", "/x"},
		{"http://h/health", "//evil.example/x"},
		{"http://h/health", "/%2fevil.example/x"},
		{"http://h/health", "/\\evil.example/x"},
		{"http://h/health", "/a/../../x"},
		{"http://u:p@h:7833/health", "/x"},
		{"https://h:65535", "/a//b"},
		{"http://[fe80::1%25eth0]:7833/health", "/x"},
		{"http://[fe80::1%25%5B]:7833/health", "/x"},
		{"http:///u:p@h/health", "/x"},
		{"http://0177.0.0.1/health", "/x"},
		{"http://localhost:/health", "/x"},
		{"http://[::ffff:127.0.0.1]/health", "/x"},
		{"http://h/health", "/health/"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, health, endpoint string) {
		c := daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: health, ShutdownEndpoint: &endpoint}
		got, err := c.ShutdownURL()
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ShutdownURL accepted what Validate rejects: %q + %q: %v", health, endpoint, err)
		}
		h, err := url.Parse(health)
		if err != nil {
			t.Fatalf("health_url %q passed but does not parse: %v", health, err)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("ShutdownURL(%q, %q) = %q, which does not parse: %v", health, endpoint, got, err)
		}
		// The host and port, where "h:" is "h" (an empty port is the
		// default, and ShutdownURL leaves it out).
		host := func(u *url.URL) string { return net.JoinHostPort(u.Hostname(), u.Port()) }
		if u.Scheme != h.Scheme || host(u) != host(h) || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			t.Fatalf("ShutdownURL(%q, %q) = %q: not health_url's scheme and host alone", health, endpoint, got)
		}
		if !strings.HasPrefix(u.RequestURI(), "/") || strings.HasPrefix(u.RequestURI(), "//") {
			t.Fatalf("ShutdownURL(%q, %q) = %q: request target %q could name a host", health, endpoint, got, u.RequestURI())
		}
		ref, err := url.Parse(endpoint)
		if err != nil {
			t.Fatalf("endpoint %q passed but does not parse: %v", endpoint, err)
		}
		if r := h.ResolveReference(ref); host(r) != host(h) || r.User != nil {
			t.Fatalf("endpoint %q resolved against %q gives %q, another host", endpoint, health, r)
		}
		if again, err := url.Parse(u.String()); err != nil || host(again) != host(h) {
			t.Fatalf("ShutdownURL(%q, %q) = %q does not read back to the same host", health, endpoint, got)
		}
		req, err := http.NewRequest(http.MethodPost, got, nil)
		if err != nil || req.Host != u.Host || host(req.URL) != host(h) {
			t.Fatalf("ShutdownURL(%q, %q) = %q: net/http sends it to another host, or not at all: %v", health, endpoint, got, err)
		}
	})
}
