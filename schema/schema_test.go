package schema_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rbee-keeper/daemoncontract"
)

const (
	schemaFile = "daemoncontract.schema.json"
	schemaID   = "https://github.com/rbee-keeper/daemoncontract/schema/daemoncontract.schema.json"
	casesFile  = "../testdata/conformance/cases.jsonl"
)

// newMessage returns a pointer to a new zero value of the named contract
// type.
var newMessage = map[string]func() json.Unmarshaler{
	"DaemonHandle":     func() json.Unmarshaler { return new(daemoncontract.DaemonHandle) },
	"StatusRequest":    func() json.Unmarshaler { return new(daemoncontract.StatusRequest) },
	"StatusResponse":   func() json.Unmarshaler { return new(daemoncontract.StatusResponse) },
	"InstallConfig":    func() json.Unmarshaler { return new(daemoncontract.InstallConfig) },
	"InstallResult":    func() json.Unmarshaler { return new(daemoncontract.InstallResult) },
	"UninstallConfig":  func() json.Unmarshaler { return new(daemoncontract.UninstallConfig) },
	"HttpDaemonConfig": func() json.Unmarshaler { return new(daemoncontract.HttpDaemonConfig) },
	"ShutdownConfig":   func() json.Unmarshaler { return new(daemoncontract.ShutdownConfig) },
}

// typeNames are the contract types, in a fixed order, for the fuzz target.
var typeNames = slices.Sorted(func(yield func(string) bool) {
	for name := range newMessage {
		if !yield(name) {
			return
		}
	}
})

// compiled holds the schema's definition of each type, compiled once.
var compiled = sync.OnceValues(func() (map[string]*jsonschema.Schema, error) {
	f, err := os.Open(schemaFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaID, doc); err != nil {
		return nil, err
	}
	out := map[string]*jsonschema.Schema{}
	for name := range newMessage {
		if out[name], err = c.Compile(schemaID + "#/$defs/" + name); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
})

// schemaAccepts reports whether msg validates against typ's definition; a
// message that is not one JSON document does not.
func schemaAccepts(t testing.TB, typ string, msg []byte) (bool, error) {
	schemas, err := compiled()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg))
	if err != nil {
		return false, err
	}
	err = schemas[typ].Validate(doc)
	return err == nil, err
}

// The reasons a decoder may reject a message that the schema accepts: what
// JSON Schema cannot express. The README lists them under "the schema is
// looser than the decoder".
const (
	repeatedName  = "a repeated name"
	floatInteger  = "an integer written with a fraction or an exponent"
	negativeZero  = "an integer written as -0"
	invalidText   = "invalid UTF-8 or a lone surrogate"
	rustMetadata  = "metadata a Rust peer cannot read"
	unknownReason = "a reason the schema should express"
)

// looserHere is every conformance case (by line of cases.jsonl) that the
// decoder rejects and the schema accepts, with its reason. A case that
// joins or leaves this list fails the test: it is a change of what the
// schema says, to be looked at.
var looserHere = map[int]string{
	9:   floatInteger, // "pid":7.0
	16:  repeatedName,
	27:  repeatedName,
	33:  invalidText, // "\ud800"
	55:  repeatedName,
	56:  repeatedName,
	63:  repeatedName,
	72:  floatInteger, // "install_time":1700000000.0
	92:  floatInteger, // "graceful_timeout_secs":5.0
	100: floatInteger, // "pid":1e3
	104: repeatedName,
	114: rustMetadata, // nested 128 levels
	116: rustMetadata,
	117: rustMetadata,
	119: rustMetadata, // 1.8e308
	120: rustMetadata,
	121: rustMetadata,
	122: rustMetadata, // 1.7976931348623158e308
	123: rustMetadata,
	125: rustMetadata, // 18446744073709551616.5
	127: rustMetadata, // 1e2147483648
	131: negativeZero, // DaemonHandle "pid":-0
	132: negativeZero, // ShutdownConfig "pid":-0
	133: negativeZero, // "graceful_timeout_secs":-0
	134: negativeZero, // "install_time":-0
	135: floatInteger, // DaemonHandle "pid":-0.0
	136: floatInteger,
	137: floatInteger,
	138: floatInteger,
}

