package daemoncontract_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

var installConfigJSONTests = []jsonTest[daemoncontract.InstallConfig]{
	{
		name: "binary_name only",
		in:   `{"binary_name":"rbee-hive"}`,
		want: daemoncontract.InstallConfig{BinaryName: "rbee-hive"},
		out:  `{"binary_name":"rbee-hive"}`,
	},
	{
		name: "all members, in another order",
		in:   `{"job_id":"job-1","target_path":"/usr/local/bin","binary_path":"/home/u/rbee/target/release/rbee-hive","binary_name":"rbee-hive"}`,
		want: daemoncontract.InstallConfig{
			BinaryName: "rbee-hive",
			BinaryPath: new("/home/u/rbee/target/release/rbee-hive"),
			TargetPath: new("/usr/local/bin"),
			JobID:      new("job-1"),
		},
		out: `{"binary_name":"rbee-hive","binary_path":"/home/u/rbee/target/release/rbee-hive","target_path":"/usr/local/bin","job_id":"job-1"}`,
	},
	{
		name: "null optionals are absent",
		in:   `{"binary_name":"rbee-hive","binary_path":null,"target_path":null,"job_id":null}`,
		want: daemoncontract.InstallConfig{BinaryName: "rbee-hive"},
		out:  `{"binary_name":"rbee-hive"}`,
	},
	{
		name: "empty optionals are kept",
		in:   `{"binary_name":"","binary_path":"","target_path":"","job_id":""}`,
		want: daemoncontract.InstallConfig{BinaryPath: new(""), TargetPath: new(""), JobID: new("")},
		out:  `{"binary_name":"","binary_path":"","target_path":"","job_id":""}`,
	},
	{
		name: "HTML characters",
		in:   `{"binary_name":"a<b>&c\u2028"}`,
		want: daemoncontract.InstallConfig{BinaryName: "a<b>&c\u2028"},
		out:  "{\"binary_name\":\"a<b>&c\u2028\"}",
	},
}

func TestInstallConfigJSON(t *testing.T) {
	runJSONTests(t, installConfigJSONTests)
}

var installConfigDecodeErrorTests = []decodeErrorTest{
	{"missing binary_name", `{}`, "binary_name"},
	{"array binary_name", `{"binary_name":["rbee-hive"]}`, "binary_name"},
	{"number target_path", `{"binary_name":"a","target_path":1}`, "target_path"},
	{"object binary_path", `{"binary_name":"a","binary_path":{}}`, "binary_path"},
	{"duplicate binary_name", `{"binary_name":"a","binary_name":"b"}`, "binary_name"},
	{"duplicate null job_id", `{"binary_name":"a","job_id":null,"job_id":null}`, "job_id"},
}

func TestInstallConfigDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.InstallConfig](t, installConfigDecodeErrorTests)
}

var installResultJSONTests = []jsonTest[time.Time]{
	{"2023", `{"binary_path":"/b","install_time":1700000000}`, time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC), `{"binary_path":"/b","install_time":1700000000}`},
	{"the epoch", `{"binary_path":"/b","install_time":0}`, time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), `{"binary_path":"/b","install_time":0}`},
	{"year 2100", `{"binary_path":"/b","install_time":4102444800}`, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), `{"binary_path":"/b","install_time":4102444800}`},
	{
		// 2^63-1 seconds from year 1, which time.Time counts from, less
		// the 62135596800 seconds from year 1 to the epoch
		// (TestInstallResultLargestTime checks the date).
		"largest seconds a time.Time holds",
		`{"binary_path":"/b","install_time":9223371974719179007}`,
		time.Unix(9223371974719179007, 0).UTC(),
		`{"binary_path":"/b","install_time":9223371974719179007}`,
	},
}

func TestInstallResultJSON(t *testing.T) {
	for _, tt := range installResultJSONTests {
		t.Run(tt.name, func(t *testing.T) {
			checkRoundTrip(t, tt.in, daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: tt.want}, tt.out)
		})
	}
}

