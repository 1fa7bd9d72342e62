package daemoncontract

import (
	"encoding/json/jsontext"
	"errors"
	"net/url"
	"strings"
)

// HttpDaemonConfig describes a daemon that is checked and stopped over HTTP.
// Decoding checks only the message's shape: call [HttpDaemonConfig.Validate]
// before acting on it, or [HttpDaemonConfig.ShutdownURL], which checks what it
// uses.
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
	{name: "daemon_name", valid: nameRule},
	{name: "health_url", valid: urlRule},
	{name: "shutdown_endpoint", optional: true, valid: endpointRule},
	{name: "job_id", optional: true, valid: idRule},
}}

// values binds c to HttpDaemonConfig's fields.
func (c *HttpDaemonConfig) values() values {
	return values{&c.DaemonName, &c.HealthURL, &c.ShutdownEndpoint, &c.JobID}
}

// Validate reports whether c is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - daemon_name must be a name: 1 to 128 characters of A-Z a-z 0-9 . _ -
//     @ +, starting with a letter or digit, not ending in '.', and not a
//     Windows device name (CON, NUL.exe, COM1...);
//   - health_url must be an absolute http or https URL of at most 2048
//     bytes with a host ("http://:80" has none), without user information
//     ("http://127.0.0.1:7833@evil.example" is not local) or a backslash,
//     with a host that names a peer: a DNS name of ASCII letters, digits, -
//     and _ (labels of 1 to 63 bytes, 253 in all; an international domain
//     name in its xn-- form), an IPv4 address as four decimal numbers, or an
//     IPv6 address that is not IPv4 in disguise (::ffff:0:0/96, ::/96), with
//     a zone only if link-local; no unspecified, broadcast or multicast
//     address; and with a port in 1..65535, or empty, where it has a colon;
//   - shutdown_endpoint, when present, must be a bare absolute path such as
//     "/v1/shutdown": at most 256 bytes of A-Z a-z 0-9 - . _ ~ /, exactly one
//     leading / (a second would make "//host" name another host), and no .
//     or .. segment. A percent-escape is an error: "/%2fevil.example/x" would
//     name another host once decoded. It must not be "/", nor health_url's
//     own path (every health check would ask the daemon to stop);
//   - job_id, when present, must be 1 to 256 bytes.
//
// No string may hold a control character (C0, DEL or C1), a Unicode format
// character (category Cf), a line or paragraph separator or a
// default-ignorable code point, nor be only white space.
func (c HttpDaemonConfig) Validate() error { return validate(httpDaemonConfigLayout, c.values()) }

// ErrNoShutdownEndpoint is returned by [HttpDaemonConfig.ShutdownURL] when
// the config has no shutdown_endpoint: the daemon cannot be asked over HTTP
// to stop, and a lifecycle tool has to signal it instead.
var ErrNoShutdownEndpoint = errors.New("daemoncontract: HttpDaemonConfig has no shutdown_endpoint")

// ShutdownURL returns the URL to ask the daemon to stop: health_url's scheme
// and host (with its port; an empty port, "http://h:/", is the default and
// left out) and shutdown_endpoint as the path.
//
//	health_url "http://localhost:7833/health" + shutdown_endpoint "/v1/shutdown"
//	→ "http://localhost:7833/v1/shutdown"
//
// It returns [ErrNoShutdownEndpoint] when shutdown_endpoint is absent, and the
// *FieldError of Validate when health_url or shutdown_endpoint breaks one of
// Validate's rules (shutdown_endpoint must not be health_url's own path). The
// result always names health_url's own scheme and host, never another, and
// carries no user information, query or fragment.
func (c HttpDaemonConfig) ShutdownURL() (string, error) {
	if c.ShutdownEndpoint == nil {
		return "", ErrNoShutdownEndpoint
	}
	if err := validate(httpDaemonConfigLayout, c.values(), "health_url", "shutdown_endpoint"); err != nil {
		return "", err
	}
	u, err := url.Parse(c.HealthURL)
	if err != nil {
		return "", err // cannot happen: Validate has parsed it
	}
	// An empty port is the scheme's default: "http://h:" is "http://h" (RFC
	// 3986 §6.2.3). The endpoint holds no byte that a URL escapes, so it is
	// the path as written.
	shutdown := url.URL{Scheme: u.Scheme, Host: strings.TrimSuffix(u.Host, ":"), Path: *c.ShutdownEndpoint}
	return shutdown.String(), nil
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
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *c already set; see
// the package documentation.)
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
