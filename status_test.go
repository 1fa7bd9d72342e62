package daemoncontract_test

import (
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

var statusRequestJSONTests = []jsonTest[daemoncontract.StatusRequest]{
	{"id only", `{"id":"workstation"}`, daemoncontract.StatusRequest{ID: "workstation"}, `{"id":"workstation"}`},
	{"with job_id", `{"id":"w","job_id":"job-123"}`, daemoncontract.StatusRequest{ID: "w", JobID: new("job-123")}, `{"id":"w","job_id":"job-123"}`},
	{"null job_id is absent", `{"id":"w","job_id":null}`, daemoncontract.StatusRequest{ID: "w"}, `{"id":"w"}`},
	{"empty strings are kept", `{"id":"","job_id":""}`, daemoncontract.StatusRequest{ID: "", JobID: new("")}, `{"id":"","job_id":""}`},
	{"escaped name binds", `{"\u0069d":"w"}`, daemoncontract.StatusRequest{ID: "w"}, `{"id":"w"}`},
	{"escapes in a value", `{"id":"tab\tq\"\\\u00e9\ud83d\ude00"}`, daemoncontract.StatusRequest{ID: "tab\tq\"\\é😀"}, `{"id":"tab\tq\"\\é😀"}`},
	{"unknown members are ignored", `{"id":"w","extra":{"a":[1,{"b":null}]},"Job_ID":"x"}`, daemoncontract.StatusRequest{ID: "w"}, `{"id":"w"}`},
	{"whitespace", " \n{ \"id\" : \"w\" }\t", daemoncontract.StatusRequest{ID: "w"}, `{"id":"w"}`},
}

func TestStatusRequestJSON(t *testing.T) {
	runJSONTests(t, statusRequestJSONTests)
}

var statusRequestDecodeErrorTests = []decodeErrorTest{
	{"missing id", `{}`, "id"},
	{"null id", `{"id":null}`, "id"},
	{"number id", `{"id":5}`, "id"},
	{"object id", `{"id":{}}`, "id"},
	{"upper-case ID is unknown", `{"ID":"w"}`, "id"},
	{"duplicate id", `{"id":"a","id":"b"}`, "id"},
	{"duplicate escaped id", `{"id":"a","\u0069d":"b"}`, "id"},
	{"array job_id", `{"id":"w","job_id":["x"]}`, "job_id"},
	{"lone surrogate", `{"id":"\ud800"}`, "id"},
	{"lone low surrogate", `{"id":"a\udc00b"}`, "id"},
	{"invalid UTF-8", "{\"id\":\"\xff\"}", "id"},
	{"truncated UTF-8", "{\"id\":\"\xe2\x82\"}", "id"},
	{"duplicate unknown member", `{"id":"w","x":1,"x":2}`, "x"},
	{"duplicate name inside an unknown member", `{"id":"w","x":{"a":1,"a":2}}`, "x"},
	{"duplicate name deep inside an unknown member", `{"id":"w","x":[{"a":[{"b":1,"b":1}]}]}`, "x"},
	{"lone surrogate inside an unknown member", `{"id":"w","x":["\udfff"]}`, "x"},
	{"invalid UTF-8 inside an unknown member", "{\"id\":\"w\",\"x\":{\"k\":\"\xc3\"}}", "x"},
}

func TestStatusRequestDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.StatusRequest](t, statusRequestDecodeErrorTests)
}

func TestNotAnObject(t *testing.T) {
	tests := []struct{ in, got string }{
		{`null`, "got null"},
		{`"w1"`, "got a string"},
		{`[]`, "got an array"},
		{`["w1","job"]`, "got an array"}, // serde's positional form
		{`5`, "got a number"},
		{`true`, "got true"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			checkDecodeError[daemoncontract.StatusRequest](t, tt.in, "", "must be a JSON object", tt.got)
		})
	}
}

