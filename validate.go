package daemoncontract

// Validate's rules. Decoding proves only that a message has the right shape;
// these rules keep a well-formed message from turning into a dangerous
// action: kill(0), kill(1) or kill(-1), a path that escapes its directory, a
// request to another host, a name that turns into a command-line option, a
// control character in a log line. Each rule is attached to its member in
// the type's layout, and validate walks a layout as the codec does.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// A rule checks one member's value for Validate. It gets the pointer that
// values holds for the member, and the whole message for the few rules that
// relate two members. It returns why the value breaks the rule, in words that
// follow "must": "must be ...", "must not ...".
type rule func(dst any, msg message) error

// message is a value bound to its layout, as a rule sees it.
type message struct {
	l *layout
	v values
}

// member returns the pointer that values holds for the member called name.
func (m message) member(name string) any { return m.v[m.l.index([]byte(name))] }

// validate checks every member of v, which l describes, and returns a
// *FieldError for each one that breaks its rule, joined with errors.Join, in
// wire order, or nil.
func validate(l *layout, v values) error {
	var errs []error
	for i, m := range l.members {
		if m.valid == nil {
			continue
		}
		if err := m.valid(v[i], message{l, v}); err != nil {
			errs = append(errs, l.invalid(m.name, err))
		}
	}
	return errors.Join(errs...)
}

// invalid returns the *FieldError for the member called name breaking a rule
// of Validate: err says why.
func (l *layout) invalid(name string, err error) *FieldError {
	return &FieldError{Type: l.typ, Field: name, Err: withKind(ErrInvalidValue, err)}
}

// Bounds of Validate's rules.
const (
	// minPID and maxPID bound the process IDs that Validate accepts. kill(2)
	// reads 0 as the caller's own process group; 1 is init, which no tool
	// started, and which ends the container when it is signalled inside one;
	// a uint32 above the largest pid_t becomes a negative pid_t, a process
	// group, and 4294967295 becomes -1, every process the caller may signal.
	minPID = 2
	maxPID = math.MaxInt32

	// maxTimeoutSecs is the largest graceful_timeout_secs that Validate
	// accepts: the most whole seconds a time.Duration holds, 9223372036.
	maxTimeoutSecs = uint64(math.MaxInt64 / int64(time.Second))

	// Length caps, in bytes.
	maxNameBytes     = 64   // daemon_name, binary_name
	maxIDBytes       = 256  // id, job_id
	maxStatusBytes   = 1024 // health_status
	maxURLBytes      = 2048 // base_url, health_url
	maxPathBytes     = 4096 // binary_path, target_path, install_path
	maxEndpointBytes = 256  // shutdown_endpoint
	maxIdentityBytes = 128  // process_identity
)

// The rules, one for each kind of member; the layouts name them.
var (
	// nameRule: daemon_name, a name that ends up in argv, file names and log
	// lines.
	nameRule = stringRule(func(s string) error { return checkName(s, "a name") })
	// binaryNameRule: binary_name, a name that is also a bare file name.
	binaryNameRule = stringRule(func(s string) error { return checkName(s, "a bare file name") })
	// idRule: id and job_id.
	idRule = stringRule(func(s string) error { return checkText(s, maxIDBytes) })
	// healthStatusRule: health_status.
	healthStatusRule = stringRule(func(s string) error { return checkText(s, maxStatusBytes) })
	// urlRule: base_url and health_url.
	urlRule = stringRule(func(s string) error { _, err := parseHTTPURL(s); return err })
	// pathRule: binary_path and target_path.
	pathRule = stringRule(absolutePath)
	// endpointRule: shutdown_endpoint.
	endpointRule = stringRule(endpointPath)
	// sha256Rule: InstallResult's sha256.
	sha256Rule = stringRule(lowerHexSHA256)
)