// reason names why the decoder rejected a message that the schema accepts.
func reason(err error) string {
	fe, _ := errors.AsType[*daemoncontract.FieldError](err)
	switch {
	case errors.Is(err, daemoncontract.ErrDuplicateName):
		return repeatedName
	case errors.Is(err, daemoncontract.ErrInvalidText):
		return invalidText
	case errors.Is(err, daemoncontract.ErrOutOfRange) && fe != nil && fe.Field == "metadata":
		return rustMetadata
	case errors.Is(err, daemoncontract.ErrWrongType) && strings.HasSuffix(err.Error(), "got -0"):
		// JSON Schema compares numbers by value: -0 is 0.
		return negativeZero
	case errors.Is(err, daemoncontract.ErrWrongType):
		// The schema's "integer" is any number with a zero fraction;
		// any other wrong type it rejects.
		return floatInteger
	}
	return unknownReason
}

// TestConformanceAgainstSchema runs every conformance case through the
// decoder and the schema: what the decoder accepts, the schema accepts;
// what the decoder rejects, the schema rejects, but for the cases of
// looserHere.
func TestConformanceAgainstSchema(t *testing.T) {
	f, err := os.Open(casesFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	got := map[int]string{}
	line, accepted := 0, 0
	for sc.Scan() {
		line++
		var c struct {
			Type  string `json:"type"`
			Input string `json:"input"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		decodeErr := newMessage[c.Type]().UnmarshalJSON([]byte(c.Input))
		ok, schemaErr := schemaAccepts(t, c.Type, []byte(c.Input))
		switch {
		case decodeErr == nil && !ok:
			t.Errorf("line %d: the decoder accepts %s, the schema rejects it: %v", line, c.Input, schemaErr)
		case decodeErr == nil:
			accepted++
		case ok:
			got[line] = reason(decodeErr)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if accepted < 50 {
		t.Errorf("only %d accepted cases: is the corpus whole?", accepted)
	}
	for _, l := range slices.Sorted(mapKeys(got, looserHere)) {
		if got[l] != looserHere[l] {
			t.Errorf("cases.jsonl line %d: the schema accepts what the decoder rejects because of %q; looserHere says %q", l, or(got[l], "(the schema rejects it too)"), or(looserHere[l], "(nothing)"))
		}
	}
}

// mapKeys returns the keys of both maps.
func mapKeys(a, b map[int]string) func(func(int) bool) {
	return func(yield func(int) bool) {
		seen := map[int]bool{}
		for _, m := range []map[int]string{a, b} {
			for k := range m {
				if !seen[k] && !yield(k) {
					return
				}
				seen[k] = true
			}
		}
	}
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// TestSchemaIsLooserOnlyWhereItMustBe pins each reason of looserHere with a
// message of its own, through the decoder and the schema.
func TestSchemaIsLooserOnlyWhereItMustBe(t *testing.T) {
	tests := []struct {
		typ, in, reason string
	}{
		{"StatusRequest", `{"id":"a","id":"b"}`, repeatedName},
		{"StatusResponse", `{"id":"w","is_running":true,"metadata":{"a":1,"a":2}}`, repeatedName},
		{"ShutdownConfig", `{"daemon_name":"h","pid":7.0}`, floatInteger},
		{"ShutdownConfig", `{"daemon_name":"h","pid":1e3}`, floatInteger},
		{"InstallResult", `{"binary_path":"/b","install_time":1700000000.0}`, floatInteger},
		{"ShutdownConfig", `{"daemon_name":"h","pid":-0}`, negativeZero},
		{"InstallResult", `{"binary_path":"/b","install_time":-0}`, negativeZero},
		{"StatusRequest", `{"id":"\ud800"}`, invalidText},
		{"StatusRequest", "{\"id\":\"\xff\"}", invalidText},
		{"StatusResponse", `{"id":"w","is_running":true,"metadata":1e400}`, rustMetadata},
		{"StatusResponse", `{"id":"w","is_running":true,"metadata":1.7976931348623158e308}`, rustMetadata},
		{"StatusResponse", `{"id":"w","is_running":true,"metadata":` + strings.Repeat("[", 127) + strings.Repeat("]", 127) + `}`, rustMetadata},
	}
	for _, tt := range tests {
		err := newMessage[tt.typ]().UnmarshalJSON([]byte(tt.in))
		if err == nil {
			t.Errorf("%s: the decoder accepts %q", tt.typ, tt.in)
			continue
		}
		if ok, _ := schemaAccepts(t, tt.typ, []byte(tt.in)); !ok {
			t.Errorf("%s: the schema rejects %q: the README says it cannot", tt.typ, tt.in)
		}
		if got := reason(err); got != tt.reason {
			t.Errorf("%s %q: reason %q, want %q", tt.typ, tt.in, got, tt.reason)
		}
	}
}

// TestSchemaRejects checks that the schema says what it says: required
// members, JSON types, integer ranges, null only where absent is allowed.
func TestSchemaRejects(t *testing.T) {
	tests := []struct{ typ, in string }{
		{"ShutdownConfig", `{"daemon_name":"h"}`},
		{"ShutdownConfig", `{"daemon_name":"h","pid":-1}`},
		{"ShutdownConfig", `{"daemon_name":"h","pid":4294967296}`},
		{"ShutdownConfig", `{"daemon_name":"h","pid":null}`},
		{"ShutdownConfig", `{"daemon_name":"h","pid":1,"graceful_timeout_secs":null}`},
		{"ShutdownConfig", `{"daemon_name":"h","pid":1,"graceful_timeout_secs":18446744073709551616}`},
		{"InstallResult", `{"binary_path":"/b","install_time":9223372036854775808}`},
		{"InstallResult", `{"binary_path":"/b","install_time":9223371974719179008}`},
		{"InstallResult", `{"binary_path":"/b","install_time":1.5}`},
		{"DaemonHandle", `{"daemon_name":"q","started_by_us":"true","base_url":"http://x"}`},
		{"DaemonHandle", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","process_identity":7}`},
		{"StatusRequest", `["w1","job"]`},
		{"StatusRequest", `{"id":null}`},
		{"StatusRequest", `{"id":"w","job_id":["x"]}`},
		{"StatusResponse", `{"id":"w"}`},
		{"StatusRequest", `{"id":"w"} {}`},
	}
	for _, tt := range tests {
		if newMessage[tt.typ]().UnmarshalJSON([]byte(tt.in)) == nil {
			t.Errorf("%s: the decoder accepts %q", tt.typ, tt.in)
		}
		if ok, _ := schemaAccepts(t, tt.typ, []byte(tt.in)); ok {
			t.Errorf("%s: the schema accepts %q", tt.typ, tt.in)
		}
	}
}

// TestGoldenMessagesValidate: every golden message, of every version,
// validates against its type's definition.
func TestGoldenMessagesValidate(t *testing.T) {
	names, err := filepath.Glob("../testdata/wire/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no golden messages")
	}
	for _, name := range names {
		msg, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		typ, _, _ := strings.Cut(filepath.Base(name), ".")
		if _, ok := newMessage[typ]; !ok {
			t.Errorf("%s: no contract type %q", name, typ)
			continue
		}
		if ok, err := schemaAccepts(t, typ, msg); !ok {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// FuzzSchema: whatever the decoder accepts as a message of a type, the
// schema accepts as that type.
func FuzzSchema(f *testing.F) {
	cases, err := os.ReadFile(casesFile)
	if err != nil {
		f.Fatal(err)
	}
	for line := range bytes.Lines(cases) {
		var c struct {
			Type  string `json:"type"`
			Input string `json:"input"`
		}
		if err := json.Unmarshal(line, &c); err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(slices.Index(typeNames, c.Type)), []byte(c.Input))
	}
	f.Fuzz(func(t *testing.T, typ uint8, data []byte) {
		name := typeNames[int(typ)%len(typeNames)]
		if newMessage[name]().UnmarshalJSON(data) != nil {
			return
		}
		if ok, err := schemaAccepts(t, name, data); !ok {
			t.Fatalf("the decoder accepts %q as a %s; the schema rejects it: %v", data, name, err)
		}
	})
}
