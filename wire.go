package daemoncontract

// This file is the one decoding path and the one encoding path that all eight
// contract types share. Each type declares its wire layout once (a layout:
// its members' names, in wire order) and binds a value to it (values: pointers
// to the Go fields, in the same order). Both directions walk the pair.
//
// The layout and the pointers are kept apart so that errors, which carry the
// layout's names, do not make the compiler move the value being decoded or
// encoded to the heap.

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	jsonv2 "encoding/json/v2"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
	"unique"
)

// maxMembers is the most members any contract type has.
const maxMembers = 5

// A layout is a contract type's wire format: its Go name, for errors, and its
// members in wire order.
type layout struct {
	typ     string
	members []memberLayout
}

// A memberLayout describes one member of a contract message.
type memberLayout struct {
	name string // the JSON name, matched exactly

	// optional means the member may be absent. For the nullable kinds (see
	// values) absent reads as nil or unset; for a *uint64 the field keeps the
	// value it had before decoding (its default), and null stays an error.
	optional bool

	// valid is the member's rule for Validate, or nil when every value that
	// decodes is acceptable.
	valid rule
}

// values holds pointers to the Go fields of one message, in the order of its
// type's layout. The pointer's type decides how the member is read and
// written:
//
//	*string           a string; null is an error
//	*hiddenText       a string; null is an error
//	**string          a string or null (nil)
//	*bool             true or false; null is an error
//	*uint32           an integer in 0..4294967295; null is an error
//	*optional[uint32] an integer in 0..4294967295 or null (unset)
//	*optional[string] a string or null (unset)
//	*uint64           an integer in 0..18446744073709551615; null is an error
//	*time.Time        an integer in 0..9223371974719179007 (maxUnixSeconds): whole seconds since the Unix epoch
//	*json.RawMessage  any JSON value; null is nil
type values [maxMembers]any

// optional is a value that may be absent. Unlike a pointer, it is
// comparable by value, so a struct holding it (DaemonHandle) can be compared
// with == and used as a map key.
type optional[T comparable] struct {
	value T
	set   bool
}

// hiddenText is a string that may hold a secret: a URL with user
// information. fmt prints the fields of a value whose methods it cannot call
// (a DaemonHandle in an unexported struct field, or under a verb such as %d
// or %p) by reflection; it prints a pointer inside a struct as an address,
// never what it points to. So the text is kept behind a pointer, and that
// pointer is interned by unique, which gives equal strings the same
// pointer: == still compares the text, and a DaemonHandle stays
// comparable. The zero hiddenText is "".
type hiddenText struct{ h unique.Handle[string] }

// hide returns s as a hiddenText.
func hide(s string) hiddenText {
	if s == "" {
		return hiddenText{} // one form for "", so that == holds
	}
	return hiddenText{unique.Make(s)}
}

// text returns the string that t holds.
func (t hiddenText) text() string {
	if t == (hiddenText{}) {
		return ""
	}
	return t.h.Value()
}

// commit stores v in *dst when err is nil, so that a failed decode leaves the
// destination as it was.
func commit[T any](dst, v *T, err error) error {
	if err == nil {
		*dst = *v
	}
	return err
}

// lenient reports whether opts let repeated names or invalid UTF-8 through.
// encoding/json (v1) hands its methods a Decoder and an Encoder that allow
// both; the contract allows neither, whatever the caller's options.
func lenient(opts jsontext.Options) bool {
	if dup, _ := jsonv2.GetOption(opts, jsontext.AllowDuplicateNames); dup {
		return true
	}
	utf, _ := jsonv2.GetOption(opts, jsontext.AllowInvalidUTF8)
	return utf
}

var (
	// errUnsupportedType is a bug in this package: a values entry of a type
	// that the codec does not handle. (It names no type, so that the pointer
	// does not escape to the heap.)
	errUnsupportedType = errors.New("daemoncontract bug: unsupported Go field type")

	errTrailingData = withKind(ErrTrailingData, errors.New("must be a single JSON object, but more data follows it"))
	errInvalidUTF8  = withKind(ErrInvalidText, errors.New("must be valid UTF-8"))
	errInvalidJSON  = errors.New("must be valid JSON")
)