func TestInstallResultLargestTime(t *testing.T) {
	// 2^63-1 seconds after 0001-01-01 00:00:00 UTC are 106751991167300
	// days and 55807 seconds: 292277024627-12-06 15:30:07, counted in
	// 400-year Gregorian cycles of 146097 days. It is after the epoch, as
	// every time decoded must be.
	var r daemoncontract.InstallResult
	require.NoError(t, r.UnmarshalJSON([]byte(`{"binary_path":"/b","install_time":9223371974719179007}`)))
	year, month, day := r.InstallTime.Date()
	hour, minute, sec := r.InstallTime.Clock()
	assert.Equal(t, []int{292277024627, 12, 6, 15, 30, 7}, []int{year, int(month), day, hour, minute, sec})
	assert.True(t, r.InstallTime.After(time.Unix(0, 0)))
	assert.Equal(t, int64(9223371974719179007), r.InstallTime.Unix())
}

// sum is the SHA-256 of "test", in the one form the contract writes.
const sum = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

var installResultSHA256Tests = []jsonTest[daemoncontract.InstallResult]{
	{
		name: "absent: nil, and not written",
		in:   `{"binary_path":"/b","install_time":1}`,
		want: daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(1, 0).UTC()},
		out:  `{"binary_path":"/b","install_time":1}`,
	},
	{
		name: "null is absent",
		in:   `{"binary_path":"/b","install_time":1,"sha256":null}`,
		want: daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(1, 0).UTC()},
		out:  `{"binary_path":"/b","install_time":1}`,
	},
	{
		name: "present: kept, and written after install_time",
		in:   `{"sha256":"` + sum + `","install_time":1,"binary_path":"/b"}`,
		want: daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(1, 0).UTC(), SHA256: new(sum)},
		out:  `{"binary_path":"/b","install_time":1,"sha256":"` + sum + `"}`,
	},
	{
		name: "upper case decodes as it is (Validate rejects it)",
		in:   `{"binary_path":"/b","install_time":1,"sha256":"` + strings.ToUpper(sum) + `"}`,
		want: daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(1, 0).UTC(), SHA256: new(strings.ToUpper(sum))},
		out:  `{"binary_path":"/b","install_time":1,"sha256":"` + strings.ToUpper(sum) + `"}`,
	},
	{
		name: "empty is kept (Validate rejects it)",
		in:   `{"binary_path":"/b","install_time":1,"sha256":""}`,
		want: daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: time.Unix(1, 0).UTC(), SHA256: new("")},
		out:  `{"binary_path":"/b","install_time":1,"sha256":""}`,
	},
}

func TestInstallResultSHA256JSON(t *testing.T) {
	runJSONTests(t, installResultSHA256Tests)
}

func TestInstallResultSHA256DecodeErrors(t *testing.T) {
	// serde ignores an unknown member whatever its type; Go knows the
	// member, and reads a string or null only.
	runDecodeErrorTests[daemoncontract.InstallResult](t, []decodeErrorTest{
		{"number", `{"binary_path":"/b","install_time":1,"sha256":1}`, "sha256"},
		{"boolean", `{"binary_path":"/b","install_time":1,"sha256":true}`, "sha256"},
		{"array", `{"binary_path":"/b","install_time":1,"sha256":["` + sum + `"]}`, "sha256"},
		{"object", `{"binary_path":"/b","install_time":1,"sha256":{}}`, "sha256"},
		{"repeated", `{"binary_path":"/b","install_time":1,"sha256":"` + sum + `","sha256":null}`, "sha256"},
	})
}

func TestInstallResultDecodedTimeIsUTC(t *testing.T) {
	var r daemoncontract.InstallResult
	assert.NoError(t, r.UnmarshalJSON([]byte(`{"binary_path":"/b","install_time":1700000000}`)))
	assert.Equal(t, time.UTC, r.InstallTime.Location())
	assert.Equal(t, int64(1700000000), r.InstallTime.Unix())
}

