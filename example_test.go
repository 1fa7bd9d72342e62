package daemoncontract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/rbee-keeper/daemoncontract"
)

// A tool that finds queen-rbee already running must leave it running; a tool
// that starts rbee-hive itself must stop it when done.
func ExampleDaemonHandle() {
	queen := daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833")
	hive := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345)))

	for _, h := range []daemoncontract.DaemonHandle{queen, hive} {
		if pid, ok := h.PID(); h.ShouldCleanup() && ok {
			fmt.Printf("%s: ours, stop pid %d when done\n", h.DaemonName(), pid)
		} else {
			fmt.Printf("%s: not ours, leave it running\n", h.DaemonName())
		}
	}

	b, _ := json.Marshal(hive)
	fmt.Println(string(b))
	// Output:
	// queen-rbee: not ours, leave it running
	// rbee-hive: ours, stop pid 12345 when done
	// {"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345}
}

// Downstream lifecycle packages alias the handle instead of wrapping it, so
// that a queen handle, a hive handle and a worker handle are one type.
func ExampleDaemonHandle_alias() {
	type QueenHandle = daemoncontract.DaemonHandle // in queenlifecycle
	type HiveHandle = daemoncontract.DaemonHandle  // in hivelifecycle

	ensureQueen := func() QueenHandle {
		return daemoncontract.AlreadyRunning("queen-rbee", "http://localhost:7833")
	}
	describe := func(h HiveHandle) string {
		return fmt.Sprint(h.DaemonName(), " ", h.ShouldCleanup())
	}

	fmt.Println(describe(ensureQueen())) // no conversion: the same type
	// Output:
	// queen-rbee false
}

// Service discovery gives a handle a new URL without touching the original.
func ExampleDaemonHandle_WithDiscoveredURL() {
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", nil)
	moved := h.WithDiscoveredURL("http://192.168.1.100:7835")
	fmt.Println(h.BaseURL())
	fmt.Println(moved.BaseURL(), moved.ShouldCleanup())
	// Output:
	// http://localhost:7835
	// http://192.168.1.100:7835 true
}

func ExampleStatusRequest() {
	req := daemoncontract.StatusRequest{ID: "workstation", JobID: new("job-123")}
	b, _ := json.Marshal(req)
	fmt.Println(string(b))

	// null and absent both mean no job ID; "" is a job ID that is empty.
	var fromWire daemoncontract.StatusRequest
	_ = json.Unmarshal([]byte(`{"id":"workstation","job_id":null}`), &fromWire)
	fmt.Println(fromWire.JobID == nil)
	// Output:
	// {"id":"workstation","job_id":"job-123"}
	// true
}

func ExampleStatusResponse() {
	var resp daemoncontract.StatusResponse
	err := json.Unmarshal([]byte(`{"id":"workstation","is_running":true,"health_status":"healthy","metadata":{ "port": 7835 }}`), &resp)
	if err != nil {
		panic(err)
	}
	fmt.Println(resp.IsRunning, *resp.HealthStatus, string(resp.Metadata))
	// Output:
	// true healthy {"port":7835}
}

func ExampleInstallConfig() {
	cfg := daemoncontract.InstallConfig{BinaryName: "rbee-hive", TargetPath: new("/usr/local/bin")}
	b, _ := json.Marshal(cfg)
	fmt.Println(string(b))
	// Output:
	// {"binary_name":"rbee-hive","target_path":"/usr/local/bin"}
}

// install_time travels as whole seconds since the Unix epoch.
func ExampleInstallResult() {
	res := daemoncontract.InstallResult{
		BinaryPath:  "/usr/local/bin/rbee-hive",
		InstallTime: time.Date(2023, 11, 14, 22, 13, 20, 500_000_000, time.UTC),
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))

	_, err := json.Marshal(daemoncontract.InstallResult{BinaryPath: "/b"}) // the zero time
	var fe *daemoncontract.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field)
	// Output:
	// {"binary_path":"/usr/local/bin/rbee-hive","install_time":1700000000}
	// true install_time
}

func ExampleUninstallConfig() {
	var cfg daemoncontract.UninstallConfig
	err := json.Unmarshal([]byte(`{"daemon_name":"queen-rbee"}`), &cfg)
	fmt.Println(err)
	// Output:
	// daemoncontract: UninstallConfig: missing field "install_path"
}