var statusResponseJSONTests = []jsonTest[daemoncontract.StatusResponse]{
	{
		name: "required only",
		in:   `{"id":"w","is_running":false}`,
		want: daemoncontract.StatusResponse{ID: "w"},
		out:  `{"id":"w","is_running":false}`,
	},
	{
		name: "all members",
		in:   `{"id":"w","is_running":true,"health_status":"healthy","metadata":{"port":7833}}`,
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true, HealthStatus: new("healthy"), Metadata: json.RawMessage(`{"port":7833}`)},
		out:  `{"id":"w","is_running":true,"health_status":"healthy","metadata":{"port":7833}}`,
	},
	{
		name: "null optionals are absent",
		in:   `{"id":"w","is_running":true,"health_status":null,"metadata":null}`,
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true},
		out:  `{"id":"w","is_running":true}`,
	},
	{
		name: "empty health_status and metadata object are kept",
		in:   `{"id":"w","is_running":true,"health_status":"","metadata":{}}`,
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true, HealthStatus: new(""), Metadata: json.RawMessage(`{}`)},
		out:  `{"id":"w","is_running":true,"health_status":"","metadata":{}}`,
	},
	{
		name: "metadata is compacted, its member order kept",
		in:   "{\"id\":\"w\",\"is_running\":true,\"metadata\": { \"z\" : [ 1 , \"a b\" ] ,\n \"a\":2 } }",
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true, Metadata: json.RawMessage(`{"z":[1,"a b"],"a":2}`)},
		out:  `{"id":"w","is_running":true,"metadata":{"z":[1,"a b"],"a":2}}`,
	},
	{
		name: "metadata array",
		in:   `{"id":"w","is_running":true,"metadata":[1,"x",null,false]}`,
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true, Metadata: json.RawMessage(`[1,"x",null,false]`)},
		out:  `{"id":"w","is_running":true,"metadata":[1,"x",null,false]}`,
	},
	{
		name: "metadata scalars",
		in:   `{"id":"w","is_running":true,"metadata":-1.5e3}`,
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true, Metadata: json.RawMessage(`-1.5e3`)},
		out:  `{"id":"w","is_running":true,"metadata":-1.5e3}`,
	},
	{
		name: "metadata false",
		in:   `{"id":"w","is_running":true,"metadata":false}`,
		want: daemoncontract.StatusResponse{ID: "w", IsRunning: true, Metadata: json.RawMessage(`false`)},
		out:  `{"id":"w","is_running":true,"metadata":false}`,
	},
}

func TestStatusResponseJSON(t *testing.T) {
	runJSONTests(t, statusResponseJSONTests)
}

var statusResponseDecodeErrorTests = []decodeErrorTest{
	{"missing is_running", `{"id":"w"}`, "is_running"},
	{"missing id", `{"is_running":true}`, "id"},
	{"number is_running", `{"id":"w","is_running":1}`, "is_running"},
	{"string is_running", `{"id":"w","is_running":"true"}`, "is_running"},
	{"bool health_status", `{"id":"w","is_running":true,"health_status":true}`, "health_status"},
	{"duplicate metadata", `{"id":"w","is_running":true,"metadata":{"a":1},"metadata":{"b":2}}`, "metadata"},
	{"duplicate name inside metadata", `{"id":"w","is_running":true,"metadata":{"a":1,"a":2}}`, "metadata"},
	{"duplicate name deep inside metadata", `{"id":"w","is_running":true,"metadata":[{"a":{"b":1,"b":2}}]}`, "metadata"},
	{"lone surrogate inside metadata", `{"id":"w","is_running":true,"metadata":{"a":"\ud834"}}`, "metadata"},
	{"invalid UTF-8 inside metadata", "{\"id\":\"w\",\"is_running\":true,\"metadata\":[\"\xff\"]}", "metadata"},
}

func TestStatusResponseDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.StatusResponse](t, statusResponseDecodeErrorTests)
}

func TestStatusResponseMetadataEscapes(t *testing.T) {
	// Decoding keeps metadata's bytes as they came, escapes included. How
	// they are written back is the caller's encoder's choice:
	// encoding/json keeps them, encoding/json/v2 writes the shortest form.
	const in = `{"id":"w","is_running":true,"metadata":{"a":"\u0041<"}}`
	for _, cd := range allCodecs {
		var r daemoncontract.StatusResponse
		assert.NoError(t, cd.unmarshal([]byte(in), &r), cd.name)
		assert.Equal(t, `{"a":"\u0041<"}`, string(r.Metadata), cd.name)
		b, err := cd.marshal(r)
		assert.NoError(t, err, cd.name)
		assert.Equal(t, canonical(t, []byte(in)), canonical(t, b), cd.name)
	}
}

