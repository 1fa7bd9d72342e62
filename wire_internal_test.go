package daemoncontract

import (
	"bytes"
	"encoding/json/jsontext"
	"testing"
)

// The codec's switches end in a branch for a Go type that no layout uses.
// Reaching it is a bug in this package, and it must be an error, not a
// panic.
func TestUnsupportedFieldType(t *testing.T) {
	l := &layout{typ: "T", members: []memberLayout{{name: "x"}}}
	var f float64

	err := decodeBytes([]byte(`{"x":1}`), l, values{&f})
	if err == nil || err.Error() != `daemoncontract: T: field "x": daemoncontract bug: unsupported Go field type` {
		t.Errorf("decode: got %v", err)
	}

	err = encodeTo(jsontext.NewEncoder(new(bytes.Buffer)), l, values{&f})
	if err == nil || err.Error() != `daemoncontract: T: field "x": daemoncontract bug: unsupported Go field type` {
		t.Errorf("encode: got %v", err)
	}
}

// Every rule guards against a member of a Go type it does not handle, which
// only a bug in a layout can give it.
func TestRulesRejectUnsupportedTypes(t *testing.T) {
	var f float64
	msg := message{l: &layout{typ: "T", members: []memberLayout{{name: "x"}}}, v: values{&f}}
	rules := map[string]rule{
		"nameRule": nameRule, "idRule": idRule, "urlRule": urlRule, "baseURLRule": baseURLRule,
		"sourcePathRule": sourcePathRule, "targetDirRule": targetDirRule, "installedPathRule": installedPathRule,
		"endpointRule": endpointRule, "healthStatusRule": healthStatusRule, "installPathRule": installPathRule, "pidRule": pidRule, "identityRule": identityRule,
		"timeoutRule": timeoutRule, "epochRule": epochRule, "metadataRule": metadataRule,
	}
	for name, r := range rules {
		if err := r(&f, msg); err != errUnsupportedType {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestAuthority(t *testing.T) {
	// url.Parse turns most of these away before authority sees them;
	// authority must not depend on that.
	tests := map[string]bool{
		"h": true, "h:1": true, "[::1]": true, "[::1]:7833": true, "[fe80::1%25eth0]:1": true,
		"": false, ":80": false, "[::1": false, "[::1]x": false, "[h]": false, ":": false,
		"[127.0.0.1]": false, "h:65536": false, "h:0": false, "h:01": false, "h:x": false,
		// An empty port is the default port (RFC 3986 §3.2.3).
		"h:": true, "[::1]:": true, "127.0.0.1:": true,
		"h%41": false, "bücher.example": false, "a b": false, "[::1]:+1": false, "h:-1": false,
	}
	for auth, ok := range tests {
		if err := authority(auth); (err == nil) != ok {
			t.Errorf("authority(%q) = %v, want ok %v", auth, err, ok)
		}
	}
}

// The causes that classified compares with are taken from jsontext when
// first needed; were jsontext to change them, errors would lose their cases.
func TestJSONTextCauses(t *testing.T) {
	if err := jsontextInvalidUTF8(); err == nil || err.Error() != "invalid UTF-8" {
		t.Errorf("jsontextInvalidUTF8 = %v", err)
	}
	if err := jsontextMaxDepth(); err == nil || err.Error() != "exceeded max depth" {
		t.Errorf("jsontextMaxDepth = %v", err)
	}
	_, err := jsontext.AppendUnquote(nil, `"\ud800"`)
	if !invalidText(err) {
		t.Errorf("a lone surrogate is not invalid text: %v", err)
	}
	if syntaxCause("1") != nil {
		t.Error("valid JSON has a cause")
	}
}

func TestRedactUserinfo(t *testing.T) {
	// A WHATWG URL parser (a browser, Node, Rust's url crate) finds user
	// information after any run of / or \ that follows "http:"; none of it
	// may reach a log line or an error.
	tests := map[string]string{
		"http://u:pw@h/x":                      "http://xxxxx@h/x",
		"http://u:pw@h":                        "http://xxxxx@h",
		"http://@h":                            "http://xxxxx@h",
		"http://h/a@b":                         "http://h/a@b", // an @ in the path is not user information
		"http://h?q=a@b":                       "http://h?q=a@b",
		"http://h#a@b":                         "http://h#a@b",
		"http://a@b@h/":                        "http://xxxxx@h/",
		"http://127.0.0.1:7833@evil.example":   "http://xxxxx@evil.example",
		"http:///admin:hunter2@10.0.0.5:7833":  "http:///xxxxx@10.0.0.5:7833",
		"http:/admin:hunter2@10.0.0.5:7833":    "http:/xxxxx@10.0.0.5:7833",
		"http:\\\\admin:hunter2@10.0.0.5:7833": "http:\\\\xxxxx@10.0.0.5:7833",
		"http:admin:hunter2@10.0.0.5:7833":     "http:xxxxx@10.0.0.5:7833",
		"http://admin:s3cret@%zz/health":       "http://xxxxx@%zz/health",
		"no scheme":                            "no scheme",
		"":                                     "",
	}
	for in, want := range tests {
		if got := redactUserinfo(in); got != want {
			t.Errorf("redactUserinfo(%q) = %q, want %q", in, got, want)
		}
	}
}