func ExampleHttpDaemonConfig() {
	cfg := daemoncontract.HttpDaemonConfig{
		DaemonName:       "queen-rbee",
		HealthURL:        "http://localhost:7833/health",
		ShutdownEndpoint: new("/v1/shutdown"),
	}
	b, _ := json.Marshal(cfg)
	fmt.Println(string(b))
	// Output:
	// {"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health","shutdown_endpoint":"/v1/shutdown"}
}

// A message without graceful_timeout_secs gets the default; one without pid
// is an error, never pid 0.
func ExampleShutdownConfig() {
	var cfg daemoncontract.ShutdownConfig
	_ = json.Unmarshal([]byte(`{"daemon_name":"rbee-hive","pid":4242}`), &cfg)
	fmt.Println(cfg.PID, cfg.GracefulTimeoutSecs)

	err := json.Unmarshal([]byte(`{"daemon_name":"rbee-hive"}`), &cfg)
	fmt.Println(err)
	// Output:
	// 4242 5
	// daemoncontract: ShutdownConfig: missing field "pid"
}

func ExampleNewShutdownConfig() {
	b, _ := json.Marshal(daemoncontract.NewShutdownConfig("rbee-hive", 4242))
	fmt.Println(string(b))
	// Output:
	// {"daemon_name":"rbee-hive","pid":4242,"graceful_timeout_secs":5}
}

// Every decoding error about a field is a *FieldError naming the JSON field,
// whichever JSON package the caller uses.
func ExampleFieldError() {
	var cfg daemoncontract.ShutdownConfig
	err := json.Unmarshal([]byte(`{"daemon_name":"h","pid":1,"pid":2}`), &cfg)

	var fe *daemoncontract.FieldError
	if errors.As(err, &fe) {
		fmt.Println(fe.Type, fe.Field)
	}
	// Output:
	// ShutdownConfig pid
}

// errors.Is tells the cases of a *FieldError apart, whichever JSON package
// decoded the message. A message that decodes can still break a rule of
// Validate.
func ExampleErrMissingField() {
	for _, in := range []string{
		`{"daemon_name":"rbee-hive"}`,
		`{"daemon_name":"rbee-hive","pid":"4242"}`,
		`{"daemon_name":"rbee-hive","pid":1}`,
	} {
		var cfg daemoncontract.ShutdownConfig
		err := json.Unmarshal([]byte(in), &cfg)
		if err == nil {
			err = cfg.Validate()
		}
		switch {
		case errors.Is(err, daemoncontract.ErrMissingField):
			fmt.Println("missing:", err)
		case errors.Is(err, daemoncontract.ErrWrongType):
			fmt.Println("wrong type:", err)
		case errors.Is(err, daemoncontract.ErrInvalidValue):
			fmt.Println("invalid:", err)
		}
	}
	// Output:
	// missing: daemoncontract: ShutdownConfig: missing field "pid"
	// wrong type: daemoncontract: ShutdownConfig: field "pid": must be an integer in 0..4294967295, got a string
	// invalid: daemoncontract: ShutdownConfig: field "pid": must be a process ID in 2..2147483647, got 1, which is init: no tool started it, and signalling it inside a container ends the container
}

// Validate reports every broken field at once; errors.As finds only the
// first, FieldErrors finds them all.
func ExampleFieldErrors() {
	cfg := daemoncontract.ShutdownConfig{DaemonName: "-rf", PID: 0, GracefulTimeoutSecs: 5, JobID: new("")}
	for _, fe := range daemoncontract.FieldErrors(cfg.Validate()) {
		fmt.Println(fe.Field)
	}
	// Output:
	// daemon_name
	// pid
	// job_id
}

// A handle prints as one line, and logs as a group of its wire members.
func ExampleDaemonHandle_LogValue() {
	h := daemoncontract.StartedByUs("rbee-hive", "http://localhost:7835", new(uint32(12345)))
	fmt.Println(h)

	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // no time, so that the output is the same every run
			}
			return a
		},
	}))
	log.Info("stopping", "daemon", h)
	// Output:
	// rbee-hive at http://localhost:7835, started by us, pid 12345
	// level=INFO msg=stopping daemon.daemon_name=rbee-hive daemon.started_by_us=true daemon.base_url=http://localhost:7835 daemon.pid=12345
}