// decodeFrom reads one JSON object from dec into v, which l describes. It is
// the UnmarshalJSONFrom of every contract type, and UnmarshalJSON's too.
//
// It reads every name and value with ReadValue. A strict decoder (the v2
// default) has checked their syntax, UTF-8 and names already. A lenient one
// (encoding/json's) has checked only their syntax, and then decodeFrom checks
// the rest itself, so that the result does not depend on the entry point.
func decodeFrom(dec *jsontext.Decoder, l *layout, v values) error {
	check := lenient(dec.Options())
	depth := dec.StackDepth() // how deep in the caller's document the message is
	if dec.PeekKind() != '{' {
		// Not a message. What the value holds is checked first, as a
		// strict decoder does while it reads it, so that every entry point
		// reports the same of, say, a lone surrogate in a top-level string.
		raw, err := dec.ReadValue()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			// About the whole message: what the error's pointer names
			// inside a value that is not an object ("/0" in an array) is
			// no member.
			return l.wrap(err, -1)
		}
		if check {
			if err := revalidate(raw); err != nil {
				return &FieldError{Type: l.typ, Err: err}
			}
		}
		return &FieldError{Type: l.typ, Err: withKind(ErrNotObject, fmt.Errorf("must be a JSON object, got %s", describe(raw.Kind(), nil)))}
	}
	if _, err := dec.ReadToken(); err != nil { // the opening '{'
		return l.wrap(err, depth)
	}
	var seen uint
	var unknown map[string]bool // names of unknown members, kept only under check
	for dec.PeekKind() != '}' {
		raw, err := dec.ReadValue()
		if err != nil {
			return l.wrap(err, depth)
		}
		name, err := text(raw, check)
		if err != nil {
			// A name that is not text belongs to no member.
			return &FieldError{Type: l.typ, Err: err}
		}
		i := l.index(name)
		if i < 0 {
			if err := l.skip(dec, depth, name, check, &unknown); err != nil {
				return err
			}
			continue
		}
		m := &l.members[i]
		if seen&(1<<i) != 0 { // only a lenient decoder gets here
			return &FieldError{Type: l.typ, Field: m.name, Err: duplicateName(m.name)}
		}
		seen |= 1 << i
		if err := decodeValue(dec, v[i], check); err != nil {
			return &FieldError{Type: l.typ, Field: m.name, Err: classified(err)}
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the closing '}'
		return l.wrap(err, depth)
	}
	for i, m := range l.members {
		if !m.optional && seen&(1<<i) == 0 {
			return &FieldError{Type: l.typ, Field: m.name, Err: ErrMissingField}
		}
	}
	return nil
}

// index returns the position of the member called name, or -1.
func (l *layout) index(name []byte) int {
	for i := range l.members {
		if l.members[i].name == string(name) {
			return i
		}
	}
	return -1
}

// wrap turns an error that the decoder reports at a position inside the
// message into a *FieldError naming the member of the message it is in, so
// that the name survives encoding/json's rewriting of jsontext errors. depth
// is how many containers of the caller's document enclose the message; the
// decoder's pointer starts at the top of that document; depth -1 says that
// the message is not an object, so that no pointer names a member. An error
// outside any member (in a name, between members, a message cut short) is
// a *FieldError about the whole message. Each is marked with its case (see
// classified). Errors that are not about the message (the caller's reader
// failing) are returned as they are.
func (l *layout) wrap(err error, depth int) error {
	se, ok := errors.AsType[*jsontext.SyntacticError](err)
	if !ok {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &FieldError{Type: l.typ, Err: withKind(ErrSyntax, err)}
		}
		return err
	}
	i := 0
	for field := range se.JSONPointer.Tokens() {
		if i == depth {
			return &FieldError{Type: l.typ, Field: field, Err: classified(err)}
		}
		i++
	}
	return &FieldError{Type: l.typ, Err: classified(err)}
}

