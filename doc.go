// Package daemoncontract defines the messages of the rbee daemon lifecycle:
// what a tool passes around when it starts, checks, installs or stops one of
// rbee's daemons (queen-rbee on port 7833, rbee-hive on port 7835, workers).
//
// The rule that matters most: a tool stops only a daemon it started itself.
// [DaemonHandle] records who started a daemon, and
// [DaemonHandle.ShouldCleanup] reports whether the holder must stop it.
//
// This package holds types only. It starts, probes and stops nothing.
//
// # Wire format
//
// Every type encodes to, and decodes from, the same JSON as the Rust
// contract's serde types, so Go and Rust peers can exchange them: what Go
// accepts or writes, a Rust peer reads. encoding/json/v2 and the types' own
// MarshalJSON and MarshalJSONTo write serde's exact bytes; encoding/json
// writes the same JSON value with its HTML-safe escapes (<, >, & as \u003c,
// \u003e, \u0026, and U+2028, U+2029 escaped too), which a Rust peer reads
// alike. The types implement the method interfaces of both encoding/json and
// encoding/json/v2, and the rules below hold whichever package the caller
// uses, with whatever options:
//
//   - A message is one JSON object. Members appear in the order listed
//     below; on input, order does not matter.
//   - Names match exactly and case-sensitively: "ID", "Pid" or a name that
//     matches only through Unicode case folding is an unknown member.
//   - Unknown members are ignored, which lets either side add members later.
//   - A name given twice anywhere in the message is an error, also inside
//     unknown members and inside metadata. So are invalid UTF-8 and lone
//     surrogate escapes anywhere.
//   - A required member that is missing or null is an error.
//   - An optional member is left out when absent. Null decodes as absent. A
//     present empty string is kept, and written back.
//   - Integers are plain digits in the member's range: 1.0, 1e3, -0, "1"
//     and -1 are errors.
//
// The members, in wire order:
//
//	type              JSON member            Go field                        JSON type                 presence
//	DaemonHandle      daemon_name            DaemonName()                    string                    required
//	                  started_by_us          ShouldCleanup()                 boolean                   required
//	                  base_url               BaseURL()                       string                    required
//	                  pid                    PID()                           integer 0..2^32-1         optional
//	                  process_identity       ProcessIdentity()               string                    optional
//	StatusRequest     id                     ID                              string                    required
//	                  job_id                 JobID                           string                    optional
//	StatusResponse    id                     ID                              string                    required
//	                  is_running             IsRunning                       boolean                   required
//	                  health_status          HealthStatus                    string                    optional
//	                  metadata               Metadata                        any JSON value            optional
//	InstallConfig     binary_name            BinaryName                      string                    required
//	                  binary_path            BinaryPath                      string                    optional
//	                  target_path            TargetPath                      string                    optional
//	                  job_id                 JobID                           string                    optional
//	InstallResult     binary_path            BinaryPath                      string                    required
//	                  install_time           InstallTime                     integer (secs, see below) required
//	                  sha256                 SHA256                          string                    optional
//	UninstallConfig   daemon_name            DaemonName                      string                    required
//	                  install_path           InstallPath                     string                    required
//	                  job_id                 JobID                           string                    optional
//	HttpDaemonConfig  daemon_name            DaemonName                      string                    required
//	                  health_url             HealthURL                       string                    required
//	                  shutdown_endpoint      ShutdownEndpoint                string                    optional
//	                  job_id                 JobID                           string                    optional
//	ShutdownConfig    daemon_name            DaemonName                      string                    required
//	                  pid                    PID                             integer 0..2^32-1         required
//	                  graceful_timeout_secs  GracefulTimeoutSecs             integer 0..2^64-1         default 5
//	                  job_id                 JobID                           string                    optional
//
// Optional strings are *string, so that absent (nil) and empty ("") differ;
// write new("job-1") to set one. "graceful_timeout_secs" is
// [DefaultGracefulTimeoutSecs] when absent, but null is an error and 0 is
// kept. "install_time" is whole seconds since the Unix epoch, at most
// 9223371974719179007, the most a time.Time holds; encoding drops the
// fraction of a second, and a time before the epoch cannot be encoded.
// Two members go beyond the Rust contract: a DaemonHandle's
// "process_identity" and an InstallResult's "sha256". A Rust peer ignores
// them; Go writes them only when set, so a message without them is byte for
// byte what Rust writes.
// "metadata" is kept as compacted raw JSON, and must be JSON that serde_json
// reads: no number that is infinite as a 64-bit float (1e400, a 400-digit
// integer, and 1.7976931348623158e308, which serde_json's parser overflows),
// and no nesting deeper than 127 levels counting the message's own object
// (126 inside metadata). Decoding, Validate and encoding all reject the rest,
// so that Go never writes a message that a Rust peer cannot read.
//
// # Validation
//
// Decoding proves only that a message has the right shape. A well-formed
// message can still be dangerous: pid 0, 1 or 4294967295 (which kill(2)
// reads as the caller's process group, init and every process), a binary
// name of "../../bin/sh", "-rf" or "CON", an install path of "/", "/usr",
// or "/etc/passwd" for queen-rbee, a binary path of "/dev/zero", a shutdown
// endpoint of "//evil.example/x", a health URL of
// "http://127.0.0.1:7833@evil.example" or "http://[::ffff:169.254.169.254]/",
// a newline, an ANSI escape or a zero-width character in a name. Each type's
// Validate method rejects these, and reports every broken field at once.
// Decode, then Validate, then act.
//
// Each rule follows the standard for what it checks: host names RFC 1035
// and RFC 1123, addresses the WHATWG URL standard and RFC 4291, paths
// POSIX (NAME_MAX, PATH_MAX) and the kernel's file systems (FHS), text
// Unicode's character categories and its Default_Ignorable_Code_Point
// property. Identifiers (ids, names, paths, URLs) must show all they hold;
// health_status is free text, and keeps the joiners that human languages
// need.
//
// Validate checks that a message is well-formed and safe to interpret. It
// does not decide whether the sender may ask for it: whether a sender may
// install into "/etc/cron.d", or remove "/etc/passwd" (a message that names
// a daemon "passwd" passes), is the receiver's policy, and started_by_us is
// a claim to trust only in a handle this tool made or stored itself. Nor does
// it know whether the process with a handle's pid is still the daemon: that
// is what [DaemonHandle.ProcessIdentity] is for.
//
// [HttpDaemonConfig.ShutdownURL] and [ShutdownConfig.GracefulTimeout] turn a
// config into what a lifecycle tool uses: a URL on the daemon's own host, and
// a time.Duration that cannot overflow.
//
// # Errors
//
// A message that breaks these rules fails to decode with an error. Problems
// with a field, or with the message as a whole, are a [*FieldError] that names
// the type and the JSON member, reachable with [errors.As]. [errors.Is] tells
// the cases apart ([ErrMissingField], [ErrWrongType], [ErrOutOfRange],
// [ErrSyntax], ...), and [FieldErrors] returns every *FieldError of an
// error, such as all that Validate found. The JSON packages report some
// syntax errors themselves, before the contract sees the message: through
// encoding/json every syntax error (a stray comma, nesting deeper than
// 10,000 levels, data after the message) is its *json.SyntaxError, and
// through encoding/json/v2, data after the message and an empty input are
// its own errors. Nothing panics on any input.
//
// A failed decode leaves the destination unchanged, with one exception:
// through encoding/json/v2, a complete message followed by more data is
// stored before v2 finds the data after it and returns its own syntax error.
// encoding/json checks the whole input first, and UnmarshalJSON reports
// [ErrTrailingData] before storing anything.
package daemoncontract
