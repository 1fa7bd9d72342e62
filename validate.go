package daemoncontract

// Validate's rules. Decoding proves only that a message has the right shape;
// these rules keep a well-formed message from turning into a dangerous
// action: kill(0) or kill(-1), a path that escapes its directory, a request
// to another host. Each rule is attached to its member in the type's layout,
// and validate walks a layout as the codec does.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// A rule checks one member's value for Validate. It gets the pointer that
// values holds for the member, and returns why the value breaks the rule, in
// words that follow "must": "must be ...", "must not ...".
type rule func(dst any) error

// validate checks every member of v, which l describes, and returns a
// *FieldError for each one that breaks its rule, joined with errors.Join, or
// nil.
func validate(l *layout, v values) error {
	var errs []error
	for i, m := range l.members {
		if m.valid == nil {
			continue
		}
		if err := m.valid(v[i]); err != nil {
			errs = append(errs, &FieldError{Type: l.typ, Field: m.name, Err: err})
		}
	}
	return errors.Join(errs...)
}

// maxPID is the largest process ID that Validate accepts: the largest pid_t.
// kill(2) reads a larger uint32, converted to a pid_t, as a negative number:
// a process group, or for 4294967295 (-1) every process the caller may
// signal.
const maxPID = math.MaxInt32

// maxTimeoutSecs is the largest graceful_timeout_secs that Validate accepts:
// the most whole seconds a time.Duration holds, 9223372036.
const maxTimeoutSecs = uint64(math.MaxInt64 / int64(time.Second))

// maxQuoted bounds how much of a bad value an error message quotes.
const maxQuoted = 64

// quote returns s quoted for an error message, cut short if long.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

// stringRule returns a rule that applies check to a string member, or to an
// optional one when it is present.
func stringRule(check func(string) error) rule {
	return func(dst any) error {
		switch p := dst.(type) {
		case *string:
			return check(*p)
		case **string:
			if *p == nil {
				return nil
			}
			return check(**p)
		}
		return errUnsupportedType
	}
}

var (
	errEmpty = errors.New("must not be empty")
	errNUL   = errors.New("must not contain a NUL byte")
)

// nonEmptyText: every string on the wire must be non-empty and free of NUL,
// which C strings, file names and command lines would cut short.
func nonEmptyText(s string) error {
	if s == "" {
		return errEmpty
	}
	if strings.IndexByte(s, 0) >= 0 {
		return errNUL
	}
	return nil
}

// fileName: a bare file name, which cannot name a file outside the directory
// it is joined to.
func fileName(s string) error {
	if err := nonEmptyText(s); err != nil {
		return err
	}
	if strings.ContainsAny(s, `/\`) || s == "." || s == ".." {
		return fmt.Errorf("must be a bare file name, without / or \\ and not . or .., got %s", quote(s))
	}
	return nil
}

// absolutePath: an absolute, clean slash-separated path, in which no ..
// climbs out of the directory it appears to name.
func absolutePath(s string) error {
	if err := nonEmptyText(s); err != nil {
		return err
	}
	if !path.IsAbs(s) || path.Clean(s) != s {
		return fmt.Errorf("must be an absolute, clean path (no . or .. element, no doubled or trailing /), got %s", quote(s))
	}
	return nil
}

// removablePath: an absolute, clean path that is not the root directory,
// which an uninstaller could otherwise be asked to delete.
func removablePath(s string) error {
	if err := absolutePath(s); err != nil {
		return err
	}
	if s == "/" {
		return errors.New(`must not be the root directory "/"`)
	}
	return nil
}

// httpURL: an absolute http or https URL with a host name.
func httpURL(s string) error {
	_, err := parseHTTPURL(s)
	return err
}

// parseHTTPURL parses s, which must be an absolute http or https URL with a
// host name.
func parseHTTPURL(s string) (*url.URL, error) {
	if err := nonEmptyText(s); err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return nil, fmt.Errorf("must be an absolute http or https URL with a host name, got %s", quote(s))
	}
	return u, nil
}

// endpointPath: a bare absolute path, resolved against a daemon's own host:
// exactly one leading /, no scheme, host, query, fragment or backslash, and
// no . or .. segment, also once percent-decoded.
func endpointPath(s string) error {
	_, err := parseEndpointPath(s)
	return err
}

// parseEndpointPath parses s, which must be a bare absolute path.
func parseEndpointPath(s string) (*url.URL, error) {
	if err := nonEmptyText(s); err != nil {
		return nil, err
	}
	bad := func() (*url.URL, error) {
		return nil, fmt.Errorf("must be a bare absolute path such as \"/v1/shutdown\": one leading /, no scheme, host, query, fragment, backslash, . or .. segment; got %s", quote(s))
	}
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, `\?#`) {
		return bad()
	}
	u, err := url.Parse(s)
	if err != nil || strings.ContainsAny(u.Path, "\\\x00") {
		return bad()
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return bad()
		}
	}
	return u, nil
}

// processRule: a process ID that kill(2) reads as one process: 1..MaxPID.
// 0 would signal the caller's own process group; a larger value becomes a
// negative pid_t, a process group, and 4294967295 becomes -1, every process.
// An optional pid that is absent passes.
func processRule(dst any) error {
	var pid uint32
	switch p := dst.(type) {
	case *uint32:
		pid = *p
	case *optionalUint32:
		if !p.set {
			return nil
		}
		pid = p.value
	default:
		return errUnsupportedType
	}
	switch {
	case pid == 0:
		return errors.New("must be a process ID in 1..2147483647, got 0, which kill(2) reads as the caller's own process group")
	case pid > maxPID:
		return fmt.Errorf("must be a process ID in 1..2147483647, got %d, which kill(2) reads as a negative pid: a process group, or for 4294967295 every process", pid)
	}
	return nil
}

// timeoutRule: a number of seconds that fits a time.Duration.
func timeoutRule(dst any) error {
	p, ok := dst.(*uint64)
	if !ok {
		return errUnsupportedType
	}
	if *p > maxTimeoutSecs {
		return fmt.Errorf("must be at most 9223372036 seconds, the longest time.Duration, got %d", *p)
	}
	return nil
}

// epochRule: a time that the wire can carry, not before the Unix epoch.
func epochRule(dst any) error {
	p, ok := dst.(*time.Time)
	if !ok {
		return errUnsupportedType
	}
	_, err := unixSeconds(*p)
	return err
}

// jsonRule: metadata, when present, must be valid JSON: one value, valid
// UTF-8, no repeated names. What its strings hold is the sender's business.
func jsonRule(dst any) error {
	p, ok := dst.(*json.RawMessage)
	if !ok {
		return errUnsupportedType
	}
	if len(*p) == 0 {
		return nil
	}
	if err := revalidate(*p); err != nil {
		return metadataError(err)
	}
	return nil
}
