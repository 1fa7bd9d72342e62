package daemoncontract_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/rbee-keeper/daemoncontract"
)

func TestNewShutdownConfig(t *testing.T) {
	c := daemoncontract.NewShutdownConfig("rbee-hive", 4242)
	assert.Equal(t, daemoncontract.ShutdownConfig{DaemonName: "rbee-hive", PID: 4242, GracefulTimeoutSecs: 5}, c)
	assert.Equal(t, uint64(5), daemoncontract.DefaultGracefulTimeoutSecs)
}

var shutdownConfigJSONTests = []jsonTest[daemoncontract.ShutdownConfig]{
	{
		name: "absent timeout is the default",
		in:   `{"daemon_name":"rbee-hive","pid":4242}`,
		want: daemoncontract.ShutdownConfig{DaemonName: "rbee-hive", PID: 4242, GracefulTimeoutSecs: 5},
		out:  `{"daemon_name":"rbee-hive","pid":4242,"graceful_timeout_secs":5}`,
	},
	{
		name: "all members",
		in:   `{"daemon_name":"rbee-hive","pid":4242,"graceful_timeout_secs":30,"job_id":"j"}`,
		want: daemoncontract.ShutdownConfig{DaemonName: "rbee-hive", PID: 4242, GracefulTimeoutSecs: 30, JobID: new("j")},
		out:  `{"daemon_name":"rbee-hive","pid":4242,"graceful_timeout_secs":30,"job_id":"j"}`,
	},
	{
		name: "explicit 0 is kept",
		in:   `{"daemon_name":"h","pid":1,"graceful_timeout_secs":0}`,
		want: daemoncontract.ShutdownConfig{DaemonName: "h", PID: 1},
		out:  `{"daemon_name":"h","pid":1,"graceful_timeout_secs":0}`,
	},
	{
		name: "largest timeout",
		in:   `{"daemon_name":"h","pid":1,"graceful_timeout_secs":18446744073709551615}`,
		want: daemoncontract.ShutdownConfig{DaemonName: "h", PID: 1, GracefulTimeoutSecs: 18446744073709551615},
		out:  `{"daemon_name":"h","pid":1,"graceful_timeout_secs":18446744073709551615}`,
	},
	{
		name: "pid 0 is kept on the wire",
		in:   `{"daemon_name":"h","pid":0}`,
		want: daemoncontract.ShutdownConfig{DaemonName: "h", PID: 0, GracefulTimeoutSecs: 5},
		out:  `{"daemon_name":"h","pid":0,"graceful_timeout_secs":5}`,
	},
	{
		name: "largest pid",
		in:   `{"daemon_name":"h","pid":4294967295}`,
		want: daemoncontract.ShutdownConfig{DaemonName: "h", PID: 4294967295, GracefulTimeoutSecs: 5},
		out:  `{"daemon_name":"h","pid":4294967295,"graceful_timeout_secs":5}`,
	},
}

func TestShutdownConfigJSON(t *testing.T) {
	runJSONTests(t, shutdownConfigJSONTests)
}

func TestShutdownConfigDefaultIsNotInherited(t *testing.T) {
	// Decoding starts from the default, not from what the destination held.
	c := daemoncontract.ShutdownConfig{GracefulTimeoutSecs: 99, JobID: new("old")}
	assert.NoError(t, c.UnmarshalJSON([]byte(`{"daemon_name":"h","pid":7}`)))
	assert.Equal(t, daemoncontract.ShutdownConfig{DaemonName: "h", PID: 7, GracefulTimeoutSecs: 5}, c)
}

