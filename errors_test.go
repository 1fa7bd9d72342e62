package daemoncontract_test

import (
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

func TestFieldErrorText(t *testing.T) {
	cause := errors.New("must be 1..2147483647, got 0")
	tests := []struct {
		err  *daemoncontract.FieldError
		want string
	}{
		{&daemoncontract.FieldError{Type: "ShutdownConfig", Field: "pid", Err: cause}, `daemoncontract: ShutdownConfig: field "pid": must be 1..2147483647, got 0`},
		{&daemoncontract.FieldError{Type: "StatusRequest", Err: cause}, `daemoncontract: StatusRequest: must be 1..2147483647, got 0`},
		{&daemoncontract.FieldError{Type: "StatusRequest", Field: "we\"ird"}, `daemoncontract: StatusRequest: field "we\"ird": invalid`},
	}
	for _, tt := range tests {
		assert.EqualError(t, tt.err, tt.want)
	}
	assert.ErrorIs(t, tests[0].err, cause, "Unwrap gives the cause")
}

func TestFieldErrorUnwrapsToJSONErrors(t *testing.T) {
	// A repeated name is a *FieldError that still matches jsontext's sentinel,
	// through every entry point.
	for _, cd := range allCodecs {
		var r daemoncontract.StatusRequest
		err := cd.unmarshal([]byte(`{"id":"a","id":"b"}`), &r)
		assert.ErrorIs(t, err, jsontext.ErrDuplicateName, cd.name)
	}
	var r daemoncontract.StatusRequest
	assert.ErrorIs(t, r.UnmarshalJSON(nil), io.ErrUnexpectedEOF)
}

// caller is a caller's own message that carries contract messages.
type caller struct {
	Handles  []daemoncontract.DaemonHandle  `json:"handles"`
	Shutdown *daemoncontract.ShutdownConfig `json:"shutdown"`
}

func TestNestedInCallerTypes(t *testing.T) {
	const in = `{"handles":[{"daemon_name":"q","started_by_us":false,"base_url":"http://x"},` +
		`{"daemon_name":"h","started_by_us":true,"base_url":"http://y","pid":7}],` +
		`"shutdown":{"daemon_name":"h","pid":7}}`
	const out = `{"handles":[{"daemon_name":"q","started_by_us":false,"base_url":"http://x"},` +
		`{"daemon_name":"h","started_by_us":true,"base_url":"http://y","pid":7}],` +
		`"shutdown":{"daemon_name":"h","pid":7,"graceful_timeout_secs":5}}`
	want := caller{
		Handles: []daemoncontract.DaemonHandle{
			daemoncontract.AlreadyRunning("q", "http://x"),
			daemoncontract.StartedByUs("h", "http://y", new(uint32(7))),
		},
		Shutdown: new(daemoncontract.NewShutdownConfig("h", 7)),
	}
	for _, cd := range allCodecs[:2] { // the methods codec needs a contract type
		var got caller
		require.NoError(t, cd.unmarshal([]byte(in), &got), cd.name)
		assert.Equal(t, want, got, cd.name)
		b, err := cd.marshal(got)
		require.NoError(t, err, cd.name)
		assert.Equal(t, out, string(b), cd.name)
	}
}

func TestNestedStrictness(t *testing.T) {
	// The contract's rules hold inside a caller's message too, through either
	// package, and the error names the member of the contract message.
	tests := []struct{ in, field string }{
		{`{"handles":[{"daemon_name":"q","started_by_us":false,"started_by_us":true,"base_url":"http://x"}]}`, "started_by_us"},
		{`{"handles":[{"daemon_name":"q","started_by_us":false,"base_url":"http://x","x":{"a":1,"a":2}}]}`, "x"},
		{`{"handles":[{"daemon_name":"q","started_by_us":false,"base_url":"http://x","pid":"\ud800"}]}`, "pid"},
		{`{"shutdown":{"daemon_name":"h","pid":1,"job_id":"\udc00"}}`, "job_id"},
	}
	decoders := map[string]func([]byte, any) error{
		"json":   json.Unmarshal,
		"jsonv2": func(b []byte, v any) error { return jsonv2.Unmarshal(b, v) },
	}
	for _, tt := range tests {
		for name, decode := range decoders {
			var got caller
			err := decode([]byte(tt.in), &got)
			var fe *daemoncontract.FieldError
			require.ErrorAs(t, err, &fe, "%s: %s", name, tt.in)
			assert.Equal(t, tt.field, fe.Field, "%s: %s: %v", name, tt.in, err)
		}
	}
}

var invalidNameInputs = []string{
	"{\"id\":\"w\",\"\xff\":1}",
	`{"id":"w","\ud800":1}`,
	"{\"\xffid\":\"w\"}",
}

func TestInvalidNames(t *testing.T) {
	// A member name that is not valid text is an error, whichever package
	// reads it; it belongs to no member, so no field is named.
	for _, in := range invalidNameInputs {
		for _, cd := range allCodecs {
			r := daemoncontract.StatusRequest{ID: "before"}
			err := cd.unmarshal([]byte(in), &r)
			require.Error(t, err, "%s: %q", cd.name, in)
			if fe, ok := errors.AsType[*daemoncontract.FieldError](err); ok {
				assert.Empty(t, fe.Field, "%s: %q", cd.name, in)
			}
			assert.Equal(t, daemoncontract.StatusRequest{ID: "before"}, r, cd.name)
		}
	}
}

func TestMarshalJSONToMisuse(t *testing.T) {
	// An encoder that expects an object name cannot take a message: an
	// error, not a panic.
	enc := jsontext.NewEncoder(io.Discard)
	require.NoError(t, enc.WriteToken(jsontext.BeginObject))
	err := daemoncontract.StatusRequest{ID: "w"}.MarshalJSONTo(enc)
	assert.Error(t, err)
}

// failingWriter fails every write.
type failingWriter struct{}

var errWrite = errors.New("write failed")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestMarshalJSONToWriteError(t *testing.T) {
	// A write error surfaces as it is, not dressed up as invalid JSON.
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = 'a'
	}
	for _, msg := range []interface {
		MarshalJSONTo(*jsontext.Encoder) error
	}{
		daemoncontract.StatusResponse{ID: string(big)},
		daemoncontract.StatusResponse{ID: "w", HealthStatus: new(string(big)), Metadata: json.RawMessage(`{"a":1}`)},
		daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(`"` + string(big) + `"`)},
	} {
		err := msg.MarshalJSONTo(jsontext.NewEncoder(failingWriter{}))
		assert.ErrorIs(t, err, errWrite)
		assert.NotContains(t, err.Error(), "must be valid JSON")
	}
}
