package daemoncontract

import "encoding/json/jsontext"

// DaemonHandle is what a lifecycle tool keeps about one daemon: its name, the
// URL it answers on, whether this tool started it, and its process ID when
// known.
//
// The rule that matters most: a tool stops only a daemon it started itself.
// A handle made by [StartedByUs] makes its holder responsible for cleanup:
// [DaemonHandle.ShouldCleanup] reports true, and the holder should stop the
// daemon when its work is done. A handle made by [AlreadyRunning] (and the zero
// DaemonHandle) reports false: the daemon belongs to someone else and must be
// left running. Nothing here stops a daemon by itself; the handle only records
// who is responsible.
//
// A DaemonHandle is an immutable value: its fields are unexported, the methods
// that change something return a new handle, and it is safe to share between
// goroutines. It is comparable, so == compares all four fields and a handle
// can be a map key. Downstream lifecycle packages alias it rather than wrap it:
//
//	type QueenHandle = daemoncontract.DaemonHandle
//
// On the wire it is a JSON object:
//
//	{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345}
//
// daemon_name, started_by_us and base_url are required; pid is optional (absent
// or null: unknown). Decoding checks only the message's shape: call
// [DaemonHandle.Validate] before acting on a handle that came over the wire,
// above all before signalling its pid.
type DaemonHandle struct {
	// daemonName is "daemon_name", e.g. "queen-rbee".
	daemonName string
	// startedByUs is "started_by_us": true if the holder started the daemon.
	startedByUs bool
	// baseURL is "base_url", e.g. "http://localhost:7833".
	baseURL string
	// pid is "pid", the daemon's process ID; unset when unknown.
	pid optionalUint32
}

// AlreadyRunning returns a handle for a daemon that was running before this
// tool looked for it. The handle's ShouldCleanup reports false and it carries
// no pid: the tool must leave the daemon running.
func AlreadyRunning(daemonName, baseURL string) DaemonHandle {
	return DaemonHandle{daemonName: daemonName, baseURL: baseURL}
}

// StartedByUs returns a handle for a daemon this tool has just started. The
// handle's ShouldCleanup reports true: the tool is responsible for stopping it.
// pid is the daemon's process ID; nil means unknown. The handle copies *pid, so
// later changes to it do not reach the handle.
func StartedByUs(daemonName, baseURL string, pid *uint32) DaemonHandle {
	h := DaemonHandle{daemonName: daemonName, startedByUs: true, baseURL: baseURL}
	if pid != nil {
		h.pid = optionalUint32{value: *pid, set: true}
	}
	return h
}

// ShouldCleanup reports whether the holder of the handle started the daemon
// and so must stop it when done ("started_by_us" on the wire). It is false for
// a daemon that was already running, which must be left alone.
func (h DaemonHandle) ShouldCleanup() bool { return h.startedByUs }

// DaemonName returns the daemon's name ("daemon_name" on the wire), such as
// "queen-rbee", "rbee-hive" or "vllm-worker".
func (h DaemonHandle) DaemonName() string { return h.daemonName }

// BaseURL returns the URL the daemon answers on ("base_url" on the wire), such
// as "http://localhost:7833".
func (h DaemonHandle) BaseURL() string { return h.baseURL }

// PID returns the daemon's process ID ("pid" on the wire) and true, or 0 and
// false when the handle does not know it. A handle from AlreadyRunning never
// knows it.
func (h DaemonHandle) PID() (pid uint32, ok bool) { return h.pid.value, h.pid.set }

// WithDiscoveredURL returns a copy of h whose base URL is url, as found by
// service discovery (for example from the daemon's /v1/info). h itself is
// unchanged.
func (h DaemonHandle) WithDiscoveredURL(url string) DaemonHandle {
	h.baseURL = url
	return h
}

// Validate reports whether h is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - daemon_name must be non-empty, without NUL;
//   - base_url must be an absolute http or https URL with a host name;
//   - pid, when known, must be in 1..2147483647: 0 would make kill(2) signal
//     the caller's own process group, and a larger value becomes a negative
//     pid_t, a process group or (4294967295, that is -1) every process.
//
// Decode, then Validate, then act.
func (h DaemonHandle) Validate() error { return validate(daemonHandleLayout, h.values()) }

var daemonHandleLayout = &layout{typ: "DaemonHandle", members: []memberLayout{
	{name: "daemon_name", valid: stringRule(nonEmptyText)},
	{name: "started_by_us"},
	{name: "base_url", valid: stringRule(httpURL)},
	{name: "pid", optional: true, valid: processRule},
}}

// values binds h to DaemonHandle's fields.
func (h *DaemonHandle) values() values {
	return values{&h.daemonName, &h.startedByUs, &h.baseURL, &h.pid}
}

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too.
func (h DaemonHandle) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, daemonHandleLayout, h.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (h DaemonHandle) MarshalJSON() ([]byte, error) {
	return encodeBytes(daemonHandleLayout, h.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *h is
// unchanged.
func (h *DaemonHandle) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v DaemonHandle
	return commit(h, &v, decodeFrom(dec, daemonHandleLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// DaemonHandle message. On error, *h is unchanged.
func (h *DaemonHandle) UnmarshalJSON(b []byte) error {
	var v DaemonHandle
	return commit(h, &v, decodeBytes(b, daemonHandleLayout, v.values()))
}