// duplicateName returns the error for a name that a message repeats.
func duplicateName(name string) error {
	return withKind(ErrDuplicateName, fmt.Errorf("%w %q", jsontext.ErrDuplicateName, name))
}

// skip reads and drops the value of the unknown member called name. Under
// check it also rejects a name that repeats an earlier unknown member's, and
// checks the value as a strict decoder would have.
func (l *layout) skip(dec *jsontext.Decoder, depth int, name []byte, check bool, unknown *map[string]bool) error {
	if !check {
		return l.wrap(dec.SkipValue(), depth)
	}
	if (*unknown)[string(name)] {
		return &FieldError{Type: l.typ, Field: string(name), Err: duplicateName(string(name))}
	}
	if *unknown == nil {
		*unknown = make(map[string]bool)
	}
	(*unknown)[string(name)] = true
	raw, err := dec.ReadValue()
	if err == nil {
		err = revalidate(raw)
	}
	if err != nil {
		return &FieldError{Type: l.typ, Field: string(name), Err: classified(err)}
	}
	return nil
}

// revalidate checks raw, a value that a lenient decoder or encoder accepted,
// for what it let through: repeated names and invalid UTF-8, at any depth.
func revalidate(raw jsontext.Value) error {
	if raw.IsValid() {
		return nil
	}
	_, err := jsontext.AppendFormat(nil, raw) // to say why
	return classified(err)
}

// checkMetadata checks metadata, raw, for Validate and the encoder: what a
// lenient encoder lets through, unless strict says that the encoder checks
// it (see revalidate), and what a Rust peer cannot read (see rustReadable).
func checkMetadata(raw jsontext.Value, strict bool) error {
	if !strict {
		if err := revalidate(raw); err != nil {
			return metadataError(err)
		}
	}
	return rustReadable(raw)
}

// metadataError returns the error for metadata that is not valid JSON,
// wrapping err, the JSON package's reason, marked with its case.
func metadataError(err error) error {
	return classified(fmt.Errorf("%w: %w", errInvalidJSON, err))
}

// maxUnixSeconds is the most whole seconds since the Unix epoch that a
// time.Time holds exactly: time.Time counts seconds from year 1 in an
// int64, and the Unix epoch is 62135596800 seconds after year 1. A larger
// count wraps around, to a time before year 1.
const maxUnixSeconds = math.MaxInt64 - 62135596800

// unixSeconds returns t as whole seconds since the Unix epoch, the wire's
// form of a time, or an error for a time before the epoch. A time so long
// before year 1 that its Unix seconds wrap around to more than
// maxUnixSeconds (time.Unix(math.MaxInt64, 0) is one) is before the epoch
// too: the wire would carry a time after it.
func unixSeconds(t time.Time) (int64, error) {
	secs := t.Unix()
	switch {
	case secs < 0:
		return 0, withKind(ErrOutOfRange, fmt.Errorf("must not be before the Unix epoch, got %s", t.Format(time.RFC3339)))
	case secs > maxUnixSeconds:
		return 0, withKind(ErrOutOfRange, fmt.Errorf("must be a time after the Unix epoch, got one that time.Unix wrapped around to before year 1: it was given more than 9223371974719179007 seconds"))
	}
	return secs, nil
}

