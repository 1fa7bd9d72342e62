package daemoncontract

import (
	"encoding/json/jsontext"
	"math"
	"time"
)

// DefaultGracefulTimeoutSecs is the graceful shutdown timeout, in seconds,
// that a ShutdownConfig message without "graceful_timeout_secs" carries.
const DefaultGracefulTimeoutSecs uint64 = 5

// ShutdownConfig asks for one daemon process to be stopped: first gracefully,
// then, once the timeout has passed, by force.
//
// On the wire:
//
//	{"daemon_name":"rbee-hive","pid":4242,"graceful_timeout_secs":5,"job_id":"j"}
//
// A message without "pid" is an error: it never decodes to pid 0. Decoding
// checks only the message's shape, and pid 0, 1 or 4294967295 decode: call
// [ShutdownConfig.Validate] before signalling anything. Even a valid pid may
// have been reused by another process since the message was written: a
// tool signals only a pid whose [DaemonHandle] it holds, and whose process
// identity it has checked.
type ShutdownConfig struct {
	// DaemonName is the daemon's name, used in narration, such as
	// "rbee-hive". Required ("daemon_name").
	DaemonName string `json:"daemon_name"`

	// PID is the process ID of the daemon to stop. Required ("pid"): an
	// integer in 0..4294967295 on the wire. 0, 1 and values above
	// 2147483647 decode, but Validate rejects them: kill(2) reads 0 and the
	// large ones as process groups, and 1 is init.
	PID uint32 `json:"pid"`

	// GracefulTimeoutSecs is how many seconds the daemon gets to exit after
	// being asked to stop, before it is killed ("graceful_timeout_secs").
	// When the member is absent it is DefaultGracefulTimeoutSecs (5); null
	// is an error; 0 is kept and means no grace period. It is always written.
	GracefulTimeoutSecs uint64 `json:"graceful_timeout_secs"`

	// JobID is the job whose narration the shutdown belongs to ("job_id").
	// Optional: nil means absent; absent or null on the wire decode as nil.
	// A present empty string is kept.
	JobID *string `json:"job_id,omitzero"`
}

// NewShutdownConfig returns a ShutdownConfig for the daemon process pid, with
// the default graceful timeout, DefaultGracefulTimeoutSecs, and no job ID.
func NewShutdownConfig(daemonName string, pid uint32) ShutdownConfig {
	return ShutdownConfig{DaemonName: daemonName, PID: pid, GracefulTimeoutSecs: DefaultGracefulTimeoutSecs}
}

var shutdownConfigLayout = &layout{typ: "ShutdownConfig", members: []memberLayout{
	{name: "daemon_name", valid: nameRule},
	{name: "pid", valid: pidRule},
	{name: "graceful_timeout_secs", optional: true, valid: timeoutRule},
	{name: "job_id", optional: true, valid: idRule},
}}

// values binds c to ShutdownConfig's fields.
func (c *ShutdownConfig) values() values {
	return values{&c.DaemonName, &c.PID, &c.GracefulTimeoutSecs, &c.JobID}
}

// Validate reports whether c is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - daemon_name must be a name: 1 to 128 characters of A-Z a-z 0-9 . _ -
//     @ +, starting with a letter or digit, not ending in '.', and not a
//     Windows device name (CON, NUL.exe, COM1...);
//   - pid must be in 2..2147483647: kill(2) reads 0 as the caller's own
//     process group; 1 is init, which no tool started and which ends a
//     container when signalled inside it; a larger value, converted to a
//     pid_t, is a negative number: a process group, or for 4294967295 (-1)
//     every process the caller may signal;
//   - graceful_timeout_secs must be at most 9223372036, the longest
//     time.Duration in seconds;
//   - job_id, when present, must be 1 to 256 bytes without a control
//     character (C0, DEL or C1), a Unicode format character (Cf), a line
//     or paragraph separator or a default-ignorable code point, and not
//     only white space.
//
// Decode, then Validate, then act.
func (c ShutdownConfig) Validate() error { return validate(shutdownConfigLayout, c.values()) }

// GracefulTimeout returns graceful_timeout_secs as a time.Duration. A value
// too large for a Duration gives the largest Duration, about 292 years,
// instead of overflowing. Zero means no grace period.
func (c ShutdownConfig) GracefulTimeout() time.Duration {
	if c.GracefulTimeoutSecs > maxTimeoutSecs {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(c.GracefulTimeoutSecs) * time.Second
}

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too.
func (c ShutdownConfig) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, shutdownConfigLayout, c.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (c ShutdownConfig) MarshalJSON() ([]byte, error) {
	return encodeBytes(shutdownConfigLayout, c.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. A missing
// "graceful_timeout_secs" decodes as DefaultGracefulTimeoutSecs. On error, *c is
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *c already set; see
// the package documentation.)
func (c *ShutdownConfig) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	v := NewShutdownConfig("", 0)
	return commit(c, &v, decodeFrom(dec, shutdownConfigLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// ShutdownConfig message. On error, *c is unchanged.
func (c *ShutdownConfig) UnmarshalJSON(b []byte) error {
	v := NewShutdownConfig("", 0)
	return commit(c, &v, decodeBytes(b, shutdownConfigLayout, v.values()))
}
