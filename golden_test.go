package daemoncontract_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rbee-keeper/daemoncontract"
)

var goldenVersion = flag.String("golden-version", "", "write the golden messages of the contract as it is now under testdata/wire/<version> (make golden VERSION=...)")

// goldenDir holds one directory of golden messages a version of the
// module.
const goldenDir = "testdata/wire"

// goldenMessages are the canonical messages of the contract as it is now,
// one full (every member) and one minimal (required members only) a type.
// make golden writes them under a new version; a new member goes here
// first.
var goldenMessages = map[string]struct{ full, minimal any }{
	"DaemonHandle": {
		daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345))).
			WithProcessIdentity("linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213"),
		daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833"),
	},
	"StatusRequest": {
		daemoncontract.StatusRequest{ID: "workstation", JobID: new("job-123")},
		daemoncontract.StatusRequest{ID: "workstation"},
	},
	"StatusResponse": {
		daemoncontract.StatusResponse{ID: "workstation", IsRunning: true, HealthStatus: new("200 OK"),
			Metadata: json.RawMessage(`{"port":7835,"version":"0.1.0","models":["llama-3-8b"]}`)},
		daemoncontract.StatusResponse{ID: "workstation", IsRunning: false},
	},
	"InstallConfig": {
		daemoncontract.InstallConfig{BinaryName: "rbee-hive", BinaryPath: new("/home/u/rbee/target/release/rbee-hive"),
			TargetPath: new("/usr/local/bin"), JobID: new("job-1")},
		daemoncontract.InstallConfig{BinaryName: "rbee-hive"},
	},
	"InstallResult": {
		daemoncontract.InstallResult{BinaryPath: "/usr/local/bin/rbee-hive", InstallTime: time.Unix(1700000000, 0),
			SHA256: new("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")},
		daemoncontract.InstallResult{BinaryPath: "/usr/local/bin/rbee-hive", InstallTime: time.Unix(0, 0)},
	},
	"UninstallConfig": {
		daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: "/home/u/.local/bin/queen-rbee", JobID: new("job-9")},
		daemoncontract.UninstallConfig{DaemonName: "queen-rbee", InstallPath: "/home/u/.local/bin/queen-rbee"},
	},
	"HttpDaemonConfig": {
		daemoncontract.HttpDaemonConfig{DaemonName: "queen-rbee", HealthURL: "http://localhost:7833/health",
			ShutdownEndpoint: new("/v1/shutdown"), JobID: new("job-7")},
		daemoncontract.HttpDaemonConfig{DaemonName: "queen-rbee", HealthURL: "http://localhost:7833/health"},
	},
	"ShutdownConfig": {
		daemoncontract.ShutdownConfig{DaemonName: "rbee-hive", PID: 4242, GracefulTimeoutSecs: 30, JobID: new("job-1")},
		daemoncontract.NewShutdownConfig("rbee-hive", 4242),
	},
}

