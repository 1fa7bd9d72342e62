package daemoncontract_test

import (
	"bufio"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// decodeSentinels are the cases a decoding error can have; each error has
// exactly one of them.
var decodeSentinels = map[string]error{
	"ErrMissingField":  daemoncontract.ErrMissingField,
	"ErrNullField":     daemoncontract.ErrNullField,
	"ErrWrongType":     daemoncontract.ErrWrongType,
	"ErrOutOfRange":    daemoncontract.ErrOutOfRange,
	"ErrDuplicateName": daemoncontract.ErrDuplicateName,
	"ErrInvalidText":   daemoncontract.ErrInvalidText,
	"ErrNotObject":     daemoncontract.ErrNotObject,
	"ErrTrailingData":  daemoncontract.ErrTrailingData,
	"ErrInvalidValue":  daemoncontract.ErrInvalidValue,
	"ErrSyntax":        daemoncontract.ErrSyntax,
}

// nest returns metadata nested n arrays deep.
func nest(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

var sentinelTests = []struct {
	sentinel string
	typ      string
	in       string
	field    string
}{
	{"ErrMissingField", "ShutdownConfig", `{"daemon_name":"h"}`, "pid"},
	{"ErrMissingField", "StatusRequest", `{"ID":"w"}`, "id"},
	{"ErrNullField", "StatusRequest", `{"id":null}`, "id"},
	{"ErrNullField", "ShutdownConfig", `{"daemon_name":"h","pid":7,"graceful_timeout_secs":null}`, "graceful_timeout_secs"},
	{"ErrNullField", "DaemonHandle", `{"daemon_name":"q","started_by_us":null,"base_url":"http://x"}`, "started_by_us"},
	{"ErrWrongType", "StatusRequest", `{"id":5}`, "id"},
	{"ErrWrongType", "StatusRequest", `{"id":"w","job_id":["x"]}`, "job_id"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":7.0}`, "pid"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":1e3}`, "pid"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":"7"}`, "pid"},
	{"ErrWrongType", "DaemonHandle", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":7,"process_identity":1}`, "process_identity"},
	{"ErrWrongType", "InstallResult", `{"binary_path":"/b","install_time":1,"sha256":1}`, "sha256"},
	{"ErrWrongType", "InstallResult", `{"binary_path":"/b","install_time":1,"sha256":1}`, "sha256"},
	{"ErrOutOfRange", "ShutdownConfig", `{"daemon_name":"h","pid":-1}`, "pid"},
	{"ErrOutOfRange", "ShutdownConfig", `{"daemon_name":"h","pid":4294967296}`, "pid"},
	{"ErrOutOfRange", "InstallResult", `{"binary_path":"/b","install_time":9223372036854775808}`, "install_time"},
	{"ErrOutOfRange", "InstallResult", `{"binary_path":"/b","install_time":9223371974719179008}`, "install_time"},
	{"ErrOutOfRange", "InstallResult", `{"binary_path":"/b","install_time":9223372036854775807}`, "install_time"},
	{"ErrOutOfRange", "ShutdownConfig", `{"daemon_name":"h","pid":-9223372036854775808}`, "pid"},
	// What serde_json reads as a float is the wrong type, as the reference
	// reports it: -0, and integers beyond the 64-bit range.
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":-0}`, "pid"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":-0.0}`, "pid"},
	{"ErrWrongType", "InstallResult", `{"binary_path":"/b","install_time":-0}`, "install_time"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":7,"graceful_timeout_secs":-0}`, "graceful_timeout_secs"},
	{"ErrWrongType", "DaemonHandle", `{"daemon_name":"q","started_by_us":true,"base_url":"http://x","pid":-0}`, "pid"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":18446744073709551616}`, "pid"},
	{"ErrWrongType", "ShutdownConfig", `{"daemon_name":"h","pid":-9223372036854775809}`, "pid"},
	{"ErrOutOfRange", "StatusResponse", `{"id":"w","is_running":true,"metadata":[1e400]}`, "metadata"},
	{"ErrOutOfRange", "StatusResponse", `{"id":"w","is_running":true,"metadata":` + nest(127) + `}`, "metadata"},
	{"ErrDuplicateName", "StatusRequest", `{"id":"a","id":"b"}`, "id"},
	{"ErrDuplicateName", "StatusRequest", `{"id":"w","x":1,"x":2}`, "x"},
	{"ErrDuplicateName", "StatusRequest", `{"id":"w","x":{"k":1,"k":2}}`, "x"},
	{"ErrDuplicateName", "StatusResponse", `{"id":"w","is_running":true,"metadata":{"a":1,"a":2}}`, "metadata"},
	{"ErrInvalidText", "StatusRequest", `{"id":"\ud800"}`, "id"},
	{"ErrInvalidText", "StatusRequest", "{\"id\":\"\xff\"}", "id"},
	{"ErrInvalidText", "StatusRequest", `{"id":"w","x":["\udfff"]}`, "x"},
	{"ErrInvalidText", "StatusResponse", "{\"id\":\"w\",\"is_running\":true,\"metadata\":[\"\xff\"]}", "metadata"},
	{"ErrInvalidText", "StatusRequest", "{\"\xffid\":\"w\"}", ""},
	{"ErrInvalidText", "StatusRequest", `{"\ud800":1,"id":"w"}`, ""},
	{"ErrNotObject", "StatusRequest", `null`, ""},
	{"ErrNotObject", "StatusRequest", `["w1","job"]`, ""},
	{"ErrNotObject", "ShutdownConfig", `"x"`, ""},
	// Two faults at once: the repeated name or the invalid text is
	// reported, through every entry point, as a strict decoder meets it
	// first.
	{"ErrInvalidText", "StatusRequest", `"\ud800"`, ""},
	// Inside a value that is not an object, the error's pointer ("/0")
	// names no member: the error is about the message (found by
	// FuzzUninstallConfig).
	{"ErrInvalidText", "UninstallConfig", "[\"\xe8\"]", ""},
	{"ErrInvalidText", "StatusRequest", "[1,[\"\xff\"]]", ""},
	{"ErrDuplicateName", "InstallConfig", `{"binary_name":{"a":1,"a":2}}`, "binary_name"},
	{"ErrInvalidText", "InstallConfig", `{"binary_name":["\ud800"]}`, "binary_name"},
	{"ErrInvalidText", "ShutdownConfig", `{"daemon_name":"h","pid":["\udfff"]}`, "pid"},
	{"ErrDuplicateName", "DaemonHandle", `{"daemon_name":"q","started_by_us":{"a":1,"a":2},"base_url":"http://x"}`, "started_by_us"},
}

func TestSentinels(t *testing.T) {
	// errors.Is tells the cases apart, whichever entry point decoded the
	// message, and each error has exactly one case.
	for _, tt := range sentinelTests {
		for _, cd := range allCodecs {
			v := newMessage[tt.typ]()
			err := cd.unmarshal([]byte(tt.in), v)
			require.Error(t, err, "%s: %q", cd.name, tt.in)
			for name, sentinel := range decodeSentinels {
				assert.Equal(t, name == tt.sentinel, errors.Is(err, sentinel), "%s: %s: errors.Is(%v, %s)", cd.name, tt.in, err, name)
			}
			fe, ok := errors.AsType[*daemoncontract.FieldError](err)
			require.True(t, ok, "%s: %q: %v", cd.name, tt.in, err)
			assert.Equal(t, tt.field, fe.Field, "%s: %q", cd.name, tt.in)
			assert.Equal(t, tt.typ, fe.Type, "%s: %q", cd.name, tt.in)
		}
	}
}

func TestSyntaxErrorsHaveACase(t *testing.T) {
	// A syntax error that the contract sees is a *FieldError marked
	// ErrSyntax, naming the member it is in. encoding/json checks the
	// whole input first, and reports it as its own *json.SyntaxError,
	// before the contract sees the message (as the README says).
	for _, in := range syntaxErrorInputs {
		for _, cd := range allCodecs[1:] {
			if strings.TrimSpace(in) == "" && cd.name != "methods" {
				continue // encoding/json/v2 reads the first token itself, and finds none
			}
			// {"id":01} too: a leading zero is a syntax error, before the
			// 0 is the wrong type for id.
			err := cd.unmarshal([]byte(in), new(daemoncontract.StatusRequest))
			for name, sentinel := range decodeSentinels {
				assert.Equal(t, name == "ErrSyntax", errors.Is(err, sentinel), "%s: %q: errors.Is(%v, %s)", cd.name, in, err, name)
			}
		}
	}
	tests := []struct{ in, field string }{
		{`{"id":"w","x":[1,}`, "x"},
		{`{"id":[1,]}`, "id"},
		{`{"id":"w",}`, ""},
		{`{"id":"w"`, ""},
		{`{"id":"w" "job_id":"j"}`, ""},
		{`{"id":tru}`, "id"},
		{`{`, ""},
	}
	for _, tt := range tests {
		for _, cd := range allCodecs {
			var r daemoncontract.StatusRequest
			err := cd.unmarshal([]byte(tt.in), &r)
			require.Error(t, err, "%s: %s", cd.name, tt.in)
			if cd.name == "json" {
				assert.IsType(t, &json.SyntaxError{}, err, "%s: %s", cd.name, tt.in)
				continue
			}
			for name, sentinel := range decodeSentinels {
				assert.Equal(t, name == "ErrSyntax", errors.Is(err, sentinel), "%s: %s: errors.Is(%v, %s)", cd.name, tt.in, err, name)
			}
			fe, ok := errors.AsType[*daemoncontract.FieldError](err)
			require.True(t, ok, "%s: %q: %v", cd.name, tt.in, err)
			assert.Equal(t, tt.field, fe.Field, "%s: %s", cd.name, tt.in)
			assert.Equal(t, daemoncontract.StatusRequest{}, r, "%s: %s: unchanged", cd.name, tt.in)
		}
	}
}

func TestTooDeepIsOutOfRange(t *testing.T) {
	// An unknown member nested deeper than Go's JSON packages read (10,000
	// levels) is ErrOutOfRange wherever the contract reports it;
	// encoding/json finds it first, with its own error.
	in := []byte(`{"id":"w","x":` + nest(10001) + `}`)
	for _, cd := range allCodecs[1:] {
		var r daemoncontract.StatusRequest
		err := cd.unmarshal(in, &r)
		require.Error(t, err, cd.name)
		assert.True(t, errors.Is(err, daemoncontract.ErrOutOfRange), "%s: %.200v", cd.name, err)
	}
	var r daemoncontract.StatusRequest
	assert.Error(t, json.Unmarshal(in, &r))
}

func TestSentinelsKeepErrorTexts(t *testing.T) {
	// Marking an error with its case changes no text.
	tests := []struct{ typ, in, text string }{
		{"ShutdownConfig", `{"daemon_name":"h"}`, `daemoncontract: ShutdownConfig: missing field "pid"`},
		{"ShutdownConfig", `{"daemon_name":"h","pid":-1}`, `daemoncontract: ShutdownConfig: field "pid": must be an integer in 0..4294967295, got -1`},
		{"StatusRequest", `{"id":null}`, `daemoncontract: StatusRequest: field "id": must be a string, got null`},
		{"StatusRequest", `null`, `daemoncontract: StatusRequest: must be a JSON object, got null`},
		{"StatusRequest", `{"id":"a","x":1,"x":2}`, `daemoncontract: StatusRequest: field "x": jsontext: duplicate object member name "x"`},
	}
	for _, tt := range tests {
		v := newMessage[tt.typ]()
		err := v.(json.Unmarshaler).UnmarshalJSON([]byte(tt.in))
		assert.EqualError(t, err, tt.text)
	}
}

func TestDuplicateNameKeepsJSONTextSentinel(t *testing.T) {
	for _, in := range []string{`{"id":"a","id":"b"}`, `{"id":"w","x":{"k":1,"k":2}}`, `{"id":"w","x":1,"x":2}`} {
		for _, cd := range allCodecs {
			var r daemoncontract.StatusRequest
			err := cd.unmarshal([]byte(in), &r)
			assert.ErrorIs(t, err, daemoncontract.ErrDuplicateName, "%s: %s", cd.name, in)
			assert.ErrorIs(t, err, jsontext.ErrDuplicateName, "%s: %s", cd.name, in)
		}
	}
}

func TestValidateErrorsAreInvalidValue(t *testing.T) {
	// Every error Validate reports wraps ErrInvalidValue, and nothing a
	// decoder reports does; where the rule is about range, it says so too.
	err := daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage("[1e400]")}.Validate()
	assert.ErrorIs(t, err, daemoncontract.ErrInvalidValue)
	assert.ErrorIs(t, err, daemoncontract.ErrOutOfRange)
	for _, fe := range daemoncontract.FieldErrors(daemoncontract.ShutdownConfig{PID: 0, JobID: new("")}.Validate()) {
		assert.ErrorIs(t, fe, daemoncontract.ErrInvalidValue, fe.Field)
		assert.NotErrorIs(t, fe, daemoncontract.ErrMissingField, fe.Field)
	}
	_, err = daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: "http://h", ShutdownEndpoint: new("//x")}.ShutdownURL()
	assert.ErrorIs(t, err, daemoncontract.ErrInvalidValue)
}