// stringRule returns a rule that applies check to a string member, or to an
// optional one when it is present.
func stringRule(check func(string) error) rule {
	return func(dst any, _ message) error {
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

// maxQuoted bounds how much of a bad value an error message quotes.
const maxQuoted = 64

// quote returns s quoted for an error message, cut short if long.
func quote(s string) string {
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "..."
	}
	return strconv.Quote(s)
}

var (
	errEmpty = errors.New("must not be empty")
	errNUL   = errors.New("must not contain a NUL byte")
)

// checkText: every string on the wire must be non-empty, at most max bytes
// long, valid UTF-8, and free of control characters: C0 (U+0000 to U+001F,
// NUL, tab and newline among them), DEL (U+007F) and C1 (U+0080 to U+009F).
// They would cut C strings and command lines short (NUL), forge log lines
// (newline), rewrite a terminal (ESC) or split an HTTP header (CR, LF). Nor
// may it hold a Unicode format character (category Cf: the bidirectional
// controls such as U+202E, zero-width characters, U+FEFF) or a line or
// paragraph separator (U+2028, U+2029), which reorder, hide or break text
// in logs, terminals and editors.
func checkText(s string, max int) error {
	switch {
	case s == "":
		return errEmpty
	case len(s) > max:
		return tooLong(max, len(s))
	case !utf8.ValidString(s):
		return errInvalidUTF8
	}
	for i, r := range s {
		switch {
		case r == 0:
			return errNUL
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return fmt.Errorf("must not contain a control character, got %U at byte %d", r, i)
		case r >= utf8.RuneSelf && unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			return fmt.Errorf("must not contain a Unicode format character or line separator, got %U at byte %d", r, i)
		}
	}
	return nil
}

// tooLong returns the error for a string of n bytes where max is the most.
func tooLong(max, n int) error {
	return fmt.Errorf("must be at most %d bytes long, got %d bytes", max, n)
}

// checkName: a name of 1 to 64 bytes, matching ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
// It keeps out a leading - (an option, once the name is an argument), a
// leading . (".", ".." and hidden files), spaces, path separators and
// anything outside ASCII. what says what the name is for, for the error.
func checkName(s, what string) error {
	if s == "" {
		return errEmpty
	}
	ok := len(s) <= maxNameBytes && isAlnum(s[0])
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = isAlnum(c) || c == '.' || c == '_' || c == '-'
	}
	if !ok {
		return fmt.Errorf("must be %s of 1 to 64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit, got %s", what, quote(s))
	}
	return nil
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// absolutePath: an absolute, clean slash-separated path, in which no ..
// climbs out of the directory it appears to name.
func absolutePath(s string) error {
	if err := checkText(s, maxPathBytes); err != nil {
		return err
	}
	if !path.IsAbs(s) || path.Clean(s) != s {
		return fmt.Errorf("must be an absolute, clean path (no . or .. element, no doubled or trailing /), got %s", quote(s))
	}
	return nil
}

// sha256HexLen is the length of a SHA-256 (FIPS 180-4: 256 bits) in hex.
const sha256HexLen = 64

// lowerHexSHA256: a SHA-256 written as exactly 64 lower-case hex digits, as
// Go's hex.EncodeToString and sha256sum(1) write it. The hash is compared as
// a string, so one spelling only: upper case would name the same bytes and
// never compare equal.
func lowerHexSHA256(s string) error {
	ok := len(s) == sha256HexLen
	for i := 0; ok && i < len(s); i++ {
		ok = isDigit(s[i]) || 'a' <= s[i] && s[i] <= 'f'
	}
	if !ok {
		return fmt.Errorf("must be a SHA-256 of exactly 64 lower-case hex digits (0-9 a-f), got %s (%d bytes)", quote(s), len(s))
	}
	return nil
}

// installPathRule: install_path, the binary an uninstaller removes. It must
// be an absolute, clean path whose last element is daemon_name, or
// daemon_name with ".exe": "/", "/usr", "/etc/passwd" and "/dev/sda" name
// something else.
func installPathRule(dst any, msg message) error {
	p, ok := dst.(*string)
	if !ok {
		return errUnsupportedType
	}
	if err := absolutePath(*p); err != nil {
		return err
	}
	if *p == "/" {
		return errors.New(`must not be the root directory "/"`)
	}
	daemon, _ := msg.member("daemon_name").(*string)
	if daemon == nil || checkName(*daemon, "") != nil {
		// An invalid daemon_name is reported on its own; there is
		// nothing to compare with.
		return nil
	}
	if last := path.Base(*p); last != *daemon && last != *daemon+".exe" {
		return fmt.Errorf("must name the daemon's own binary, ending in /%s or /%s.exe (daemon_name), got %s", *daemon, *daemon, quote(*p))
	}
	return nil
}

// parseHTTPURL parses s, which must be an absolute http or https URL with a
// host, at most 2048 bytes long, and without user information. The host is
// ASCII: a DNS name or IPv4 address of A-Z a-z 0-9 . - _, or an IPv6 address
// in brackets; an international domain name is written in its xn-- form, and
// a percent-escape in the host is an error. A port, when there is a colon, is
// a decimal number in 1..65535 without leading zeros. The URL is quoted in
// errors without its user information.
func parseHTTPURL(s string) (*url.URL, error) {
	if err := checkText(s, maxURLBytes); err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("must be an absolute http or https URL with a host name, got %s", quote(withoutUserinfo(s)))
	}
	if u.User != nil {
		return nil, fmt.Errorf("must not contain user information before the host (user@ or user:password@): it hides the real host, and puts credentials in logs; got %s", quote(withoutUserinfo(s)))
	}
	if err := authority(rawAuthority(s)); err != nil {
		return nil, fmt.Errorf("%w, got %s", err, quote(s))
	}
	return u, nil
}

