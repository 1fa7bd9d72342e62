package daemoncontract_test

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"reflect"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// codec is one way in and out of the contract types.
type codec struct {
	name      string
	unmarshal func(data []byte, v any) error
	marshal   func(v any) ([]byte, error)
	// escape turns the reference's bytes into what this codec writes for the
	// same value: encoding/json escapes <, >, &, U+2028 and U+2029.
	escape func([]byte) []byte
}

var codecs = []codec{
	{
		name:      "json",
		unmarshal: json.Unmarshal,
		marshal:   json.Marshal,
		escape: func(b []byte) []byte {
			var buf bytes.Buffer
			json.HTMLEscape(&buf, b)
			return buf.Bytes()
		},
	},
	{
		name:      "jsonv2",
		unmarshal: func(data []byte, v any) error { return jsonv2.Unmarshal(data, v) },
		marshal:   func(v any) ([]byte, error) { return jsonv2.Marshal(v) },
		escape:    func(b []byte) []byte { return b },
	},
	{
		name:      "methods",
		unmarshal: func(data []byte, v any) error { return v.(json.Unmarshaler).UnmarshalJSON(data) },
		marshal:   func(v any) ([]byte, error) { return v.(json.Marshaler).MarshalJSON() },
		escape:    func(b []byte) []byte { return b },
	},
}

// v2Lenient is encoding/json/v2 with the caller relaxing jsontext's checks,
// which must not relax the contract's.
var v2Lenient = codec{
	name: "jsonv2-lenient",
	unmarshal: func(data []byte, v any) error {
		return jsonv2.Unmarshal(data, v, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	},
	marshal: func(v any) ([]byte, error) {
		return jsonv2.Marshal(v, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	},
	escape: func(b []byte) []byte { return b },
}

// allCodecs is every entry point, including the lenient v2 one.
var allCodecs = append(codecs[:len(codecs):len(codecs)], v2Lenient)

// jsonTest is a message, in, that decodes to want and encodes as out.
type jsonTest[T any] struct {
	name string
	in   string
	want T
	out  string
}

// decodeErrorTest is a message, in, that fails to decode because of field.
type decodeErrorTest struct {
	name, in, field string
}

// runJSONTests runs checkRoundTrip on every case, as a subtest.
func runJSONTests[T any](t *testing.T, tests []jsonTest[T]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkRoundTrip(t, tt.in, tt.want, tt.out) })
	}
}

// runDecodeErrorTests runs checkDecodeError for T on every case, as a
// subtest.
func runDecodeErrorTests[T any](t *testing.T, tests []decodeErrorTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkDecodeError[T](t, tt.in, tt.field) })
	}
}

// checkRoundTrip decodes in through every entry point, expects want, and
// expects want to encode as out (before each codec's escaping).
func checkRoundTrip[T any](t *testing.T, in string, want T, out string) {
	t.Helper()
	for _, cd := range allCodecs {
		var got T
		require.NoError(t, cd.unmarshal([]byte(in), &got), "%s: decode %s", cd.name, in)
		assert.Equal(t, want, got, "%s: decode %s", cd.name, in)
		b, err := cd.marshal(got)
		require.NoError(t, err, "%s: encode", cd.name)
		assert.Equal(t, string(cd.escape([]byte(out))), string(b), "%s: encode", cd.name)
		b, err = cd.marshal(&got)
		require.NoError(t, err, "%s: encode through a pointer", cd.name)
		assert.Equal(t, string(cd.escape([]byte(out))), string(b), "%s: encode through a pointer", cd.name)
	}
}

// checkDecodeError decodes in through every entry point into a T and expects
// a *FieldError for field, with the type's name, whose text contains each of
// texts. The destination must be left as it was.
func checkDecodeError[T any](t *testing.T, in string, field string, texts ...string) {
	t.Helper()
	for _, cd := range allCodecs {
		var got T
		err := cd.unmarshal([]byte(in), &got)
		require.Error(t, err, "%s: decode %q", cd.name, in)
		var fe *daemoncontract.FieldError
		require.ErrorAs(t, err, &fe, "%s: decode %q", cd.name, in)
		assert.Equal(t, typeName[T](), fe.Type, "%s: decode %q", cd.name, in)
		assert.Equal(t, field, fe.Field, "%s: decode %q: %v", cd.name, in, err)
		if field != "" {
			assert.Contains(t, err.Error(), strconv.Quote(field), cd.name)
		}
		for _, text := range texts {
			assert.Contains(t, err.Error(), text, cd.name)
		}
		var zero T
		assert.Equal(t, zero, got, "%s: a failed decode must not change the destination", cd.name)
	}
}

// checkEncodeError encodes v through every entry point and expects a
// *FieldError for field whose text contains each of texts.
func checkEncodeError[T any](t *testing.T, v T, field string, texts ...string) {
	t.Helper()
	for _, cd := range allCodecs {
		b, err := cd.marshal(v)
		require.Error(t, err, "%s: encode gave %s", cd.name, b)
		var fe *daemoncontract.FieldError
		require.ErrorAs(t, err, &fe, cd.name)
		assert.Equal(t, typeName[T](), fe.Type, cd.name)
		assert.Equal(t, field, fe.Field, "%s: %v", cd.name, err)
		for _, text := range texts {
			assert.Contains(t, err.Error(), text, cd.name)
		}
	}
}

// typeName returns the unqualified name of T, as FieldError.Type has it.
func typeName[T any]() string { return reflect.TypeFor[T]().Name() }

// canonical returns the RFC 8785 form of a JSON value.
func canonical(t *testing.T, b []byte) string {
	t.Helper()
	v := jsontext.Value(bytes.Clone(b))
	require.NoError(t, v.Canonicalize(), "%s", b)
	return string(v)
}