func TestEncodeErrorsHaveCases(t *testing.T) {
	tests := []struct {
		v        any
		sentinel error
		field    string
	}{
		{daemoncontract.StatusRequest{ID: "\xff"}, daemoncontract.ErrInvalidText, "id"},
		{daemoncontract.InstallResult{BinaryPath: "/b"}, daemoncontract.ErrOutOfRange, "install_time"},
		{daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`{"a":1,"a":2}`)}, daemoncontract.ErrDuplicateName, "metadata"},
		{daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage("\"\xff\"")}, daemoncontract.ErrInvalidText, "metadata"},
		{daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage("1e400")}, daemoncontract.ErrOutOfRange, "metadata"},
		{daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(nest(127))}, daemoncontract.ErrOutOfRange, "metadata"},
	}
	// Metadata that is not JSON at all is reported as such, not as
	// something a Rust peer cannot read, however deep it goes.
	for _, bad := range []string{`["unterminated`, nest(200)[:250], `[1e400`} {
		for _, cd := range allCodecs {
			_, err := cd.marshal(daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(bad)})
			assert.ErrorContains(t, err, "must be valid JSON", "%s: %.20s", cd.name, bad)
			assert.NotErrorIs(t, err, daemoncontract.ErrOutOfRange, "%s: %.20s", cd.name, bad)
		}
	}
	for _, tt := range tests {
		for _, cd := range allCodecs {
			_, err := cd.marshal(tt.v)
			assert.ErrorIs(t, err, tt.sentinel, "%s: %#v", cd.name, tt.v)
			fe, ok := errors.AsType[*daemoncontract.FieldError](err)
			require.True(t, ok, "%s: %v", cd.name, err)
			assert.Equal(t, tt.field, fe.Field, cd.name)
		}
	}
}