// text returns what raw, a JSON string read by a decoder, stands for. The
// result aliases raw when raw has no escapes. Under check it rejects invalid
// UTF-8 and lone surrogates, which a lenient decoder lets through.
func text(raw jsontext.Value, check bool) ([]byte, error) {
	inner := raw[1 : len(raw)-1]
	// One pass finds what matters: an escape, and bytes outside ASCII.
	escaped, ascii := false, true
	for _, c := range inner {
		switch {
		case c == '\\':
			escaped = true
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !escaped && (ascii || !check || utf8.Valid(inner)) {
		return inner, nil
	}
	// AppendUnquote resolves escapes and reports invalid UTF-8 and lone
	// surrogates, whatever the decoder's options.
	b, err := jsontext.AppendUnquote(nil, raw)
	if err != nil {
		return nil, classified(err)
	}
	return b, nil
}

// decodeValue reads one member's value from dec into dst, one of the pointer
// types that values lists.
func decodeValue(dec *jsontext.Decoder, dst any, check bool) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	kind := raw.Kind()
	if kind == '0' && (string(raw) == "0" || string(raw) == "-0") {
		if rest := dec.UnreadBuffer(); len(rest) > 0 && isDigit(rest[0]) {
			// 01 or -01: JSON allows no leading zero. The decoder has read
			// the 0 as a value of its own; what follows is a syntax error,
			// as serde_json and encoding/json report it, and it comes
			// before whatever the value's type would say.
			_, err := dec.ReadToken()
			return err
		}
	}
	if check && (kind == '{' || kind == '[' || kind == '"' && !isString(dst)) {
		// What a strict decoder checks as it reads comes first: a repeated
		// name or invalid text inside a value of the wrong type (or inside
		// metadata) is reported as such, whichever the entry point. A
		// string member's text is checked as it is read, below.
		if err := revalidate(raw); err != nil {
			return err
		}
	}
	switch p := dst.(type) {
	case *string:
		s, err := stringValue(raw, check, "a string")
		if err != nil {
			return err
		}
		*p = s
	case *hiddenText:
		s, err := stringValue(raw, check, "a string")
		if err != nil {
			return err
		}
		*p = hide(s)
	case **string:
		if kind == 'n' {
			*p = nil
			return nil
		}
		s, err := stringValue(raw, check, "a string or null")
		if err != nil {
			return err
		}
		*p = &s
	case *bool:
		if kind != 't' && kind != 'f' {
			return mustBe("true or false", raw)
		}
		*p = kind == 't'
	case *uint32:
		n, err := parseUint(raw, 32, "an integer in 0..4294967295")
		if err != nil {
			return err
		}
		*p = uint32(n)
	case *optional[uint32]:
		if kind == 'n' {
			*p = optional[uint32]{}
			return nil
		}
		n, err := parseUint(raw, 32, "an integer in 0..4294967295 or null")
		if err != nil {
			return err
		}
		*p = optional[uint32]{value: uint32(n), set: true}
	case *optional[string]:
		if kind == 'n' {
			*p = optional[string]{}
			return nil
		}
		s, err := stringValue(raw, check, "a string or null")
		if err != nil {
			return err
		}
		*p = optional[string]{value: s, set: true}
	case *uint64:
		n, err := parseUint(raw, 64, "an integer in 0..18446744073709551615")
		if err != nil {
			return err
		}
		*p = n
	case *time.Time:
		const want = "whole seconds since the Unix epoch, an integer in 0..9223371974719179007 (the most a time.Time holds)"
		n, err := parseUint(raw, 64, want)
		if err == nil && n > maxUnixSeconds {
			err = mustBeKind(ErrOutOfRange, want, raw)
		}
		if err != nil {
			return err
		}
		*p = time.Unix(int64(n), 0).UTC()
	case *json.RawMessage:
		if kind == 'n' {
			*p = nil
			return nil
		}
		if err := rustReadable(raw); err != nil { // revalidated above, under check
			return err
		}
		m := raw.Clone()
		if bytes.ContainsAny(m, " \t\r\n") {
			_ = m.Compact() // m is valid JSON, so this cannot fail
		}
		*p = m
	default:
		return errUnsupportedType
	}
	return nil
}

// isString reports whether dst, one of the pointer types that values lists,
// is a string member.
func isString(dst any) bool {
	switch dst.(type) {
	case *string, *hiddenText, **string, *optional[string]:
		return true
	}
	return false
}

// stringValue returns the text of raw, which must be a JSON string; want says
// what the member must be, for the error.
func stringValue(raw jsontext.Value, check bool, want string) (string, error) {
	if raw.Kind() != '"' {
		return "", mustBe(want, raw)
	}
	s, err := text(raw, check)
	if err != nil {
		return "", err
	}
	return string(s), nil
}

// parseUint returns the value of raw, which must be a JSON integer below
// 1<<bits, written as plain digits: no sign, fraction or exponent. want says
// what the member must be, for the error.
//
// A number that is not such an integer is refused as the Rust reference
// refuses it (the conformance cases record each): ErrOutOfRange where
// serde_json reads it as an integer (a negative one, or one too large for
// the member), or cannot read it at all (1e400: "number out of range");
// ErrWrongType where it reads it as a float: a fraction or an exponent, -0,
// and an integer beyond the 64-bit range.
func parseUint(raw jsontext.Value, bits int, want string) (uint64, error) {
	max := uint64(1)<<bits - 1 // bits is at most 64: 1<<64 is 0, and 0-1 wraps to the largest uint64
	n, ok := digits(raw)
	if !ok || n > max {
		kind := ErrWrongType
		if serdeInteger(raw) || (raw.Kind() == '0' && rustReadable(raw) != nil) {
			kind = ErrOutOfRange
		}
		return 0, mustBeKind(kind, want, raw)
	}
	return n, nil
}

// serdeInteger reports whether serde_json reads raw, a JSON value, as an
// integer: a number without fraction or exponent that fits in a u64, or,
// when negative, in an i64, but for -0, which it reads as the float -0.0.
func serdeInteger(raw jsontext.Value) bool {
	if raw.Kind() != '0' || bytes.ContainsAny(raw, ".eE") || string(raw) == "-0" {
		return false
	}
	if raw[0] == '-' {
		_, err := strconv.ParseInt(string(raw), 10, 64)
		return err == nil
	}
	_, ok := digits(raw)
	return ok
}

// digits returns the value of raw if it is an unsigned decimal integer that
// fits in a uint64. JSON's grammar rules out leading zeros.
func digits(raw []byte) (uint64, bool) {
	if len(raw) == 0 || len(raw) > 19 {
		// Twenty digits may overflow; strconv checks. Longer never fits.
		n, err := strconv.ParseUint(string(raw), 10, 64)
		return n, err == nil
	}
	var n uint64 // below 10^19, so n*10+9 cannot overflow
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// maxExcerpt bounds how much of a number an error message quotes.
const maxExcerpt = 32

// mustBe returns the error for a value that is not what a member needs:
// ErrNullField for null, ErrWrongType for anything else.
func mustBe(want string, got jsontext.Value) error { return mustBeKind(ErrWrongType, want, got) }

// mustBeKind is mustBe, marked with kind unless got is null.
func mustBeKind(kind error, want string, got jsontext.Value) error {
	if got.Kind() == 'n' {
		kind = ErrNullField
	}
	return withKind(kind, fmt.Errorf("must be %s, got %s", want, describe(got.Kind(), got)))
}

// describe names a JSON value of the given kind, for an error message. Numbers
// are quoted from raw, when it is short enough.
func describe(kind jsontext.Kind, raw jsontext.Value) string {
	switch kind {
	case 'n':
		return "null"
	case 't':
		return "true"
	case 'f':
		return "false"
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	default: // '0', a number
		if len(raw) > 0 && len(raw) <= maxExcerpt {
			return string(raw)
		}
		return "a number"
	}
}

// pooledDecoder is a strict Decoder together with the buffer it reads from.
// A bytes.Buffer hands the decoder the whole message at once, as
// encoding/json/v2 does, so both report an error at the same place.
type pooledDecoder struct {
	buf bytes.Buffer
	dec jsontext.Decoder
}

var decoderPool = sync.Pool{New: func() any { return new(pooledDecoder) }}

// maxPooledInput bounds the messages whose decoder goes back to the pool, so
// that one huge message does not keep a huge buffer alive.
const maxPooledInput = 64 << 10

// decodeBytes decodes b, which must hold exactly one JSON object, into v. It
// is the UnmarshalJSON of every contract type.
func decodeBytes(b []byte, l *layout, v values) error {
	d := decoderPool.Get().(*pooledDecoder)
	d.buf.Reset()
	d.buf.Write(b) // a copy: the pool keeps no reference to the caller's bytes
	d.dec.Reset(&d.buf)
	err := decodeFrom(&d.dec, l, v)
	if err == nil && len(bytes.TrimLeft(b[d.dec.InputOffset():], " \t\r\n")) > 0 {
		// Whatever follows the message, valid JSON or not, is not part of it.
		err = &FieldError{Type: l.typ, Err: errTrailingData}
	}
	if len(b) <= maxPooledInput {
		decoderPool.Put(d)
	}
	return err
}

// encodeTo writes v, which l describes, to enc as one JSON object in wire
// order, leaving out absent optional members. It is the MarshalJSONTo of
// every contract type.
//
// Strings must be valid UTF-8 and metadata must be valid JSON without
// repeated names, whatever enc's options: encoding/json's encoder would
// otherwise replace invalid UTF-8 silently and let repeated names through.
// Strings are checked here on every path, so that the error reads the same
// whichever package the caller used.
func encodeTo(enc *jsontext.Encoder, l *layout, v values) error {
	if err := enc.WriteToken(jsontext.BeginObject); err != nil {
		return err
	}
	for i := range l.members {
		if err := encodeMember(enc, l.members[i].name, v[i]); err != nil {
			return &FieldError{Type: l.typ, Field: l.members[i].name, Err: err}
		}
	}
	return enc.WriteToken(jsontext.EndObject)
}

// encodeMember writes one member to enc, or nothing when it is optional and
// absent. It first rejects metadata that a lenient enc would accept.
func encodeMember(enc *jsontext.Encoder, name string, src any) error {
	var val jsontext.Token
	switch p := src.(type) {
	case *string:
		if !validUTF8(*p) {
			return errInvalidUTF8
		}
		val = jsontext.String(*p)
	case *hiddenText:
		s := p.text()
		if !validUTF8(s) {
			return errInvalidUTF8
		}
		val = jsontext.String(s)
	case **string:
		if *p == nil {
			return nil
		}
		if !validUTF8(**p) {
			return errInvalidUTF8
		}
		val = jsontext.String(**p)
	case *optional[string]:
		if !p.set {
			return nil
		}
		if !validUTF8(p.value) {
			return errInvalidUTF8
		}
		val = jsontext.String(p.value)
	case *bool:
		val = jsontext.Bool(*p)
	case *uint32:
		val = jsontext.Uint(uint64(*p))
	case *optional[uint32]:
		if !p.set {
			return nil
		}
		val = jsontext.Uint(uint64(p.value))
	case *uint64:
		val = jsontext.Uint(*p)
	case *time.Time:
		secs, err := unixSeconds(*p)
		if err != nil {
			return err
		}
		val = jsontext.Uint(uint64(secs))
	case *json.RawMessage:
		if len(*p) == 0 {
			return nil
		}
		// A strict enc checks metadata's syntax as it writes it; a lenient
		// one (encoding/json's) needs it checked first. Neither knows what a
		// Rust peer can read. Invalid JSON is reported as such, by WriteValue.
		strict := !lenient(enc.Options())
		if err := checkMetadata(*p, strict); err != nil && (!strict || jsontext.Value(*p).IsValid()) {
			return err
		}
		// The name is written here as well as below, on purpose: folding
		// this branch into the common tail measured ~10 ns slower a call.
		if err := enc.WriteToken(jsontext.String(name)); err != nil {
			return err
		}
		err := enc.WriteValue(*p)
		if _, ok := errors.AsType[*jsontext.SyntacticError](err); ok {
			return metadataError(err)
		}
		return err
	default:
		return errUnsupportedType
	}
	if err := enc.WriteToken(jsontext.String(name)); err != nil {
		return err
	}
	return enc.WriteToken(val)
}

// validUTF8 is utf8.ValidString, faster for the short ASCII strings that
// contract messages mostly hold.
func validUTF8(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s[i:])
		}
	}
	return true
}

// encodeBytes returns the JSON encoding of v, which l describes. It is the
// MarshalJSON of every contract type.
func encodeBytes(l *layout, v values) ([]byte, error) {
	var buf bytes.Buffer
	if err := encodeTo(jsontext.NewEncoder(&buf), l, v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}
