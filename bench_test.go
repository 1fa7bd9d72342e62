package daemoncontract_test

import (
	"bytes"
	"encoding/json"
	jsonv2 "encoding/json/v2"
	"testing"

	"github.com/rbee-keeper/daemoncontract"
)

// The benchmarks compare each contract type with "plain": a struct with the
// same JSON tags and no methods, which is what a naive port would write and
// what encoding/json handles without any of the contract's checks. Both run
// through encoding/json, on the same realistic message with every member
// present. make bench prints the contract/plain ratios.

type plainDaemonHandle struct {
	DaemonName  string  `json:"daemon_name"`
	StartedByUs bool    `json:"started_by_us"`
	BaseURL     string  `json:"base_url"`
	PID         *uint32 `json:"pid,omitzero"`
}

type plainStatusRequest struct {
	ID    string  `json:"id"`
	JobID *string `json:"job_id,omitzero"`
}

type plainStatusResponse struct {
	ID           string          `json:"id"`
	IsRunning    bool            `json:"is_running"`
	HealthStatus *string         `json:"health_status,omitzero"`
	Metadata     json.RawMessage `json:"metadata,omitzero"`
}

type plainInstallConfig struct {
	BinaryName string  `json:"binary_name"`
	BinaryPath *string `json:"binary_path,omitzero"`
	TargetPath *string `json:"target_path,omitzero"`
	JobID      *string `json:"job_id,omitzero"`
}

// plainInstallResult carries install_time as the integer it is on the wire;
// a plain time.Time would not read the message at all.
type plainInstallResult struct {
	BinaryPath  string  `json:"binary_path"`
	InstallTime int64   `json:"install_time"`
	SHA256      *string `json:"sha256,omitzero"`
}

type plainUninstallConfig struct {
	DaemonName  string  `json:"daemon_name"`
	InstallPath string  `json:"install_path"`
	JobID       *string `json:"job_id,omitzero"`
}

type plainHTTPDaemonConfig struct {
	DaemonName       string  `json:"daemon_name"`
	HealthURL        string  `json:"health_url"`
	ShutdownEndpoint *string `json:"shutdown_endpoint,omitzero"`
	JobID            *string `json:"job_id,omitzero"`
}

type plainShutdownConfig struct {
	DaemonName          string  `json:"daemon_name"`
	PID                 uint32  `json:"pid"`
	GracefulTimeoutSecs uint64  `json:"graceful_timeout_secs"`
	JobID               *string `json:"job_id,omitzero"`
}

// Realistic messages, every member present.
const (
	benchDaemonHandle     = `{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345}`
	benchStatusRequest    = `{"id":"workstation","job_id":"job-123"}`
	benchStatusResponse   = `{"id":"workstation","is_running":true,"health_status":"healthy","metadata":{"port":7835,"version":"0.1.0","models":["llama-3-8b"]}}`
	benchInstallConfig    = `{"binary_name":"rbee-hive","binary_path":"/home/u/rbee/target/release/rbee-hive","target_path":"/usr/local/bin","job_id":"job-1"}`
	benchInstallResult    = `{"binary_path":"/usr/local/bin/rbee-hive","install_time":1700000000,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}`
	benchUninstallConfig  = `{"daemon_name":"queen-rbee","install_path":"/home/u/.local/bin/queen-rbee","job_id":"j-9"}`
	benchHTTPDaemonConfig = `{"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health","shutdown_endpoint":"/v1/shutdown","job_id":"job-7"}`
	benchShutdownConfig   = `{"daemon_name":"rbee-hive","pid":4242,"graceful_timeout_secs":30,"job_id":"job-123"}`
)