func TestFieldErrors(t *testing.T) {
	// A message with three problems: Validate reports all three, and
	// FieldErrors returns them in wire order, where errors.As sees only the
	// first.
	cfg := daemoncontract.ShutdownConfig{DaemonName: "-rf", PID: 1, GracefulTimeoutSecs: 5, JobID: new("")}
	err := cfg.Validate()
	var first *daemoncontract.FieldError
	require.ErrorAs(t, err, &first)
	assert.Equal(t, "daemon_name", first.Field)

	var fields []string
	for _, fe := range daemoncontract.FieldErrors(err) {
		assert.Equal(t, "ShutdownConfig", fe.Type)
		fields = append(fields, fe.Field)
	}
	assert.Equal(t, []string{"daemon_name", "pid", "job_id"}, fields)

	// Through further wrapping and joining, in order.
	other := &daemoncontract.FieldError{Type: "StatusRequest", Field: "id", Err: errors.New("must be x")}
	wrapped := errors.Join(fmt.Errorf("stop: %w", err), errors.New("unrelated"), other)
	fields = nil
	for _, fe := range daemoncontract.FieldErrors(wrapped) {
		fields = append(fields, fe.Type+"."+fe.Field)
	}
	assert.Equal(t, []string{"ShutdownConfig.daemon_name", "ShutdownConfig.pid", "ShutdownConfig.job_id", "StatusRequest.id"}, fields)

	// A *FieldError inside another's Err is found too.
	outer := &daemoncontract.FieldError{Type: "T", Field: "a", Err: other}
	assert.Equal(t, []*daemoncontract.FieldError{outer, other}, daemoncontract.FieldErrors(outer))

	assert.Nil(t, daemoncontract.FieldErrors(nil))
	assert.Nil(t, daemoncontract.FieldErrors(errors.New("no field")))
	assert.Empty(t, daemoncontract.FieldErrors(daemoncontract.NewShutdownConfig("rbee-hive", 4242).Validate()))
}

