package daemoncontract_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strconv"
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
	// GoRejects says that Go rejects, because of Field, a message that the
	// reference accepts: a member beyond the Rust contract, which serde
	// ignores whatever it holds, has a type Go does not read.
	GoRejects bool `json:"go_rejects"`
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
	require.Len(t, cases, 149)
	for _, cd := range allCodecs {
		for i, c := range cases {
			t.Run(cd.name+"/"+strconv.Itoa(i+1)+"_"+c.Type, func(t *testing.T) {
				t.Logf("input %q: %s", c.Input, c.Note)
				v := newMessage[c.Type]()
				err := cd.unmarshal([]byte(c.Input), v)
				if c.GoRejects {
					require.True(t, c.OK, "go_rejects is for a message the reference accepts")
					checkRejected(t, c, err)
					assert.ErrorIs(t, err, daemoncontract.ErrWrongType)
					return
				}
				if !c.OK {
					checkRejected(t, c, err)
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
