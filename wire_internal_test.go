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
