package daemoncontract_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

// conformanceCase is one line of testdata/conformance/cases.jsonl.
type conformanceCase struct {
	Type   string  `json:"type"`
	Input  string  `json:"input"`
	OK     bool    `json:"ok"`
	Output *string `json:"output"`
	Error  *string `json:"error"`
	Field  string  `json:"field"`
	Note   string  `json:"note"`
	// GoOutput is what Go writes where it deliberately writes more than the
	// reference: a member beyond the Rust contract, which the reference
	// ignores. The reference reads it back as Output (recordcases checks).
	GoOutput *string `json:"go_output"`
	// GoRejects names the member of a message that the reference accepts
	// and Go deliberately rejects (the README says where, and why); Go's
	// error must name it.
	GoRejects string `json:"go_rejects"`
}

// newMessage returns a pointer to a new zero value of the named contract type.
var newMessage = map[string]func() any{
	"DaemonHandle":     func() any { return new(daemoncontract.DaemonHandle) },
	"StatusRequest":    func() any { return new(daemoncontract.StatusRequest) },
	"StatusResponse":   func() any { return new(daemoncontract.StatusResponse) },
	"InstallConfig":    func() any { return new(daemoncontract.InstallConfig) },
	"InstallResult":    func() any { return new(daemoncontract.InstallResult) },
	"UninstallConfig":  func() any { return new(daemoncontract.UninstallConfig) },
	"HttpDaemonConfig": func() any { return new(daemoncontract.HttpDaemonConfig) },
	"ShutdownConfig":   func() any { return new(daemoncontract.ShutdownConfig) },
}

// loadConformance reads every case from the repository's copy of the file.
func loadConformance(tb testing.TB) []conformanceCase {
	tb.Helper()
	f, err := os.Open("testdata/conformance/cases.jsonl")
	require.NoError(tb, err)
	defer f.Close()
	var cases []conformanceCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c conformanceCase
		require.NoError(tb, json.Unmarshal(sc.Bytes(), &c), "line %d", len(cases)+1)
		require.Contains(tb, newMessage, c.Type, "line %d", len(cases)+1)
		cases = append(cases, c)
	}
	require.NoError(tb, sc.Err())
	return cases
}

func TestConformance(t *testing.T) {
	cases := loadConformance(t)
	require.Len(t, cases, 170)
	for _, cd := range allCodecs {
		for i, c := range cases {
			t.Run(cd.name+"/"+strconv.Itoa(i+1)+"_"+c.Type, func(t *testing.T) {
				t.Logf("input %q: %s", c.Input, c.Note)
				v := newMessage[c.Type]()
				err := cd.unmarshal([]byte(c.Input), v)
				if !c.OK {
					if cd.name == "json" && !json.Valid([]byte(c.Input)) {
						// encoding/json finds syntax errors itself,
						// before the contract sees the message.
						require.IsType(t, &json.SyntaxError{}, err)
						return
					}
					checkRejected(t, c, err)
					return
				}
				if c.GoRejects != "" {
					var fe *daemoncontract.FieldError
					require.ErrorAs(t, err, &fe, "Go deliberately rejects this")
					assert.Equal(t, c.GoRejects, fe.Field)
					return
				}
				require.NoError(t, err)
				require.NotNil(t, c.Output)
				got, err := cd.marshal(v)
				require.NoError(t, err)
				want := []byte(*c.Output)
				if c.GoOutput != nil {
					want = []byte(*c.GoOutput)
				}
				if c.Type == "StatusResponse" && bytes.Contains(want, []byte(`"metadata"`)) {
					// serde sorts metadata's keys; compare canonical forms.
					assert.Equal(t, canonical(t, want), canonical(t, got))
					return
				}
				assert.Equal(t, string(cd.escape(want)), string(got))
			})
		}
	}
}