var shutdownConfigDecodeErrorTests = []decodeErrorTest{
	{"missing pid never means pid 0", `{"daemon_name":"h"}`, "pid"},
	{"null pid", `{"daemon_name":"h","pid":null}`, "pid"},
	{"upper-case PID is unknown", `{"daemon_name":"h","PID":1}`, "pid"},
	{"pid overflows u32", `{"daemon_name":"h","pid":4294967296}`, "pid"},
	{"negative pid", `{"daemon_name":"h","pid":-5}`, "pid"},
	{"exponent pid", `{"daemon_name":"h","pid":1e3}`, "pid"},
	{"string pid", `{"daemon_name":"h","pid":"1"}`, "pid"},
	{"duplicate pid", `{"daemon_name":"h","pid":1,"pid":2}`, "pid"},
	{"missing daemon_name", `{"pid":1}`, "daemon_name"},
	{"null timeout is not absent", `{"daemon_name":"h","pid":1,"graceful_timeout_secs":null}`, "graceful_timeout_secs"},
	{"float timeout", `{"daemon_name":"h","pid":1,"graceful_timeout_secs":5.0}`, "graceful_timeout_secs"},
	{"negative timeout", `{"daemon_name":"h","pid":1,"graceful_timeout_secs":-1}`, "graceful_timeout_secs"},
	{"timeout beyond u64", `{"daemon_name":"h","pid":1,"graceful_timeout_secs":18446744073709551616}`, "graceful_timeout_secs"},
}

func TestShutdownConfigDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.ShutdownConfig](t, shutdownConfigDecodeErrorTests)
}

func TestShutdownConfigErrorText(t *testing.T) {
	var c daemoncontract.ShutdownConfig
	assert.EqualError(t, c.UnmarshalJSON([]byte(`{"daemon_name":"h"}`)),
		`daemoncontract: ShutdownConfig: missing field "pid"`)
	assert.EqualError(t, c.UnmarshalJSON([]byte(`{"daemon_name":"h","pid":-1}`)),
		`daemoncontract: ShutdownConfig: field "pid": must be an integer in 0..4294967295, got -1`)
	assert.EqualError(t, c.UnmarshalJSON([]byte(`{"daemon_name":"h","pid":null}`)),
		`daemoncontract: ShutdownConfig: field "pid": must be an integer in 0..4294967295, got null`)
}

var httpDaemonConfigJSONTests = []jsonTest[daemoncontract.HttpDaemonConfig]{
	{
		name: "required only",
		in:   `{"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health"}`,
		want: daemoncontract.HttpDaemonConfig{DaemonName: "queen-rbee", HealthURL: "http://localhost:7833/health"},
		out:  `{"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health"}`,
	},
	{
		name: "all members",
		in:   `{"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health","shutdown_endpoint":"/v1/shutdown","job_id":"job-7"}`,
		want: daemoncontract.HttpDaemonConfig{DaemonName: "queen-rbee", HealthURL: "http://localhost:7833/health", ShutdownEndpoint: new("/v1/shutdown"), JobID: new("job-7")},
		out:  `{"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health","shutdown_endpoint":"/v1/shutdown","job_id":"job-7"}`,
	},
	{
		name: "null shutdown_endpoint is absent",
		in:   `{"daemon_name":"d","health_url":"http://h/health","shutdown_endpoint":null}`,
		want: daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: "http://h/health"},
		out:  `{"daemon_name":"d","health_url":"http://h/health"}`,
	},
	{
		name: "empty optionals are kept",
		in:   `{"daemon_name":"d","health_url":"http://h/health","shutdown_endpoint":"","job_id":""}`,
		want: daemoncontract.HttpDaemonConfig{DaemonName: "d", HealthURL: "http://h/health", ShutdownEndpoint: new(""), JobID: new("")},
		out:  `{"daemon_name":"d","health_url":"http://h/health","shutdown_endpoint":"","job_id":""}`,
	},
}

func TestHttpDaemonConfigJSON(t *testing.T) {
	runJSONTests(t, httpDaemonConfigJSONTests)
}

var httpDaemonConfigDecodeErrorTests = []decodeErrorTest{
	{"missing health_url", `{"daemon_name":"d"}`, "health_url"},
	{"missing daemon_name", `{"health_url":"http://h/health"}`, "daemon_name"},
	{"object health_url", `{"daemon_name":"d","health_url":{"url":"x"}}`, "health_url"},
	{"number shutdown_endpoint", `{"daemon_name":"d","health_url":"http://h","shutdown_endpoint":1}`, "shutdown_endpoint"},
}

func TestHttpDaemonConfigDecodeErrors(t *testing.T) {
	runDecodeErrorTests[daemoncontract.HttpDaemonConfig](t, httpDaemonConfigDecodeErrorTests)
}