func TestInstallResultEncodeTime(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		out  string
	}{
		{"fraction of a second is dropped", time.Unix(1700000000, 999_999_999), `{"binary_path":"/b","install_time":1700000000}`},
		{"other zones mean the same instant", time.Date(2023, 11, 15, 0, 13, 20, 0, time.FixedZone("CET-ish", 2*3600)), `{"binary_path":"/b","install_time":1700000000}`},
		{"just after the epoch", time.Unix(0, 1), `{"binary_path":"/b","install_time":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cd := range allCodecs {
				b, err := cd.marshal(daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: tt.t})
				assert.NoError(t, err, cd.name)
				assert.Equal(t, tt.out, string(b), cd.name)
			}
		})
	}
}

func TestInstallResultEncodeBeforeEpoch(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
	}{
		{"zero time", time.Time{}},
		{"one second before", time.Unix(-1, 0)},
		{"a nanosecond before", time.Unix(0, -1)},
		{"long ago", time.Date(1066, 10, 14, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkEncodeError(t, daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: tt.t}, "install_time", "must not be before the Unix epoch")
		})
	}
	// time.Unix wraps these around to long before year 1, and their Unix
	// seconds wrap back to a time after the epoch: never written, since no
	// decoder could give them back, and the error says what happened.
	for _, at := range []time.Time{time.Unix(math.MaxInt64, 0), time.Unix(9223371974719179008, 0)} {
		checkEncodeError(t, daemoncontract.InstallResult{BinaryPath: "/b", InstallTime: at}, "install_time", "wrapped around to before year 1")
	}
}

var installResultDecodeErrorTests = []decodeErrorTest{
	// time.Unix would wrap these around to a time before year 1.
	{"one second more than a time.Time holds", `{"binary_path":"/b","install_time":9223371974719179008}`, "install_time"},
	{"int64 seconds, which the reference accepts", `{"binary_path":"/b","install_time":9223372036854775807}`, "install_time"},
	{"beyond int64 seconds", `{"binary_path":"/b","install_time":9223372036854775808}`, "install_time"},
	{"u64 max", `{"binary_path":"/b","install_time":18446744073709551615}`, "install_time"},
	{"beyond u64", `{"binary_path":"/b","install_time":18446744073709551616}`, "install_time"},
	{"negative", `{"binary_path":"/b","install_time":-1}`, "install_time"},
	{"fraction", `{"binary_path":"/b","install_time":1.5}`, "install_time"},
	{"zero fraction", `{"binary_path":"/b","install_time":1700000000.0}`, "install_time"},
	{"exponent", `{"binary_path":"/b","install_time":17e8}`, "install_time"},
	{"RFC 3339 string", `{"binary_path":"/b","install_time":"2024-01-01T00:00:00Z"}`, "install_time"},
	{"null", `{"binary_path":"/b","install_time":null}`, "install_time"},
	{"missing install_time", `{"binary_path":"/b"}`, "install_time"},
	{"missing binary_path", `{"install_time":1}`, "binary_path"},
}

func TestInstallResultDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.InstallResult](t, installResultDecodeErrorTests)
}

func TestNumberExcerptIsBounded(t *testing.T) {
	var r daemoncontract.InstallResult
	long := "1" + strings.Repeat("0", 40)
	err := r.UnmarshalJSON([]byte(`{"binary_path":"/b","install_time":` + long + `}`))
	assert.EqualError(t, err, `daemoncontract: InstallResult: field "install_time": must be whole seconds since the Unix epoch, an integer in 0..9223371974719179007 (the most a time.Time holds), got a number`)
	err = r.UnmarshalJSON([]byte(`{"binary_path":"/b","install_time":-2.5e3}`))
	assert.EqualError(t, err, `daemoncontract: InstallResult: field "install_time": must be whole seconds since the Unix epoch, an integer in 0..9223371974719179007 (the most a time.Time holds), got -2.5e3`)
}

var uninstallConfigJSONTests = []jsonTest[daemoncontract.UninstallConfig]{
	{
		name: "required only",
		in:   `{"daemon_name":"queen-rbee","install_path":"/home/u/.local/bin/queen-rbee"}`,
		want: daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: "/home/u/.local/bin/queen-rbee"},
		out:  `{"daemon_name":"queen-rbee","install_path":"/home/u/.local/bin/queen-rbee"}`,
	},
	{
		name: "all members, in another order",
		in:   `{"job_id":"j-9","install_path":"/p","daemon_name":"queen-rbee"}`,
		want: daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: "/p", JobID: new("j-9")},
		out:  `{"daemon_name":"queen-rbee","install_path":"/p","job_id":"j-9"}`,
	},
}

func TestUninstallConfigJSON(t *testing.T) {
	runJSONTests(t, uninstallConfigJSONTests)
}

var uninstallConfigDecodeErrorTests = []decodeErrorTest{
	{"missing install_path", `{"daemon_name":"d"}`, "install_path"},
	{"missing daemon_name", `{"install_path":"/p"}`, "daemon_name"},
	{"null install_path", `{"daemon_name":"d","install_path":null}`, "install_path"},
	{"bool job_id", `{"daemon_name":"d","install_path":"/p","job_id":false}`, "job_id"},
}

func TestUninstallConfigDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.UninstallConfig](t, uninstallConfigDecodeErrorTests)
}
