package daemoncontract

import (
	"encoding/json/jsontext"
	"time"
)

// InstallConfig asks for a daemon binary to be installed. Decoding checks
// only the message's shape: call [InstallConfig.Validate] before acting on it.
//
// On the wire:
//
//	{"binary_name":"rbee-hive","binary_path":"/home/u/rbee/target/release/rbee-hive","target_path":"/usr/local/bin","job_id":"job-1"}
type InstallConfig struct {
	// BinaryName is the daemon binary's file name, such as "rbee-hive" or
	// "vllm-worker". Required ("binary_name").
	BinaryName string `json:"binary_name"`

	// BinaryPath is where the binary to install is now ("binary_path").
	// Optional: nil means absent, and the installer finds the binary itself;
	// absent or null on the wire decode as nil.
	BinaryPath *string `json:"binary_path,omitzero"`

	// TargetPath is where to install the binary ("target_path"). Optional: nil
	// means absent, and the installer uses its own default; absent or null on
	// the wire decode as nil.
	TargetPath *string `json:"target_path,omitzero"`

	// JobID is the job whose narration the installation belongs to
	// ("job_id"). Optional: nil means absent; absent or null on the wire
	// decode as nil. A present empty string is kept.
	JobID *string `json:"job_id,omitzero"`
}

var installConfigLayout = &layout{typ: "InstallConfig", members: []memberLayout{
	{name: "binary_name", valid: binaryNameRule},
	{name: "binary_path", optional: true, valid: sourcePathRule},
	{name: "target_path", optional: true, valid: targetDirRule},
	{name: "job_id", optional: true, valid: idRule},
}}

// values binds c to InstallConfig's fields.
func (c *InstallConfig) values() values {
	return values{&c.BinaryName, &c.BinaryPath, &c.TargetPath, &c.JobID}
}

