package daemoncontract

import (
	"encoding/json"
	"encoding/json/jsontext"
)

// StatusRequest asks for the status of one daemon instance. Decoding checks
// only the message's shape: call [StatusRequest.Validate] before acting on it.
//
// On the wire:
//
//	{"id":"workstation","job_id":"job-123"}
type StatusRequest struct {
	// ID names the daemon instance to check: a hive alias, a worker ID.
	// Required ("id").
	ID string `json:"id"`

	// JobID is the job whose narration the check belongs to ("job_id").
	// Optional: nil means absent, and absent or null on the wire decode as
	// nil. A present empty string is kept and written back.
	JobID *string `json:"job_id,omitzero"`
}

var statusRequestLayout = &layout{typ: "StatusRequest", members: []memberLayout{
	{name: "id", valid: idRule},
	{name: "job_id", optional: true, valid: idRule},
}}

// values binds r to StatusRequest's fields.
func (r *StatusRequest) values() values {
	return values{&r.ID, &r.JobID}
}

// Validate reports whether r is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]: id, and
// job_id when present, must be identifiers of 1 to 256 bytes of valid UTF-8
// without a control character (C0, DEL or C1), a Unicode format character
// (Cf), a line or paragraph separator or a default-ignorable code point
// (which displays as nothing), and not only white space or blank characters
// (U+2800).
func (r StatusRequest) Validate() error { return validate(statusRequestLayout, r.values()) }

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too.
func (r StatusRequest) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, statusRequestLayout, r.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (r StatusRequest) MarshalJSON() ([]byte, error) {
	return encodeBytes(statusRequestLayout, r.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *r is
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *r already set; see
// the package documentation.)
func (r *StatusRequest) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v StatusRequest
	return commit(r, &v, decodeFrom(dec, statusRequestLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// StatusRequest message. On error, *r is unchanged.
func (r *StatusRequest) UnmarshalJSON(b []byte) error {
	var v StatusRequest
	return commit(r, &v, decodeBytes(b, statusRequestLayout, v.values()))
}

// StatusResponse answers a StatusRequest. Decoding checks only the message's
// shape: call [StatusResponse.Validate] before acting on it.
//
// On the wire:
//
//	{"id":"workstation","is_running":true,"health_status":"healthy","metadata":{"port":7835}}
type StatusResponse struct {
	// ID names the daemon instance, as in the request. Required ("id").
	ID string `json:"id"`

	// IsRunning reports whether the daemon is running. Required
	// ("is_running"); there is no default.
	IsRunning bool `json:"is_running"`

	// HealthStatus describes the daemon's health in words, such as "healthy"
	// ("health_status"). Optional: nil means absent, and absent or null on the
	// wire decode as nil. A present empty string is kept.
	HealthStatus *string `json:"health_status,omitzero"`

	// Metadata is any further JSON value the daemon reports: an object, an
	// array, a string, a number or a boolean ("metadata"). Optional: nil (or
	// empty) means absent and is not written; absent or null on the wire decode
	// as nil. Decoding keeps the value compacted, with its members in the
	// order they came; a present empty object {} is kept. It must be JSON
	// that a Rust peer reads: no number that is infinite as a 64-bit float,
	// no nesting deeper than 126 levels.
	Metadata json.RawMessage `json:"metadata,omitzero"`
}

var statusResponseLayout = &layout{typ: "StatusResponse", members: []memberLayout{
	{name: "id", valid: idRule},
	{name: "is_running"},
	{name: "health_status", optional: true, valid: healthStatusRule},
	{name: "metadata", optional: true, valid: metadataRule},
}}

// values binds r to StatusResponse's fields.
func (r *StatusResponse) values() values {
	return values{&r.ID, &r.IsRunning, &r.HealthStatus, &r.Metadata}
}

// Validate reports whether r is safe to act on. It returns nil, or a
// *FieldError for each broken rule, joined with [errors.Join]:
//
//   - id must be an identifier of 1 to 256 bytes, as in StatusRequest;
//   - health_status, when present, is free text of 1 to 1024 bytes of
//     valid UTF-8 without a control character (C0, DEL or C1), a Unicode
//     format character (Cf) or a line or paragraph separator, but for
//     U+200C and U+200D, the joiners that Persian, the Indic scripts and
//     emoji sequences need;
//   - metadata, when present (non-empty), must be valid JSON (one value,
//     valid UTF-8, no repeated names) that a Rust peer reads (no number
//     infinite as a 64-bit float, no nesting deeper than 126 levels). What
//     its strings hold is the sender's business.
func (r StatusResponse) Validate() error { return validate(statusResponseLayout, r.values()) }

// MarshalJSONTo implements [encoding/json/v2.MarshalerTo]. encoding/json (v1)
// calls it too. Metadata that is not valid JSON is an error.
func (r StatusResponse) MarshalJSONTo(enc *jsontext.Encoder) error {
	return encodeTo(enc, statusResponseLayout, r.values())
}

// MarshalJSON implements [encoding/json.Marshaler].
func (r StatusResponse) MarshalJSON() ([]byte, error) {
	return encodeBytes(statusResponseLayout, r.values())
}

// UnmarshalJSONFrom implements [encoding/json/v2.UnmarshalerFrom] with the
// contract's strict rules, whatever the decoder's options. On error, *r is
// unchanged. (encoding/json/v2 looks for data after the message only once this
// method has returned, and then reports an error with *r already set; see
// the package documentation.)
func (r *StatusResponse) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	var v StatusResponse
	return commit(r, &v, decodeFrom(dec, statusResponseLayout, v.values()))
}

// UnmarshalJSON implements [encoding/json.Unmarshaler]: b must hold exactly one
// StatusResponse message. On error, *r is unchanged.
func (r *StatusResponse) UnmarshalJSON(b []byte) error {
	var v StatusResponse
	return commit(r, &v, decodeBytes(b, statusResponseLayout, v.values()))
}