// rawAuthority returns the authority of s, an absolute URL with "//" after
// its scheme, as written: before any percent-decoding.
func rawAuthority(s string) string {
	_, rest, _ := strings.Cut(s, "//")
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// withoutUserinfo returns s, a URL, without the user information in its
// authority, if it has any: "http://u:pw@h/x" becomes "http://h/x". It reads
// the authority as a WHATWG URL parser (a browser, Node, Rust's url crate)
// does for http: after the scheme's colon and any run of / or \, up to the
// next / \ ? or #, so that "http:///u:pw@h" and "http:u:pw@h" lose their
// password too. It works on text that url.Parse rejects, so that no error
// and no log line repeats a password.
func withoutUserinfo(s string) string {
	colon := strings.IndexByte(s, ':')
	if colon < 0 {
		return s
	}
	start := colon + 1
	for start < len(s) && (s[start] == '/' || s[start] == '\\') {
		start++
	}
	end := len(s)
	if i := strings.IndexAny(s[start:], "/\\?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return s
	}
	return s[:start] + s[start+at+1:]
}

// authority checks a URL's host and port, as written (see parseHTTPURL).
func authority(auth string) error {
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		end := strings.IndexByte(auth, ']')
		if end < 0 {
			return errors.New("must have a closing ] after an IPv6 host")
		}
		host, port = auth[:end+1], auth[end+1:]
		// The zone of a link-local address follows an escaped %:
		// [fe80::1%25eth0]. It is an interface name: no other escape.
		ip, zone, hasZone := strings.Cut(host[1:end], "%25")
		addr, err := netip.ParseAddr(ip)
		if err != nil || !addr.Is6() || addr.Zone() != "" || (hasZone && !isZone(zone)) {
			return errors.New("must have an IPv6 address inside [ ], with a zone, if any, of A-Z a-z 0-9 . _ ~ - after %25")
		}
	} else {
		if i := strings.LastIndexByte(auth, ':'); i >= 0 {
			host, port = auth[:i], auth[i:]
		}
		if host == "" {
			return errors.New("must have a host name")
		}
		for i := 0; i < len(host); i++ {
			if c := host[i]; !isAlnum(c) && c != '.' && c != '-' && c != '_' {
				return errors.New("must have a host of ASCII letters, digits, . - and _ only, or an IPv6 address in [ ] (an international domain name in its xn-- form)")
			}
		}
		if endsInNumber(host) {
			if addr, err := netip.ParseAddr(host); err != nil || !addr.Is4() || addr.String() != host {
				return fmt.Errorf("must have an IPv4 address written as four decimal numbers, such as 127.0.0.1: a browser reads %q as an IPv4 address in another form (octal, hex, or fewer parts), Go as a host name", host)
			}
		}
	}
	if port == "" {
		return nil
	}
	digits := port[1:] // after the ':'
	n, err := strconv.ParseUint(digits, 10, 16)
	if port[0] != ':' || err != nil || n == 0 || digits[0] == '0' {
		return errors.New("must have a port, when there is a colon, that is a decimal number in 1..65535")
	}
	return nil
}

// isZone reports whether zone, an IPv6 zone, is a plain interface name.
func isZone(zone string) bool {
	if zone == "" {
		return false
	}
	for i := 0; i < len(zone); i++ {
		if c := zone[i]; !isAlnum(c) && strings.IndexByte("._~-", c) < 0 {
			return false
		}
	}
	return true
}

