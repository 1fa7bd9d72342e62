package daemoncontract

import (
	"encoding/json/jsontext"
	"log/slog"
	"strconv"
	"strings"
)

// DaemonHandle is what a lifecycle tool keeps about one daemon: its name, the
// URL it answers on, whether this tool started it, and, when known, its
// process ID and the identity of that process.
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
// goroutines. It is comparable, so == compares all five fields and a handle
// can be a map key. Downstream lifecycle packages alias it rather than wrap it:
//
//	type QueenHandle = daemoncontract.DaemonHandle
//
// On the wire it is a JSON object:
//
//	{"daemon_name":"rbee-hive","started_by_us":true,"base_url":"http://localhost:7835","pid":12345,"process_identity":"linux:0b2a0c47-1d8e-4b59-9c1e-4f3b2f7d9a10:48213"}
//
// daemon_name, started_by_us and base_url are required; pid and
// process_identity are optional (absent or null: unknown). Decoding checks
// only the message's shape: call [DaemonHandle.Validate] before acting on a
// handle that came over the wire, above all before signalling its pid.
//
// # Process identity
//
// A pid names a process only while that process lives: once it exits, the
// kernel hands the number to the next process that starts. A handle that was
// stored and read back later may carry the pid of an unrelated process.
// process_identity is what tells the two apart: an opaque token that names
// one process instance for its whole life and never another. It is compared
// by string equality only; a tool that is about to signal the handle's pid
// first reads the identity of the process that has that pid now, and signals
// only if the two tokens are equal. This package only carries the token:
// computing it is the lifecycle tool's job.
//
// On Linux the token is
//
//	linux:<boot_id>:<starttime>
//
// where <boot_id> is the content of /proc/sys/kernel/random/boot_id without
// its trailing newline (a UUID that changes at every boot), and <starttime>
// is field 22 of /proc/<pid>/stat, in decimal: the process's start time in
// clock ticks after boot. (Field 2 of that file, the command name, is in
// parentheses and may hold spaces and parentheses itself: count fields from
// the last ')'.) A Rust, Python or shell peer can compute the same token.
// starttime counts clock ticks (usually 10 ms), so two processes that held
// one pid within the same tick would carry the same token. The kernel gives
// a pid out again only after it has cycled through all the others, so that
// takes someone who chooses the next pid (root in a pid namespace, through
// ns_last_pid), within 10 ms of the daemon's start.
//
// The token is not a secret: anyone can read a process's start time. It
// guards against a pid that was handed on, not against a forged handle; a
// handle is to be trusted only where this tool made it, or stored it where
// only this tool writes.
//
// Every token is <os>:<token>, <os> a lower-case name ([a-z][a-z0-9]*).
// Validate holds a linux: token to exactly the form above, <boot_id> a
// lower-case UUID and <starttime> a decimal number without leading zeros
// that fits in 64 bits, since a token of any other form never equals a live
// process's. Other systems may define their own prefix; their tokens are
// opaque here, and a token with another prefix never equals a Linux one, so
// it never matches.
//
// process_identity goes beyond the Rust contract, and is wire-compatible with
// it: it is written only when set, after pid, so a handle without it encodes
// exactly as before, and a Rust peer, which ignores members it does not know,
// reads every handle (and drops the identity).
type DaemonHandle struct {
	// daemonName is "daemon_name", e.g. "queen-rbee".
	daemonName string
	// startedByUs is "started_by_us": true if the holder started the daemon.
	startedByUs bool
	// baseURL is "base_url", e.g. "http://localhost:7833". It may hold user
	// information, which fmt must never print (see hiddenText).
	baseURL hiddenText
	// pid is "pid", the daemon's process ID; unset when unknown.
	pid optional[uint32]
	// processIdentity is "process_identity", the token that names the
	// process with that pid; unset when unknown.
	processIdentity optional[string]
}

// AlreadyRunning returns a handle for a daemon that was running before this
// tool looked for it. The handle's ShouldCleanup reports false and it carries
// no pid: the tool must leave the daemon running.
func AlreadyRunning(daemonName, baseURL string) DaemonHandle {
	return DaemonHandle{daemonName: daemonName, baseURL: hide(baseURL)}
}