// benchUnmarshal times json.Unmarshal of msg into a new Contract and into a
// new Plain.
func benchUnmarshal[Contract, Plain any](b *testing.B, msg string) {
	data := []byte(msg)
	b.Run("contract", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v Contract
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v Plain
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchMarshal times json.Marshal of msg, decoded into a Contract and into a
// Plain. Both must encode it as msg.
func benchMarshal[Contract, Plain any](b *testing.B, msg string) {
	benchMarshalWith[Contract, Plain](b, msg, json.Marshal)
}

// benchMarshalWith is benchMarshal with marshal in place of json.Marshal.
func benchMarshalWith[Contract, Plain any](b *testing.B, msg string, marshal func(any) ([]byte, error)) {
	var c Contract
	var p Plain
	for _, v := range []any{&c, &p} {
		if err := json.Unmarshal([]byte(msg), v); err != nil {
			b.Fatal(err)
		}
		if got, err := marshal(v); err != nil || !bytes.Equal(got, []byte(msg)) {
			b.Fatalf("%T encodes the benchmark message as %s (%v), not %s", v, got, err, msg)
		}
	}
	b.Run("contract", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal(c); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUnmarshalDaemonHandle(b *testing.B) {
	benchUnmarshal[daemoncontract.DaemonHandle, plainDaemonHandle](b, benchDaemonHandle)
}

func BenchmarkMarshalDaemonHandle(b *testing.B) {
	benchMarshal[daemoncontract.DaemonHandle, plainDaemonHandle](b, benchDaemonHandle)
}

func BenchmarkUnmarshalStatusRequest(b *testing.B) {
	benchUnmarshal[daemoncontract.StatusRequest, plainStatusRequest](b, benchStatusRequest)
}

func BenchmarkMarshalStatusRequest(b *testing.B) {
	benchMarshal[daemoncontract.StatusRequest, plainStatusRequest](b, benchStatusRequest)
}

func BenchmarkUnmarshalStatusResponse(b *testing.B) {
	benchUnmarshal[daemoncontract.StatusResponse, plainStatusResponse](b, benchStatusResponse)
}

func BenchmarkMarshalStatusResponse(b *testing.B) {
	benchMarshal[daemoncontract.StatusResponse, plainStatusResponse](b, benchStatusResponse)
}

// BenchmarkMarshalStatusResponseV2 is BenchmarkMarshalStatusResponse through
// encoding/json/v2, whose strict encoder checks metadata as it writes it;
// encoding/json's lenient one needs a separate strict pass first.
func BenchmarkMarshalStatusResponseV2(b *testing.B) {
	benchMarshalWith[daemoncontract.StatusResponse, plainStatusResponse](b, benchStatusResponse,
		func(v any) ([]byte, error) { return jsonv2.Marshal(v) })
}

func BenchmarkUnmarshalInstallConfig(b *testing.B) {
	benchUnmarshal[daemoncontract.InstallConfig, plainInstallConfig](b, benchInstallConfig)
}

func BenchmarkMarshalInstallConfig(b *testing.B) {
	benchMarshal[daemoncontract.InstallConfig, plainInstallConfig](b, benchInstallConfig)
}

func BenchmarkUnmarshalInstallResult(b *testing.B) {
	benchUnmarshal[daemoncontract.InstallResult, plainInstallResult](b, benchInstallResult)
}

func BenchmarkMarshalInstallResult(b *testing.B) {
	benchMarshal[daemoncontract.InstallResult, plainInstallResult](b, benchInstallResult)
}

func BenchmarkUnmarshalUninstallConfig(b *testing.B) {
	benchUnmarshal[daemoncontract.UninstallConfig, plainUninstallConfig](b, benchUninstallConfig)
}

func BenchmarkMarshalUninstallConfig(b *testing.B) {
	benchMarshal[daemoncontract.UninstallConfig, plainUninstallConfig](b, benchUninstallConfig)
}

func BenchmarkUnmarshalHttpDaemonConfig(b *testing.B) {
	benchUnmarshal[daemoncontract.HttpDaemonConfig, plainHTTPDaemonConfig](b, benchHTTPDaemonConfig)
}

func BenchmarkMarshalHttpDaemonConfig(b *testing.B) {
	benchMarshal[daemoncontract.HttpDaemonConfig, plainHTTPDaemonConfig](b, benchHTTPDaemonConfig)
}

func BenchmarkUnmarshalShutdownConfig(b *testing.B) {
	benchUnmarshal[daemoncontract.ShutdownConfig, plainShutdownConfig](b, benchShutdownConfig)
}

func BenchmarkMarshalShutdownConfig(b *testing.B) {
	benchMarshal[daemoncontract.ShutdownConfig, plainShutdownConfig](b, benchShutdownConfig)
}

// BenchmarkDaemonHandleAccessors reads every field of a handle and derives a
// new one; it must not allocate.
func BenchmarkDaemonHandleAccessors(b *testing.B) {
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345)))
	b.ReportAllocs()
	for b.Loop() {
		readHandle(h)
	}
}

// sink keeps the compiler from dropping what the accessors return.
var sink struct {
	name, url string
	pid       uint32
	ok, owned bool
	handle    daemoncontract.DaemonHandle
}

func readHandle(h daemoncontract.DaemonHandle) {
	sink.name, sink.url = h.DaemonName(), h.BaseURL()
	sink.pid, sink.ok = h.PID()
	sink.owned = h.ShouldCleanup()
	sink.handle = h.WithDiscoveredURL("http://192.168.1.100:7835")
}

func TestDaemonHandleAccessorsDoNotAllocate(t *testing.T) {
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345)))
	if n := testing.AllocsPerRun(100, func() { readHandle(h) }); n != 0 {
		t.Errorf("the accessors allocate %v times a call; they must not allocate", n)
	}
}