// Validate reports whether c is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - binary_name must be a bare file name: 1 to 128 characters of A-Z a-z
//     0-9 . _ - @ +, starting with a letter or digit, not ending in '.', and
//     not a Windows device name (CON, NUL.exe, COM1...), so that it cannot
//     name a file outside the target directory, nor read as an option;
//   - binary_path and target_path, when present, must be absolute and clean
//     (path.IsAbs holds and path.Clean changes nothing; target_path may end
//     in one /), at most 4095 bytes, with no element longer than 255 bytes,
//     no backslash, and nothing under /proc, /sys or /dev;
//   - target_path must not be "/": the binary would be a top-level entry;
//   - job_id, when present, must be 1 to 256 bytes.
//
// No string may hold a control character (C0, DEL or C1), a Unicode format
// character (category Cf) or a line or paragraph separator, and none of
// these identifiers a default-ignorable code point, nor only white space.
// Validate does not decide whether the sender may install into target_path:
// that is the receiver's policy, an allowlist of directories. Nor can it
// see what a path names on disk: a symbolic link to /dev/zero is the
// installer's to refuse.
func (c InstallConfig) Validate() error { return validate(installConfigLayout, c.values()) }

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too.
func (c InstallConfig) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, installConfigLayout, c.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (c InstallConfig) MarshalJSON() ([]byte, error) {
	return encodeBytes(installConfigLayout, c.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *c is
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *c already set; see
// the package documentation.)
func (c *InstallConfig) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v InstallConfig
	return commit(c, &v, decodeFrom(dec, installConfigLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// InstallConfig message. On error, *c is unchanged.
func (c *InstallConfig) UnmarshalJSON(b []byte) error {
	var v InstallConfig
	return commit(c, &v, decodeBytes(b, installConfigLayout, v.values()))
}

// InstallResult reports a finished installation: the installer's receipt.
// Decoding checks only the message's shape: call [InstallResult.Validate]
// before acting on it.
//
// On the wire:
//
//	{"binary_path":"/usr/local/bin/rbee-hive","install_time":1700000000,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}
type InstallResult struct {
	// BinaryPath is where the binary was installed. Required ("binary_path").
	BinaryPath string `json:"binary_path"`

	// InstallTime is when the binary was installed. Required
	// ("install_time"). The wire carries whole seconds since the Unix epoch,
	// 0..9223371974719179007, the most a time.Time holds (a Rust peer writes
	// up to 9223372036854775807; decoding rejects what a time.Time cannot
	// hold, rather than wrap it around): encoding drops the fraction of a
	// second, and a time before the epoch (the zero time.Time too) is an
	// encoding error. Decoded times are in UTC.
	InstallTime time.Time `json:"install_time"`

	// SHA256 is the SHA-256 of the installed file's bytes, as 64 lower-case
	// hex digits ("sha256"): what proves, later, that the file at
	// binary_path is still the one this installation wrote, so that an
	// uninstaller removes only that. Optional: nil means absent, and then
	// the receipt proves nothing about the file's content; absent or null on
	// the wire decode as nil. Written after install_time, and only when set.
	//
	// Beyond the Rust contract: a Rust peer ignores the member, and a
	// receipt it writes back has none. A peer that writes it must write a
	// string or null: Go rejects another type, where serde ignores the
	// unknown member.
	SHA256 *string `json:"sha256,omitzero"`
}

var installResultLayout = &layout{typ: "InstallResult", members: []memberLayout{
	{name: "binary_path", valid: installedPathRule},
	{name: "install_time", valid: epochRule},
	{name: "sha256", optional: true, valid: sha256Rule},
}}

// values binds r to InstallResult's fields.
func (r *InstallResult) values() values {
	return values{&r.BinaryPath, &r.InstallTime, &r.SHA256}
}

// Validate reports whether r is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - binary_path must be absolute and clean (path.IsAbs holds and path.Clean
//     changes nothing), at most 4095 bytes, a file inside a directory (not
//     a top-level entry such as /usr), with no element longer than 255
//     bytes, no backslash, nothing under /proc, /sys or /dev, and no
//     control, format or default-ignorable character;
//   - install_time must not be before the Unix epoch;
//   - sha256, when present, must be exactly 64 lower-case hex digits
//     (0-9 a-f), the form the hash is compared in: "" and upper case are
//     errors, not another spelling of the same hash.
func (r InstallResult) Validate() error { return validate(installResultLayout, r.values()) }

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too. An InstallTime before the Unix epoch is an error.
func (r InstallResult) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, installResultLayout, r.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (r InstallResult) MarshalJSON() ([]byte, error) {
	return encodeBytes(installResultLayout, r.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *r is
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *r already set; see
// the package documentation.)
func (r *InstallResult) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v InstallResult
	return commit(r, &v, decodeFrom(dec, installResultLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// InstallResult message. On error, *r is unchanged.
func (r *InstallResult) UnmarshalJSON(b []byte) error {
	var v InstallResult
	return commit(r, &v, decodeBytes(b, installResultLayout, v.values()))
}

// UninstallConfig asks for an installed daemon binary to be removed. Decoding
// checks only the message's shape: call [UninstallConfig.Validate] before
// acting on it.
//
// On the wire:
//
//	{"daemon_name":"queen-rbee","install_path":"/home/u/.local/bin/queen-rbee","job_id":"j-9"}
type UninstallConfig struct {
	// DaemonName is the daemon's name, such as "queen-rbee". Required
	// ("daemon_name").
	DaemonName string `json:"daemon_name"`

	// InstallPath is the installed binary to remove. Required
	// ("install_path").
	InstallPath string `json:"install_path"`

	// JobID is the job whose narration the removal belongs to ("job_id").
	// Optional: nil means absent; absent or null on the wire decode as nil.
	// A present empty string is kept.
	JobID *string `json:"job_id,omitzero"`
}

var uninstallConfigLayout = &layout{typ: "UninstallConfig", members: []memberLayout{
	{name: "daemon_name", valid: nameRule},
	{name: "install_path", valid: installPathRule},
	{name: "job_id", optional: true, valid: idRule},
}}

// values binds c to UninstallConfig's fields.
func (c *UninstallConfig) values() values {
	return values{&c.DaemonName, &c.InstallPath, &c.JobID}
}

// Validate reports whether c is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - daemon_name must be a name: 1 to 128 characters of A-Z a-z 0-9 . _ -
//     @ +, starting with a letter or digit, not ending in '.', and not a
//     Windows device name (CON, NUL.exe, COM1...);
//   - install_path must be absolute and clean (path.IsAbs holds and
//     path.Clean changes nothing), at most 4095 bytes, a file inside a
//     directory, never a top-level entry ("/usr", "/home", "/queen-rbee"),
//     with no element longer than 255 bytes, no backslash and nothing under
//     /proc, /sys or /dev, and name the daemon's own binary: its last
//     element is daemon_name, or daemon_name + ".exe". "/", "/usr" and, for
//     queen-rbee, "/etc/passwd" are not its binary;
//   - job_id, when present, must be 1 to 256 bytes.
//
// No string may hold a control character (C0, DEL or C1), a Unicode format
// character (category Cf) or a line or paragraph separator, and none of
// these identifiers a default-ignorable code point, nor only white space.
// The sender names both the daemon and the path: Validate checks that they
// agree, not that the file is one the receiver installed
// ({"daemon_name":"passwd", "install_path":"/etc/passwd"} passes, and so
// does {"daemon_name":"bin", "install_path":"/usr/local/bin"}). A receiver
// that deletes files checks install_path against the directories it
// installs into.
func (c UninstallConfig) Validate() error { return validate(uninstallConfigLayout, c.values()) }

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too.
func (c UninstallConfig) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, uninstallConfigLayout, c.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (c UninstallConfig) MarshalJSON() ([]byte, error) {
	return encodeBytes(uninstallConfigLayout, c.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *c is
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *c already set; see
// the package documentation.)
func (c *UninstallConfig) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v UninstallConfig
	return commit(c, &v, decodeFrom(dec, uninstallConfigLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// UninstallConfig message. On error, *c is unchanged.
func (c *UninstallConfig) UnmarshalJSON(b []byte) error {
	var v UninstallConfig
	return commit(c, &v, decodeBytes(b, uninstallConfigLayout, v.values()))
}