// endsInNumber is the WHATWG URL standard's test for a host that is an IPv4
// address: its last label (after a trailing dot, the one before) is a
// decimal number, or 0x and hex digits.
func endsInNumber(host string) bool {
	labels := strings.Split(host, ".")
	if len(labels) > 1 && labels[len(labels)-1] == "" {
		labels = labels[:len(labels)-1]
	}
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") || strings.HasPrefix(last, "0X") {
		_, err := strconv.ParseUint("0"+last[2:], 16, 64)
		return err == nil || errors.Is(err, strconv.ErrRange)
	}
	for i := 0; i < len(last); i++ {
		if !isDigit(last[i]) {
			return false
		}
	}
	return true
}

// endpointPath: shutdown_endpoint, a bare absolute path that is resolved
// against the daemon's own host. At most 256 bytes of A-Z a-z 0-9 - . _ ~ /,
// with exactly one leading / and no . or .. segment: no scheme, host, query,
// fragment, backslash, and no percent-escape, which would let "/%2fevil.example/x"
// become a request target "//evil.example/x" that names another host.
func endpointPath(s string) error {
	switch {
	case s == "":
		return errEmpty
	case len(s) > maxEndpointBytes:
		return tooLong(maxEndpointBytes, len(s))
	}
	ok := s[0] == '/' && !strings.HasPrefix(s, "//")
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = isAlnum(c) || strings.IndexByte("-._~/", c) >= 0
	}
	for seg := range strings.SplitSeq(s, "/") {
		ok = ok && seg != "." && seg != ".."
	}
	if !ok {
		return fmt.Errorf("must be a bare absolute path such as \"/v1/shutdown\", of A-Z a-z 0-9 - . _ ~ / only, with one leading / and no . or .. segment; got %s", quote(s))
	}
	return nil
}

// pidRule: a process ID that kill(2) reads as one process a tool may have
// started: 2..2147483647 (see minPID). An optional pid that is absent
// passes.
func pidRule(dst any, _ message) error {
	var pid uint32
	switch p := dst.(type) {
	case *uint32:
		pid = *p
	case *optional[uint32]:
		if !p.set {
			return nil
		}
		pid = p.value
	default:
		return errUnsupportedType
	}
	switch {
	case pid == 0:
		return errors.New("must be a process ID in 2..2147483647, got 0, which kill(2) reads as the caller's own process group")
	case pid == 1:
		return errors.New("must be a process ID in 2..2147483647, got 1, which is init: no tool started it, and signalling it inside a container ends the container")
	case pid > maxPID:
		return fmt.Errorf("must be a process ID in 2..2147483647, got %d, which kill(2) reads as a negative pid: a process group, or for 4294967295 every process", pid)
	}
	return nil
}

// identityRule: process_identity, when present, is 1 to 128 bytes of
// printable ASCII without spaces (U+0021 to U+007E), and comes with the pid
// whose process it names.
func identityRule(dst any, msg message) error {
	p, ok := dst.(*optional[string])
	if !ok {
		return errUnsupportedType
	}
	if !p.set {
		return nil
	}
	id := p.value
	good := id != "" && len(id) <= maxIdentityBytes
	for i := 0; good && i < len(id); i++ {
		good = id[i] >= 0x21 && id[i] <= 0x7e
	}
	if !good {
		return fmt.Errorf("must be 1 to 128 bytes of printable ASCII without spaces, got %s", quote(id))
	}
	if pid, _ := msg.member("pid").(*optional[uint32]); pid == nil || !pid.set {
		return errors.New("must come with the pid of the process it names, and the handle has no pid")
	}
	return nil
}

// timeoutRule: a number of seconds that fits a time.Duration.
func timeoutRule(dst any, _ message) error {
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
func epochRule(dst any, _ message) error {
	p, ok := dst.(*time.Time)
	if !ok {
		return errUnsupportedType
	}
	_, err := unixSeconds(*p)
	return err
}

// metadataRule: metadata, when present, must be valid JSON (one value, valid
// UTF-8, no repeated names) that a Rust peer can read (no number infinite as
// a 64-bit float, no nesting deeper than 126 levels). What its strings hold
// is the sender's business.
func metadataRule(dst any, _ message) error {
	p, ok := dst.(*json.RawMessage)
	if !ok {
		return errUnsupportedType
	}
	if len(*p) == 0 {
		return nil
	}
	return checkMetadata(*p, false)
}
