package daemoncontract

// What a Rust peer can read. metadata is any JSON value, and serde_json, which
// reads it on the Rust side, rejects some values that are valid JSON: a number
// that does not fit its 64-bit float, and nesting deeper than its recursion
// limit. Go must never accept, nor above all write, a message that the Rust
// peer then rejects at run time, so decoding, Validate and encoding all check
// metadata against serde_json's own rules, ported here exactly.
//
// The port follows serde_json 1.0.87 (src/de.rs), without its
// float_roundtrip feature, as the Rust contract builds it. Its float parsing
// is not correctly rounded, so the boundary is not math.MaxFloat64:
// serde_json rejects 1.7976931348623158e308, which rounds to the largest
// float, and also the integer 17976931348623157 followed by 292 zeros.
// It also rejects as an invalid number a valid JSON number whose integer part
// overflows a u64 by one digit and whose first fraction digit fits
// (18446744073709551616.5). The conformance cases record what the reference
// did with each of these.

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// maxMetadataDepth is how deeply metadata may nest arrays and objects.
// serde_json reads a message nested at most 127 levels deep, counting the
// message's own object as the first; metadata's own array or object is the
// second.
const maxMetadataDepth = 126

// pow10 is serde_json's POW10: 1e0 to 1e308, each correctly rounded, as Rust
// float literals are. (math.Pow10 multiplies two table entries, and is not
// always correctly rounded.)
var pow10 = func() (t [309]float64) {
	for i := range t {
		t[i], _ = strconv.ParseFloat("1e"+strconv.Itoa(i), 64)
	}
	return t
}()

// rustReadable reports whether serde_json reads raw, which must be one valid
// JSON value: no number out of its range, no nesting deeper than
// maxMetadataDepth. Strings are skipped; their content is not its business.
// Its errors are ErrOutOfRange.
func rustReadable(raw []byte) error {
	depth := 0
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '"':
			i = skipString(raw, i)
			continue
		case c == '[' || c == '{':
			if depth++; depth > maxMetadataDepth {
				return withKind(ErrOutOfRange, fmt.Errorf("must not nest arrays and objects more than %d levels deep: a Rust peer rejects a message nested deeper than 127 levels, counting its own object", maxMetadataDepth))
			}
		case c == ']' || c == '}':
			depth--
		case c == '-' || '0' <= c && c <= '9':
			j := i + 1
			for j < len(raw) && isNumberByte(raw[j]) {
				j++
			}
			if num := raw[i:j]; !serdeNumber(num) {
				return withKind(ErrOutOfRange, fmt.Errorf("must hold only numbers that a Rust peer reads as a finite 64-bit float, got %s", excerpt(num)))
			}
			i = j
			continue
		}
		i++
	}
	return nil
}

// skipString returns the index just past the JSON string that starts at
// raw[i]: past the next quote that an odd number of backslashes does not
// escape.
func skipString(raw []byte, i int) int {
	for i++; ; {
		q := bytes.IndexByte(raw[i:], '"')
		if q < 0 {
			return len(raw)
		}
		i += q
		backslashes := 0
		for j := i - 1; j >= 0 && raw[j] == '\\'; j-- {
			backslashes++
		}
		i++
		if backslashes%2 == 0 {
			return i
		}
	}
}

// isNumberByte reports whether c can continue a JSON number.
func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// excerpt quotes a number for an error message, cut short if long.
func excerpt(num []byte) string {
	if len(num) > maxExcerpt {
		return string(num[:maxExcerpt]) + "..."
	}
	return string(num)
}

// serdeNumber reports whether serde_json reads num, a valid JSON number,
// without error. It is serde_json's parse_integer and what it calls, with
// the value itself dropped: only whether the parse fails matters here.
func serdeNumber(num []byte) bool {
	// A short number without an exponent cannot overflow anything: at most
	// 17 digits, below 10^17.
	if len(num) <= 18 && !hasExponent(num) {
		return true
	}
	p := serdeParser{b: num}
	if p.peek() == '-' {
		p.i++
	}
	c := p.next()
	if c == '0' {
		return p.number(0)
	}
	significand := uint64(c - '0')
	for isDigit(p.peek()) {
		digit := uint64(p.peek() - '0')
		if overflowsU64(significand, digit) {
			return p.longInteger(significand)
		}
		p.i++
		significand = significand*10 + digit
	}
	return p.number(significand)
}

// serdeParser walks a number as serde_json's Deserializer does.
type serdeParser struct {
	b []byte
	i int
}