// StartedByUs returns a handle for a daemon this tool has just started. The
// handle's ShouldCleanup reports true: the tool is responsible for stopping it.
// pid is the daemon's process ID; nil means unknown. The handle copies *pid, so
// later changes to it do not reach the handle. The handle has no process
// identity; add one with [DaemonHandle.WithProcessIdentity].
func StartedByUs(daemonName, baseURL string, pid *uint32) DaemonHandle {
	h := DaemonHandle{daemonName: daemonName, startedByUs: true, baseURL: hide(baseURL)}
	if pid != nil {
		h.pid = optional[uint32]{value: *pid, set: true}
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
func (h DaemonHandle) BaseURL() string { return h.baseURL.text() }

// PID returns the daemon's process ID ("pid" on the wire) and true, or 0 and
// false when the handle does not know it. A handle from AlreadyRunning never
// knows it.
func (h DaemonHandle) PID() (pid uint32, ok bool) { return h.pid.value, h.pid.set }

// ProcessIdentity returns the token that names the daemon's process
// ("process_identity" on the wire) and true, or "" and false when the handle
// does not know it: a handle from AlreadyRunning, from StartedByUs, or from
// a peer that does not write the member (a Rust peer, an older version).
// The token names one process instance and is compared by string equality
// only; on Linux it is linux:<boot_id>:<starttime> (see "Process identity"
// in the DaemonHandle documentation).
func (h DaemonHandle) ProcessIdentity() (id string, ok bool) {
	return h.processIdentity.value, h.processIdentity.set
}

// WithProcessIdentity returns a copy of h that carries id as the identity of
// its process, replacing any it had. h itself is unchanged. The id is kept
// as it is, even when empty; Validate checks it. Pair it with the pid it was
// read for: an identity without a pid is an error in Validate.
func (h DaemonHandle) WithProcessIdentity(id string) DaemonHandle {
	h.processIdentity = optional[string]{value: id, set: true}
	return h
}

// WithDiscoveredURL returns a copy of h whose base URL is url, as found by
// service discovery (for example from the daemon's /v1/info). h itself is
// unchanged.
func (h DaemonHandle) WithDiscoveredURL(url string) DaemonHandle {
	h.baseURL = hide(url)
	return h
}

// String returns the handle as one line for people, such as
//
//	rbee-hive at http://localhost:7835, started by us, pid 12345
//	queen-rbee at http://localhost:7833, not started by us
//
// It is what fmt prints for %v, %+v and %s. The base URL's user
// information, if it has any, is shown as "xxxxx" ("http://xxxxx@h"), and a
// name or URL that is empty or holds anything but printable ASCII is
// quoted, so that a handle from the wire cannot forge log lines. The process
// identity is left out; LogValue has every member. Where fmt cannot call
// String (another verb, a handle in an unexported struct field), it prints
// the fields, and the base URL as the address of the text it is kept in:
// never the user information.
func (h DaemonHandle) String() string {
	var b strings.Builder
	b.WriteString(logText(h.daemonName))
	b.WriteString(" at ")
	b.WriteString(logText(redactUserinfo(h.BaseURL())))
	if h.startedByUs {
		b.WriteString(", started by us")
	} else {
		b.WriteString(", not started by us")
	}
	if h.pid.set {
		b.WriteString(", pid ")
		b.WriteString(strconv.FormatUint(uint64(h.pid.value), 10))
	}
	return b.String()
}

// GoString implements [fmt.GoStringer]: it is what fmt prints for %#v, the
// handle's fields in Go syntax, with pid and processIdentity only when set,
// and the base URL with its user information replaced by "xxxxx", as String
// and LogValue show it:
//
//	daemoncontract.DaemonHandle{daemonName:"rbee-hive", startedByUs:true, baseURL:"http://localhost:7835", pid:12345}
func (h DaemonHandle) GoString() string {
	var b strings.Builder
	b.WriteString("daemoncontract.DaemonHandle{daemonName:")
	b.WriteString(strconv.Quote(h.daemonName))
	b.WriteString(", startedByUs:")
	b.WriteString(strconv.FormatBool(h.startedByUs))
	b.WriteString(", baseURL:")
	b.WriteString(strconv.Quote(redactUserinfo(h.BaseURL())))
	if h.pid.set {
		b.WriteString(", pid:")
		b.WriteString(strconv.FormatUint(uint64(h.pid.value), 10))
	}
	if h.processIdentity.set {
		b.WriteString(", processIdentity:")
		b.WriteString(strconv.Quote(h.processIdentity.value))
	}
	b.WriteString("}")
	return b.String()
}

// logText returns s as it is when it is printable ASCII without spaces or
// quotes, and quoted otherwise.
func logText(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' || s[i] == '"' {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// LogValue implements [log/slog.LogValuer]: a handle is logged as a group
// of its wire members, under their JSON names, with pid and
// process_identity only when present, and base_url's user information, if
// it has any, shown as "xxxxx":
//
//	slog.Info("stopping", "daemon", h)
//	// level=INFO msg=stopping daemon.daemon_name=rbee-hive daemon.started_by_us=true daemon.base_url=http://localhost:7835 daemon.pid=12345
func (h DaemonHandle) LogValue() slog.Value {
	v := h.values()
	attrs := make([]slog.Attr, 0, maxMembers)
	for i, m := range daemonHandleLayout.members {
		switch p := v[i].(type) {
		case *string:
			attrs = append(attrs, slog.String(m.name, *p))
		case *hiddenText: // redactUserinfo changes only a URL with user information
			attrs = append(attrs, slog.String(m.name, redactUserinfo(p.text())))
		case *bool:
			attrs = append(attrs, slog.Bool(m.name, *p))
		case *optional[uint32]:
			if p.set {
				attrs = append(attrs, slog.Uint64(m.name, uint64(p.value)))
			}
		case *optional[string]:
			if p.set {
				attrs = append(attrs, slog.String(m.name, p.value))
			}
		}
	}
	return slog.GroupValue(attrs...)
}

// Validate reports whether h is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - daemon_name must be a name: 1 to 128 characters of A-Z a-z 0-9 . _ -
//     @ +, starting with a letter or digit, not ending in '.', and not a
//     Windows device name (CON, NUL.exe, COM1...);
//   - base_url must be an absolute http or https URL of at most 2048 bytes,
//     without user information, a query, a fragment, a . or .. segment or
//     a backslash, with a host that names a peer (a DNS name, an IPv4
//     address as four decimal numbers, or an IPv6 address that is not IPv4
//     in disguise; no unspecified, broadcast or multicast address), and
//     with a port in 1..65535 or empty where it has a colon;
//   - pid, when known, must be in 2..2147483647: 0 would make kill(2) signal
//     the caller's own process group, 1 is init, and a larger value becomes a
//     negative pid_t, a process group or (4294967295, that is -1) every
//     process;
//   - process_identity, when present, must be <os>:<token>, 1 to 128 bytes
//     of printable ASCII without spaces, <os> a lower-case name; a linux:
//     token must be exactly linux:<boot_id>:<starttime> as the kernel writes
//     them (see "Process identity"), and the handle must carry a pid.
//
// No string may hold a control character (C0, DEL or C1), a Unicode format
// character (category Cf), a line or paragraph separator or a
// default-ignorable code point, nor be only white space. Validate checks
// that a handle is well-formed; it cannot check that started_by_us is true,
// or that the process with the pid is still the daemon (compare
// process_identity for that). Decode, then Validate, then act.
func (h DaemonHandle) Validate() error { return validate(daemonHandleLayout, h.values()) }

var daemonHandleLayout = &layout{typ: "DaemonHandle", members: []memberLayout{
	{name: "daemon_name", valid: nameRule},
	{name: "started_by_us"},
	{name: "base_url", valid: baseURLRule},
	{name: "pid", optional: true, valid: pidRule},
	{name: "process_identity", optional: true, valid: identityRule},
}}

// values binds h to DaemonHandle's fields.
func (h *DaemonHandle) values() values {
	return values{&h.daemonName, &h.startedByUs, &h.baseURL, &h.pid, &h.processIdentity}
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
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *h already set; see
// the package documentation.)
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