// TestMetadataNumbersAsRustReadsThem holds the decoder, Validate and the
// encoder to what the Rust reference did with each number of
// testdata/conformance/numbers.tsv (recorded by internal/recordcases), as a
// StatusResponse's metadata: what it read, Go accepts and writes; what it
// rejected, Go rejects on every path.
func TestMetadataNumbersAsRustReadsThem(t *testing.T) {
	f, err := os.Open("testdata/conformance/numbers.tsv")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	read, rejected := 0, 0
	for sc.Scan() {
		num, verdict, ok := strings.Cut(sc.Text(), "\t")
		require.True(t, ok && (verdict == "OK" || verdict == "ERR"), "line %q", sc.Text())
		rustReads := verdict == "OK"
		if rustReads {
			read++
		} else {
			rejected++
		}
		in := []byte(`{"id":"n","is_running":true,"metadata":` + num + `}`)
		for _, cd := range allCodecs {
			var r daemoncontract.StatusResponse
			err := cd.unmarshal(in, &r)
			if rustReads {
				require.NoError(t, err, "%s: %s", cd.name, num)
			} else {
				require.ErrorIs(t, err, daemoncontract.ErrOutOfRange, "%s: %s", cd.name, num)
			}
		}
		r := daemoncontract.StatusResponse{ID: "n", Metadata: json.RawMessage(num)}
		if rustReads {
			require.NoError(t, r.Validate(), num)
			_, err := json.Marshal(r)
			require.NoError(t, err, num)
		} else {
			require.ErrorIs(t, r.Validate(), daemoncontract.ErrOutOfRange, num)
			for _, cd := range allCodecs {
				_, err := cd.marshal(r)
				require.ErrorIs(t, err, daemoncontract.ErrOutOfRange, "%s: Go must never write %s", cd.name, num)
			}
		}
	}
	require.NoError(t, sc.Err())
	// The file holds both verdicts in numbers: a truncated file fails.
	assert.Greater(t, read, 1000)
	assert.Greater(t, rejected, 500)
}