// TestGoldenMessages reads every golden message that any version wrote,
// testdata/wire/<version>/<Type>.json and <Type>.minimal.json, and expects
// the current code to decode it, through every entry point, and to write it
// back byte for byte. Every later version must keep reading every earlier
// version's messages. With -golden-version it writes the current messages
// under a new version instead (make golden VERSION=...).
//
// A version's messages never change once written: each directory holds a
// SHA256SUMS file (sha256sum -c reads it), and a message that differs from
// its sum, or has none, fails the test, even where it would still read back
// as itself.
func TestGoldenMessages(t *testing.T) {
	if *goldenVersion != "" {
		writeGolden(t, *goldenVersion)
		return
	}
	names, err := filepath.Glob(filepath.Join(goldenDir, "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	perVersion := map[string]int{}
	sums := map[string]map[string]string{}
	for _, name := range names {
		version := filepath.Dir(name)
		if sums[version] == nil {
			sums[version] = readSums(t, version)
		}
		assert.Equal(t, sums[version][filepath.Base(name)], sha256Hex(t, name), "%s differs from its SHA256SUMS line: a version's golden messages never change", name)
		typ, kind, _ := strings.Cut(filepath.Base(name), ".")
		require.Contains(t, newMessage, typ, "%s: no contract type %q", name, typ)
		require.Contains(t, []string{"json", "minimal.json"}, kind, "%s: a golden message is <Type>.json or <Type>.minimal.json", name)
		perVersion[filepath.Base(filepath.Dir(name))]++

		b, err := os.ReadFile(name)
		require.NoError(t, err)
		want, ok := strings.CutSuffix(string(b), "\n")
		require.True(t, ok, "%s: a golden message ends in one newline", name)
		for _, cd := range allCodecs {
			v := newMessage[typ]()
			require.NoError(t, cd.unmarshal(b, v), "%s: %s", cd.name, name)
			got, err := cd.marshal(v)
			require.NoError(t, err, "%s: %s", cd.name, name)
			assert.Equal(t, string(cd.escape([]byte(want))), string(got), "%s: %s is not written back as it was", cd.name, name)
			assert.NoError(t, v.(interface{ Validate() error }).Validate(), "%s: %s", cd.name, name)
		}
	}
	for version, n := range perVersion {
		assert.Zero(t, n%2, "%s: a full and a minimal message a type", version)
	}
	for dir, sums := range sums {
		for name := range sums {
			assert.FileExists(t, filepath.Join(dir, name), "listed in %s/SHA256SUMS: a golden message is never removed", dir)
		}
	}
	for _, version := range []string{"v0.1.0", "v0.2.0"} {
		assert.Equal(t, 2*len(goldenMessages), perVersion[version], "%s holds every type", version)
	}
}

// TestGoldenMessagesAreReadByTheRustReference: every golden message, of
// every version, is a conformance case that the Rust reference accepted
// (internal/recordcases recorded it), and what the reference writes back
// is the golden message, or for a member beyond the Rust contract
// (go_output), the golden message is what Go writes.
func TestGoldenMessagesAreReadByTheRustReference(t *testing.T) {
	cases := map[[2]string]conformanceCase{}
	for _, c := range loadConformance(t) {
		cases[[2]string{c.Type, c.Input}] = c
	}
	names, err := filepath.Glob(filepath.Join(goldenDir, "*", "*.json"))
	require.NoError(t, err)
	for _, name := range names {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		msg := strings.TrimSuffix(string(b), "\n")
		typ, _, _ := strings.Cut(filepath.Base(name), ".")
		c, ok := cases[[2]string{typ, msg}]
		if !assert.True(t, ok, "%s is not a conformance case: record it with internal/recordcases", name) {
			continue
		}
		require.True(t, c.OK && c.GoRejects == "", "%s: the Rust reference rejected it, or Go does", name)
		want := *c.Output
		if c.GoOutput != nil {
			want = *c.GoOutput
		}
		assert.Equal(t, canonical(t, []byte(want)), canonical(t, []byte(msg)), "%s", name)
	}
}

// TestGoldenMessagesOfTheNewestVersion: the newest golden set is the
// contract as it is now, so that a member added to goldenMessages fails
// until a new set is cut (make golden VERSION=...).
func TestGoldenMessagesOfTheNewestVersion(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(goldenDir, "v*"))
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	newest := slices.MaxFunc(dirs, func(a, b string) int {
		return slices.Compare(versionNumbers(t, filepath.Base(a)), versionNumbers(t, filepath.Base(b)))
	})
	for typ, m := range goldenMessages {
		for suffix, v := range map[string]any{".json": m.full, ".minimal.json": m.minimal} {
			b, err := v.(json.Marshaler).MarshalJSON()
			require.NoError(t, err)
			got, err := os.ReadFile(filepath.Join(newest, typ+suffix))
			require.NoError(t, err)
			assert.Equal(t, string(b)+"\n", string(got), "%s%s: the newest golden set, %s, is not what the contract writes now: cut a new one (make golden VERSION=...)", typ, suffix, newest)
		}
	}
}

// versionNumbers returns the numbers of a version "vX.Y.Z".
func versionNumbers(t *testing.T, version string) []int {
	parts := strings.Split(strings.TrimPrefix(version, "v"), ".")
	require.Len(t, parts, 3, "a golden version is vX.Y.Z, got %q", version)
	var n []int
	for _, p := range parts {
		i, err := strconv.Atoi(p)
		require.NoError(t, err, "a golden version is vX.Y.Z, got %q", version)
		n = append(n, i)
	}
	return n
}

// TestGoldenInstallResultSHA256: v0.2.0 added sha256 to InstallResult. The
// v0.1.0 receipt, without it, still decodes, with SHA256 nil; the v0.2.0
// receipt carries it.
func TestGoldenInstallResultSHA256(t *testing.T) {
	for version, want := range map[string]*string{
		"v0.1.0": nil,
		"v0.2.0": new("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
	} {
		b, err := os.ReadFile(filepath.Join(goldenDir, version, "InstallResult.json"))
		require.NoError(t, err)
		for _, cd := range allCodecs {
			var r daemoncontract.InstallResult
			require.NoError(t, cd.unmarshal(b, &r), "%s: %s", cd.name, version)
			assert.Equal(t, want, r.SHA256, "%s: %s", cd.name, version)
			assert.Equal(t, "/usr/local/bin/rbee-hive", r.BinaryPath, "%s: %s", cd.name, version)
			assert.Equal(t, int64(1700000000), r.InstallTime.Unix(), "%s: %s", cd.name, version)
		}
	}
}

// readSums reads dir's SHA256SUMS: file name to hex digest.
func readSums(t *testing.T, dir string) map[string]string {
	b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	require.NoError(t, err)
	sums := map[string]string{}
	for line := range strings.Lines(string(b)) {
		sum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		require.True(t, ok, "%s/SHA256SUMS: %q", dir, line)
		sums[name] = sum
	}
	return sums
}

// sha256Hex returns the hex SHA-256 of the file called name.
func sha256Hex(t *testing.T, name string) string {
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeGolden writes the current golden messages under version.
func writeGolden(t *testing.T, version string) {
	dir := filepath.Join(goldenDir, version)
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s exists: a version's golden messages are never rewritten", dir)
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	var sums []string
	for typ, m := range goldenMessages {
		for suffix, v := range map[string]any{".json": m.full, ".minimal.json": m.minimal} {
			require.NoError(t, v.(interface{ Validate() error }).Validate(), "%s%s", typ, suffix)
			b, err := v.(json.Marshaler).MarshalJSON()
			require.NoError(t, err)
			name := filepath.Join(dir, typ+suffix)
			require.NoError(t, os.WriteFile(name, append(b, '\n'), 0o644))
			sums = append(sums, sha256Hex(t, name)+"  "+typ+suffix+"\n")
		}
	}
	slices.SortFunc(sums, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	require.NoError(t, os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Join(sums, "")), 0o644))
	t.Logf("wrote %s", dir)
}
