package daemoncontract

import (
	"errors"
	"strconv"
)

// FieldError reports a contract message that breaks the wire format, or a
// rule of Validate, in one of its fields or as a whole.
//
// Decoding returns a *FieldError for every problem with a field: a required
// field that is missing or null, a name given twice, a value of the wrong JSON
// type, a number out of range, invalid UTF-8 or a lone surrogate inside the
// field's value. It also returns one, with Field empty, when the message is not
// a JSON object at all. Pure syntax errors (truncated input, a stray comma) may
// instead be the JSON package's own error types.
//
// A *FieldError is reachable with [errors.As] from what [encoding/json.Unmarshal]
// and [encoding/json/v2.Unmarshal] return, whichever package the caller uses.
type FieldError struct {
	// Type is the contract type the message was meant to be, such as
	// "ShutdownConfig".
	Type string

	// Field is the JSON name of the member at fault, such as "pid", exactly as
	// it appears on the wire. It is empty when the error concerns the message
	// as a whole.
	Field string

	// Err describes what is wrong. It may wrap the JSON package's own error
	// (for example a *jsontext.SyntacticError for a repeated name).
	Err error
}

// errMissingField is the Err of a FieldError for a required member that the
// message does not contain; Error words that case as serde does.
var errMissingField = errors.New("missing field")

// Error returns the error text. It starts with "daemoncontract: ", then the
// type, then the field:
//
//	daemoncontract: ShutdownConfig: missing field "pid"
//	daemoncontract: ShutdownConfig: field "pid": must be an integer in 0..4294967295, got -1
//	daemoncontract: StatusRequest: must be a JSON object, got null
func (e *FieldError) Error() string {
	prefix := "daemoncontract: " + e.Type + ": "
	what := "invalid"
	if e.Err != nil {
		what = e.Err.Error()
	}
	switch {
	case e.Field == "":
		return prefix + what
	case e.Err == errMissingField:
		return prefix + "missing field " + strconv.Quote(e.Field)
	default:
		return prefix + "field " + strconv.Quote(e.Field) + ": " + what
	}
}

// Unwrap returns Err, so that [errors.Is] and [errors.As] see the cause.
func (e *FieldError) Unwrap() error { return e.Err }
