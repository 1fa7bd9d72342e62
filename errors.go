package daemoncontract

import (
	"encoding/json/jsontext"
	"errors"
	"strconv"
	"strings"
	"sync"
)

// FieldError reports a contract message that breaks the wire format, or a
// rule of Validate, in one of its fields or as a whole.
//
// Decoding returns a *FieldError for every problem with a field: a required
// field that is missing or null, a name given twice, a value of the wrong JSON
// type, a number out of range, invalid UTF-8, a lone surrogate or a syntax
// error inside the field's value. It also returns one, with Field empty,
// when the message is not a JSON object at all, when a member name is not
// valid text, when the message is cut short or has a syntax error between
// its members, and when data follows the message.
//
// A *FieldError is reachable with [errors.As] from what [encoding/json.Unmarshal]
// and [encoding/json/v2.Unmarshal] return, and [errors.Is] tells its cases
// apart with the sentinels below ([ErrMissingField], [ErrWrongType], ...),
// for every error that the contract sees. Two kinds of error it never sees,
// and they are the JSON package's own: [encoding/json.Unmarshal] checks the
// syntax of the whole input before it calls the contract, so a syntax error
// anywhere (a stray comma, input cut short, nesting deeper than 10,000
// levels, data after the message) is its [*encoding/json.SyntaxError];
// [encoding/json/v2.Unmarshal] reads the first token itself, and looks for
// data after the message once the contract has returned, so an empty input
// and trailing data are its own [*encoding/json/jsontext.SyntacticError].
// UnmarshalJSON, called directly, returns a *FieldError for all of them.
// Validate reports every broken
// field at once; [FieldErrors] returns them all.
type FieldError struct {
	// Type is the contract type the message was meant to be, such as
	// "ShutdownConfig".
	Type string

	// Field is the JSON name of the member at fault, such as "pid", exactly as
	// it appears on the wire. It is empty when the error concerns the message
	// as a whole.
	Field string

	// Err describes what is wrong. It wraps the sentinel of its case (see
	// ErrMissingField and the others), and may wrap the JSON package's own
	// error (for example a *jsontext.SyntacticError for a repeated name).
	Err error
}

// The cases of a [*FieldError], for [errors.Is]. Each *FieldError wraps the
// sentinel of its case, whichever JSON package the caller used. A
// message with two faults (a repeated name inside a value of the wrong
// type) is reported by its repeated name or invalid text first, as a strict
// decoder meets them first:
//
//	var cfg daemoncontract.ShutdownConfig
//	err := json.Unmarshal(data, &cfg)
//	if errors.Is(err, daemoncontract.ErrMissingField) { ... }
//
// A sentinel's own text is short: the *FieldError that wraps it says what
// is wrong, where, and what the value must be.
var (
	// ErrMissingField: a required member is missing.
	ErrMissingField = errors.New("missing field")

	// ErrNullField: a member is null where null is not allowed (a required
	// member, or graceful_timeout_secs).
	ErrNullField = errors.New("null where none is allowed")

	// ErrWrongType: a member's value has the wrong JSON type, such as a
	// string for a pid, or, for an integer member, a number that the Rust
	// reference reads as a float: 1.0, 1e3, -0, and an integer beyond the
	// 64-bit range (18446744073709551616).
	ErrWrongType = errors.New("wrong JSON type")

	// ErrOutOfRange: an integer outside its member's range (a negative pid,
	// 4294967296 for a pid), a time the wire cannot carry or a time.Time
	// cannot hold, metadata that a Rust peer cannot read (a number that is
	// infinite as a 64-bit float, or nesting deeper than 127 levels), and a
	// message nested deeper than Go's JSON packages read (10,000 levels).
	ErrOutOfRange = errors.New("out of range")

	// ErrDuplicateName: a name is given twice, anywhere in the message. The
	// error wraps [jsontext.ErrDuplicateName] too.
	ErrDuplicateName = errors.New("repeated name")

	// ErrInvalidText: invalid UTF-8, or a lone surrogate escape, anywhere in
	// the message.
	ErrInvalidText = errors.New("invalid UTF-8 or lone surrogate")

	// ErrNotObject: the message is not a JSON object.
	ErrNotObject = errors.New("not a JSON object")

	// ErrTrailingData: data follows the message. Only UnmarshalJSON
	// reports it: encoding/json and encoding/json/v2 look for trailing data
	// themselves, and report it with their own syntax errors.
	ErrTrailingData = errors.New("data after the message")

	// ErrSyntax: the message is not valid JSON where the contract reads it:
	// a stray comma, a value cut short, a syntax error inside a member's
	// value. (Through encoding/json, the JSON package reports syntax errors
	// itself, before the contract sees the message: see [FieldError].)
	ErrSyntax = errors.New("invalid JSON")

	// ErrInvalidValue: a value breaks a rule of Validate (which
	// [HttpDaemonConfig.ShutdownURL] applies too). Every error Validate
	// reports wraps it.
	ErrInvalidValue = errors.New("breaks a rule of Validate")
)

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
	case e.Err == ErrMissingField:
		return prefix + "missing field " + strconv.Quote(e.Field)
	default:
		return prefix + "field " + strconv.Quote(e.Field) + ": " + what
	}
}