func TestStatusResponseEncodeMetadata(t *testing.T) {
	t.Run("empty metadata is absent", func(t *testing.T) {
		for _, cd := range allCodecs {
			b, err := cd.marshal(daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage{}})
			assert.NoError(t, err, cd.name)
			assert.Equal(t, `{"id":"w","is_running":false}`, string(b), cd.name)
		}
	})
	t.Run("metadata is compacted", func(t *testing.T) {
		for _, cd := range allCodecs {
			b, err := cd.marshal(daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(" [ 1 ,\n2 ] ")})
			assert.NoError(t, err, cd.name)
			assert.Equal(t, `{"id":"w","is_running":false,"metadata":[1,2]}`, string(b), cd.name)
		}
	})
	invalid := []struct{ name, metadata string }{
		{"not JSON", `{bad`},
		{"two values", `1 2`},
		{"duplicate names", `{"a":1,"a":2}`},
		{"invalid UTF-8", "\"\xff\""},
		{"lone surrogate", `"\udc00"`},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			checkEncodeError(t, daemoncontract.StatusResponse{ID: "w", Metadata: json.RawMessage(tt.metadata)}, "metadata", "must be valid JSON")
		})
	}
}

func TestEncodeInvalidUTF8(t *testing.T) {
	// Go strings may hold any bytes; the wire carries UTF-8 text only, and
	// encoding/json would otherwise replace the bad bytes without a word.
	checkEncodeError(t, daemoncontract.StatusRequest{ID: "w\xff"}, "id", "must be valid UTF-8")
	checkEncodeError(t, daemoncontract.StatusRequest{ID: "w", JobID: new("\xc3")}, "job_id", "must be valid UTF-8")
}

var syntaxErrorInputs = []string{
	``,
	` `,
	`{`,
	`{"id":"w1"`,
	`{"id":"w1",}`,
	`{"id" "w1"}`,
	`{"id":"w","is_running":true,"metadata":{"a":`,
	`{'id':'w'}`,
	"{\"id\":\"a\tb\"}",
	`{"id":01}`,
}

func TestSyntaxErrors(t *testing.T) {
	// Errors in the JSON syntax itself may be the JSON package's own errors,
	// but they must be errors, and leave the destination alone.
	for _, in := range syntaxErrorInputs {
		for _, cd := range allCodecs {
			r := daemoncontract.StatusRequest{ID: "before"}
			assert.Error(t, cd.unmarshal([]byte(in), &r), "%s: %q", cd.name, in)
			assert.Equal(t, daemoncontract.StatusRequest{ID: "before"}, r, "%s: %q", cd.name, in)
		}
	}
}

func TestTrailingData(t *testing.T) {
	// A message is one JSON object and nothing after it, whatever follows.
	for _, in := range []string{`{"id":"w1"} {"id":"w2"}`, `{"id":"w1"}x`, `{"id":"w1"}]`, `{"id":"w1"} }`, "{\"id\":\"w1\"}\n\"\xff\""} {
		for _, cd := range allCodecs {
			var r daemoncontract.StatusRequest
			assert.Error(t, cd.unmarshal([]byte(in), &r), "%s: %q", cd.name, in)
		}
		// UnmarshalJSON says what is wrong, and leaves the destination as
		// it was.
		r := daemoncontract.StatusRequest{ID: "before"}
		err := r.UnmarshalJSON([]byte(in))
		assert.EqualError(t, err, "daemoncontract: StatusRequest: must be a single JSON object, but more data follows it", "%q", in)
		assert.ErrorIs(t, err, daemoncontract.ErrTrailingData, "%q", in)
		assert.Equal(t, daemoncontract.StatusRequest{ID: "before"}, r, "%q", in)
	}
	// Whitespace after the message is not data.
	var r daemoncontract.StatusRequest
	assert.NoError(t, r.UnmarshalJSON([]byte("{\"id\":\"w1\"} \t\r\n")))
}

func TestTrailingDataUnderJSONv2(t *testing.T) {
	// The documented exception to "a failed decode leaves the destination
	// unchanged": encoding/json/v2 finds trailing data only after the
	// method has stored the message, so the destination holds the message
	// next to v2's own error. encoding/json scans the whole input first, and
	// leaves the destination alone.
	const in = `{"id":"new","job_id":"j"} }`
	r := daemoncontract.StatusRequest{ID: "before"}
	err := jsonv2.Unmarshal([]byte(in), &r)
	require.Error(t, err)
	assert.NotErrorIs(t, err, daemoncontract.ErrTrailingData, "v2's own syntax error")
	assert.Equal(t, daemoncontract.StatusRequest{ID: "new", JobID: new("j")}, r, "v2 stored the message before it saw the trailing data")

	r = daemoncontract.StatusRequest{ID: "before"}
	require.Error(t, json.Unmarshal([]byte(in), &r))
	assert.Equal(t, daemoncontract.StatusRequest{ID: "before"}, r, "encoding/json checks the input first")
}
