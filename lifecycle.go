package daemoncontract

import "encoding/json/jsontext"

// HttpDaemonConfig describes a daemon that is checked and stopped over HTTP.
//
// The name keeps the Rust contract's spelling (Http, not HTTP) on purpose, so
// that both sides of the wire use the same name for the same message.
//
// On the wire:
//
//	{"daemon_name":"queen-rbee","health_url":"http://localhost:7833/health","shutdown_endpoint":"/v1/shutdown","job_id":"job-7"}
//
//lint:ignore ST1003 the Rust contract's spelling, kept so both sides share the name.
type HttpDaemonConfig struct {
	// DaemonName is the daemon's name, used in narration, such as
	// "queen-rbee". Required ("daemon_name").
	DaemonName string `json:"daemon_name"`

	// HealthURL is the full URL of the daemon's health check, such as
	// "http://localhost:7833/health" (not its base URL). Required
	// ("health_url").
	HealthURL string `json:"health_url"`

	// ShutdownEndpoint is the path on the daemon's host that asks it to stop,
	// such as "/v1/shutdown" ("shutdown_endpoint"). Optional: nil means
	// absent, and the daemon has no such endpoint; absent or null on the wire
	// decode as nil.
	ShutdownEndpoint *string `json:"shutdown_endpoint,omitzero"`

	// JobID is the job whose narration the daemon's lifecycle belongs to
	// ("job_id"). Optional: nil means absent; absent or null on the wire
	// decode as nil. A present empty string is kept.
	JobID *string `json:"job_id,omitzero"`
}

var httpDaemonConfigLayout = &layout{typ: "HttpDaemonConfig", members: []memberLayout{
	{name: "daemon_name"},
	{name: "health_url"},
	{name: "shutdown_endpoint", optional: true},
	{name: "job_id", optional: true},
}}

// values binds c to HttpDaemonConfig's fields.
func (c *HttpDaemonConfig) values() values {
	return values{&c.DaemonName, &c.HealthURL, &c.ShutdownEndpoint, &c.JobID}
}

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too.
func (c HttpDaemonConfig) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, httpDaemonConfigLayout, c.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (c HttpDaemonConfig) MarshalJSON() ([]byte, error) {
	return encodeBytes(httpDaemonConfigLayout, c.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *c is
// unchanged.
func (c *HttpDaemonConfig) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v HttpDaemonConfig
	return commit(c, &v, decodeFrom(dec, httpDaemonConfigLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// HttpDaemonConfig message. On error, *c is unchanged.
func (c *HttpDaemonConfig) UnmarshalJSON(b []byte) error {
	var v HttpDaemonConfig
	return commit(c, &v, decodeBytes(b, httpDaemonConfigLayout, v.values()))
}