// Unwrap returns Err, so that [errors.Is] and [errors.As] see the cause and
// the sentinel of its case.
func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrors returns every *FieldError in err's tree, in order: depth
// first, as errors.Is walks it, through both Unwrap() error and Unwrap()
// []error (errors.Join). It returns nil when there is none. Use it to report
// every field that Validate found broken; [errors.As] finds only the first.
//
// A *FieldError's own Err is searched too, so a *FieldError that wraps
// another yields both.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if fe, ok := err.(*FieldError); ok {
			out = append(out, fe)
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// kindError is an error marked with the sentinel of its case. Its text is
// err's alone, so that marking an error changes no message.
type kindError struct {
	kind error // one of the sentinels
	err  error
}

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// withKind marks err with kind.
func withKind(kind, err error) error { return &kindError{kind: kind, err: err} }

// classified returns err, an error from the jsontext package, marked with the
// sentinel of its case: ErrDuplicateName for a repeated name, ErrInvalidText
// for invalid UTF-8 or a lone surrogate, ErrOutOfRange for nesting deeper
// than jsontext reads, ErrSyntax for any other syntax error. Errors marked
// already, and errors that jsontext did not report about the JSON text, are
// returned as they are.
func classified(err error) error {
	switch {
	case err == nil || errors.As(err, new(*kindError)):
		return err // nothing to mark, or marked already
	case errors.Is(err, jsontext.ErrDuplicateName):
		return withKind(ErrDuplicateName, err)
	case invalidText(err):
		return withKind(ErrInvalidText, err)
	case errors.Is(err, jsontextMaxDepth()):
		return withKind(ErrOutOfRange, err)
	case errors.As(err, new(*jsontext.SyntacticError)):
		return withKind(ErrSyntax, err)
	}
	return err
}

// jsontextMaxDepth is the cause that jsontext gives a value nested deeper
// than it reads (10,000 levels), taken from jsontext itself, which does not
// export it. It is found on the first error that needs it, not at start-up:
// finding it costs most of a millisecond.
var jsontextMaxDepth = sync.OnceValue(func() error { return syntaxCause(strings.Repeat("[", 10001)) })

// jsontextInvalidUTF8 is the cause that jsontext gives invalid UTF-8. The
// package does not export it; it is taken from jsontext itself, so that
// errors.Is compares with the very value.
var jsontextInvalidUTF8 = sync.OnceValue(func() error { return syntaxCause("\"\xff\"") })

// syntaxCause returns the cause of the *jsontext.SyntacticError that
// formatting the invalid value raw gives, or nil if there is none (then no
// error is classified by it; TestJSONTextCauses pins both causes).
func syntaxCause(raw string) error {
	_, err := jsontext.AppendFormat(nil, []byte(raw))
	if se, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
		return se.Err
	}
	return nil
}

// invalidText reports whether err is jsontext's error for text that is not
// valid: invalid UTF-8, or a lone surrogate escape. jsontext calls the
// latter an invalid surrogate pair; a test pins that wording.
func invalidText(err error) bool {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) || se.Err == nil {
		return false
	}
	return se.Err == jsontextInvalidUTF8() || strings.HasPrefix(se.Err.Error(), "invalid surrogate pair")
}