// checkRejected asserts that err rejects case c the way the contract says.
func checkRejected(t *testing.T, c conformanceCase, err error) {
	t.Helper()
	require.Error(t, err, "the reference rejected this: %v", c.Error)
	var fe *daemoncontract.FieldError
	if c.Field == "" {
		if errors.As(err, &fe) {
			assert.Empty(t, fe.Field, "an error about the whole message: %v", err)
			assert.Equal(t, c.Type, fe.Type)
		}
		return
	}
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, c.Type, fe.Type)
	assert.Equal(t, c.Field, fe.Field)
	assert.Contains(t, err.Error(), strconv.Quote(c.Field))
}

// serdeKinds maps the kind of refusal that the reference's error text names
// to the sentinel a Go error carries for it, first match first. jsonOwn
// marks the syntax errors that encoding/json finds before the contract sees
// the message, and that it reports as its own *json.SyntaxError.
var serdeKinds = []struct {
	substr   string
	sentinel error
	jsonOwn  bool
}{
	{"missing field", daemoncontract.ErrMissingField, false},
	{"duplicate field", daemoncontract.ErrDuplicateName, false},
	{"expected struct", daemoncontract.ErrNotObject, false}, // null, a string, an array for a message
	{"invalid type: null", daemoncontract.ErrNullField, false},
	{"invalid type:", daemoncontract.ErrWrongType, false}, // a float (-0 among them), a string, a bool...
	{"invalid value: integer", daemoncontract.ErrOutOfRange, false},
	{"the reference panics", daemoncontract.ErrOutOfRange, false},     // install_time beyond i64
	{"number out of range", daemoncontract.ErrOutOfRange, false},      // metadata
	{"invalid number", daemoncontract.ErrOutOfRange, false},           // metadata: valid JSON serde_json cannot read
	{"recursion limit exceeded", daemoncontract.ErrOutOfRange, false}, // metadata
	{"hex escape", daemoncontract.ErrInvalidText, false},              // a lone surrogate
	{"trailing characters", daemoncontract.ErrTrailingData, true},
	{"trailing comma", daemoncontract.ErrSyntax, true},
	{"EOF while parsing", daemoncontract.ErrSyntax, true},
}

// TestConformanceKinds holds Go's sentinels to the kind of refusal the
// reference gave for each rejected conformance case: -0, which serde reads
// as a float, is ErrWrongType, not ErrOutOfRange; a message cut short is
// ErrSyntax wherever the contract sees it. Where encoding/json or
// encoding/json/v2 report a syntax error themselves (see FieldError), the
// error is theirs.
func TestConformanceKinds(t *testing.T) {
	for i, c := range loadConformance(t) {
		if c.OK {
			continue
		}
		k := slices.IndexFunc(serdeKinds, func(k struct {
			substr   string
			sentinel error
			jsonOwn  bool
		}) bool {
			return strings.Contains(*c.Error, k.substr)
		})
		require.GreaterOrEqual(t, k, 0, "line %d: no kind for the reference's error %q", i+1, *c.Error)
		kind := serdeKinds[k]
		if !json.Valid([]byte(c.Input)) && kind.substr == "invalid number" {
			// serde_json says "invalid number" of a number that is not
			// JSON (01) and of one it cannot read (metadata
			// 18446744073709551616.5): the first is a syntax error.
			kind.sentinel, kind.jsonOwn = daemoncontract.ErrSyntax, true
		}
		for _, cd := range allCodecs {
			err := cd.unmarshal([]byte(c.Input), newMessage[c.Type]())
			require.Error(t, err, "line %d", i+1)
			switch {
			case c.Input == "" && cd.name != "methods":
				// encoding/json and encoding/json/v2 read the first
				// token before they call the contract.
				assert.NotErrorAs(t, err, new(*daemoncontract.FieldError), "line %d: %s", i+1, cd.name)
			case kind.jsonOwn && cd.name == "json":
				assert.IsType(t, &json.SyntaxError{}, err, "line %d: %v", i+1, err)
			case kind.sentinel == daemoncontract.ErrTrailingData && cd.name != "methods":
				assert.IsType(t, &jsontext.SyntacticError{}, err, "line %d: %s: %v", i+1, cd.name, err)
			default:
				assert.ErrorIs(t, err, kind.sentinel, "line %d: %s: the reference said %q", i+1, cd.name, *c.Error)
			}
		}
	}
}