// peek returns the next byte, or 0 at the end, as serde_json's peek_or_null.
func (p *serdeParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// next returns the next byte and moves past it.
func (p *serdeParser) next() byte {
	c := p.peek()
	p.i++
	return c
}

// number is parse_number: an integer is a u64 or an i64 (or, negative and
// too large for an i64, a float): always readable.
func (p *serdeParser) number(significand uint64) bool {
	switch p.peek() {
	case '.':
		return p.decimal(significand, 0)
	case 'e', 'E':
		return p.exponent(significand, 0)
	}
	return true
}

// decimal is parse_decimal, starting at the '.'.
func (p *serdeParser) decimal(significand uint64, exponent int32) bool {
	p.i++
	for isDigit(p.peek()) {
		digit := uint64(p.peek() - '0')
		if overflowsU64(significand, digit) {
			return p.decimalOverflow(significand, exponent)
		}
		p.i++
		significand = significand*10 + digit
		exponent--
	}
	// serde_json's "at least one digit after the point" test: it looks at
	// the exponent, which after an overflowing integer part can be back at
	// zero, and then rejects a valid number as invalid.
	if exponent == 0 {
		return false
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		return p.exponent(significand, exponent)
	}
	return f64FromParts(significand, exponent)
}

// exponent is parse_exponent, starting at the 'e'.
func (p *serdeParser) exponent(significand uint64, start int32) bool {
	p.i++
	positive := true
	switch p.peek() {
	case '+':
		p.i++
	case '-':
		p.i++
		positive = false
	}
	exp := int32(p.next() - '0')
	for isDigit(p.peek()) {
		digit := int32(p.next() - '0')
		if overflowsI32(exp, digit) {
			// parse_exponent_overflow: infinity is an error, zero is not.
			return significand == 0 || !positive
		}
		exp = exp*10 + digit
	}
	if positive {
		return f64FromParts(significand, saturatingAdd(start, exp))
	}
	return f64FromParts(significand, saturatingAdd(start, -exp))
}

// longInteger is parse_long_integer: digits beyond a u64 only raise the
// exponent.
func (p *serdeParser) longInteger(significand uint64) bool {
	var exponent int32
	for {
		switch c := p.peek(); {
		case isDigit(c):
			p.i++
			exponent++
		case c == '.':
			return p.decimal(significand, exponent)
		case c == 'e' || c == 'E':
			return p.exponent(significand, exponent)
		default:
			return f64FromParts(significand, exponent)
		}
	}
}

// decimalOverflow is parse_decimal_overflow: fraction digits beyond a u64
// are dropped.
func (p *serdeParser) decimalOverflow(significand uint64, exponent int32) bool {
	for isDigit(p.peek()) {
		p.i++
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		return p.exponent(significand, exponent)
	}
	return f64FromParts(significand, exponent)
}

// f64FromParts is serde_json's f64_from_parts without float_roundtrip:
// significand times 10^exponent, in float64 steps, failing where a step
// reaches infinity.
func f64FromParts(significand uint64, exponent int32) bool {
	f := float64(significand) // rounds to nearest even, as Rust's `as f64`
	for {
		// POW10.get(exponent.wrapping_abs() as usize): MinInt32 stays
		// negative, and is out of the table.
		if abs := int64(exponent); exponent != math.MinInt32 && max(abs, -abs) < int64(len(pow10)) {
			if exponent >= 0 {
				return !math.IsInf(f*pow10[max(abs, -abs)], 0)
			}
			return true // f / pow: never infinite
		}
		if f == 0 {
			return true
		}
		if exponent >= 0 {
			return false
		}
		f /= 1e308
		exponent += 308
	}
}

// overflowsU64 is serde_json's overflow!(a * 10 + b, u64::MAX).
func overflowsU64(a, b uint64) bool {
	const c = math.MaxUint64
	return a >= c/10 && (a > c/10 || b > c%10)
}

// overflowsI32 is serde_json's overflow!(a * 10 + b, i32::MAX).
func overflowsI32(a, b int32) bool {
	const c = math.MaxInt32
	return a >= c/10 && (a > c/10 || b > c%10)
}

// saturatingAdd is Rust's i32::saturating_add.
func saturatingAdd(a, b int32) int32 {
	s := int64(a) + int64(b)
	return int32(max(math.MinInt32, min(math.MaxInt32, s)))
}

// isDigit reports whether c is an ASCII digit.
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// hasExponent reports whether num has an exponent.
func hasExponent(num []byte) bool {
	for _, c := range num {
		if c == 'e' || c == 'E' {
			return true
		}
	}
	return false
}
