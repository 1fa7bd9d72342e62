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
		"nameRule": nameRule, "idRule": idRule, "urlRule": urlRule, "pathRule": pathRule,
		"installPathRule": installPathRule, "pidRule": pidRule, "identityRule": identityRule,
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
		"": false, ":80": false, "[::1": false, "[::1]x": false, "[::1]:": false, "[h]": false,
		"[127.0.0.1]": false, "h:65536": false, "h:0": false, "h:01": false, "h:x": false, "h:": false,
		"h%41": false, "bücher.example": false, "a b": false, "[::1]:+1": false, "h:-1": false,
	}
	for auth, ok := range tests {
		if err := authority(auth); (err == nil) != ok {
			t.Errorf("authority(%q) = %v, want ok %v", auth, err, ok)
		}
	}
}