func TestMetadataDepth(t *testing.T) {
	// A Rust peer reads a message nested 127 levels deep, counting the
	// message's own object as 1: metadata may nest 126 levels.
	const field = "metadata"
	for _, tt := range []struct {
		meta string
		ok   bool
	}{
		{nest(126), true},
		{nest(127), false},
		{strings.Repeat(`{"a":`, 126) + "1" + strings.Repeat("}", 126), true},
		{strings.Repeat(`{"a":`, 127) + "1" + strings.Repeat("}", 127), false},
		{`[` + nest(125) + `,` + nest(126) + `]`, false},
		{`["[[[[` + strings.Repeat("[", 200) + `"]`, true}, // brackets in a string are text
		{`{"a":"\"` + strings.Repeat("{", 200) + `"}`, true},
		{`["a\\",` + nest(126) + `]`, false}, // the quote after an escaped backslash ends the string
		{`["a\\\"",` + nest(125) + `]`, true},
	} {
		r := daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(tt.meta)}
		in := `{"id":"w","is_running":true,"metadata":` + tt.meta + `}`
		for _, cd := range allCodecs {
			var got daemoncontract.StatusResponse
			err := cd.unmarshal([]byte(in), &got)
			_, encErr := cd.marshal(r)
			if tt.ok {
				assert.NoError(t, err, "%s: decode %.40s", cd.name, tt.meta)
				assert.NoError(t, encErr, "%s: encode %.40s", cd.name, tt.meta)
				continue
			}
			for _, err := range []error{err, encErr} {
				assert.ErrorIs(t, err, daemoncontract.ErrOutOfRange, "%s: %.40s", cd.name, tt.meta)
				fe, ok := errors.AsType[*daemoncontract.FieldError](err)
				if assert.True(t, ok, cd.name) {
					assert.Equal(t, field, fe.Field)
				}
			}
		}
		if tt.ok {
			assert.NoError(t, r.Validate())
		} else {
			assert.Equal(t, []string{field}, brokenFields(t, "StatusResponse", r.Validate()))
		}
	}
}
