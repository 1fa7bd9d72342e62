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
	"slices"
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

// validate checks every member of v, which l describes, or only those
// called by one of the names in only, and returns a *FieldError for each one
// that breaks its rule, joined with errors.Join, in wire order, or nil.
func validate(l *layout, v values, only ...string) error {
	var errs []error
	for i, m := range l.members {
		if m.valid == nil || (only != nil && !slices.Contains(only, m.name)) {
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
	maxNameBytes     = 128  // daemon_name, binary_name
	maxIDBytes       = 256  // id, job_id
	maxStatusBytes   = 1024 // health_status
	maxURLBytes      = 2048 // base_url, health_url
	maxPathBytes     = 4095 // binary_path, target_path, install_path (PATH_MAX, 4096, counts the terminating NUL)
	maxElementBytes  = 255  // one element of a path (NAME_MAX)
	maxEndpointBytes = 256  // shutdown_endpoint
	maxIdentityBytes = 128  // process_identity
	maxDNSNameBytes  = 253  // a host name, without a trailing dot (RFC 1035 §2.3.4, as written in text)
	maxLabelBytes    = 63   // one label of a host name (RFC 1035 §2.3.4)
)

// The rules, one for each kind of member; the layouts name them.
var (
	// nameRule: daemon_name, a name that ends up in argv, file names and log
	// lines.
	nameRule = stringRule(func(s string) error { return checkName(s, "a name") })
	// binaryNameRule: binary_name, a name that is also a bare file name.
	binaryNameRule = stringRule(func(s string) error { return checkName(s, "a bare file name") })
	// idRule: id and job_id, identifiers.
	idRule = stringRule(func(s string) error { return checkText(s, maxIDBytes, identifier) })
	// healthStatusRule: health_status, free text.
	healthStatusRule = stringRule(func(s string) error { return checkText(s, maxStatusBytes, freeText) })
	// urlRule: health_url.
	urlRule = stringRule(func(s string) error { _, err := parseHTTPURL(s); return err })
	// baseURLRule: base_url, a URL that a client appends paths to.
	baseURLRule = stringRule(checkBaseURL)
	// sourcePathRule: binary_path of an InstallConfig, the file to copy.
	sourcePathRule = stringRule(func(s string) error { return checkPath(s, anyFile) })
	// targetDirRule: target_path, the directory to install into.
	targetDirRule = stringRule(func(s string) error { return checkPath(s, targetDir) })
	// installedPathRule: binary_path of an InstallResult, the file that an
	// install wrote.
	installedPathRule = stringRule(func(s string) error { return checkPath(s, fileInDir) })
	// sha256Rule: InstallResult's sha256.
	sha256Rule = stringRule(lowerHexSHA256)
)

// stringRule returns a rule that applies check to a string member, or to an
// optional one when it is present.
func stringRule(check func(string) error) rule {
	return func(dst any, _ message) error {
		s, ok, err := stringMember(dst)
		if err != nil || !ok {
			return err
		}
		return check(s)
	}
}

// stringMember returns the value of dst, a string member as values holds
// it, and whether it is present.
func stringMember(dst any) (string, bool, error) {
	switch p := dst.(type) {
	case *string:
		return *p, true, nil
	case *hiddenText:
		return p.text(), true, nil
	case **string:
		if *p == nil {
			return "", false, nil
		}
		return **p, true, nil
	case *optional[string]:
		return p.value, p.set, nil
	}
	return "", false, errUnsupportedType
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

// A textKind is what a string member holds, for checkText.
type textKind int

const (
	// identifier: a string that names something and is compared, matched
	// or used as a file name or URL: id, job_id, the names, the paths, the
	// URLs. What it shows must be all it holds.
	identifier textKind = iota
	// freeText: words for people, in any language: health_status.
	freeText
)

// writingFormat reports whether r is one of the format characters (Cf) that
// human writing needs, which free text keeps: the joiners that Persian, the
// Indic scripts and emoji sequences need (Unicode TR #31, §2.3 "Layout and
// Format Control Characters"), U+180E MONGOLIAN VOWEL SEPARATOR, which
// Mongolian spelling needs, and the prepended concatenation marks, the
// Arabic, Syriac and Kaithi number and abbreviation signs that are visible
// by definition (Unicode leaves them out of Default_Ignorable_Code_Point).
func writingFormat(r rune) bool {
	return r == '\u200c' || r == '\u200d' || r == '\u180e' || unicode.Is(unicode.Prepended_Concatenation_Mark, r)
}

// checkText: every string on the wire must be non-empty, at most max bytes
// long, valid UTF-8, and free of
//
//   - control characters: C0 (U+0000 to U+001F, NUL, tab and newline among
//     them), DEL (U+007F) and C1 (U+0080 to U+009F), which cut C strings and
//     command lines short (NUL), forge log lines (newline), rewrite a
//     terminal (ESC) or split an HTTP header (CR, LF);
//   - Unicode format characters (category Cf: the bidirectional controls
//     such as U+202E, zero-width characters, U+FEFF, tag characters) and
//     line and paragraph separators (U+2028, U+2029), which reorder, hide or
//     break text in logs, terminals and editors. Free text keeps the format
//     characters that human writing needs (writingFormat).
//
// An identifier must show all it holds. It must moreover hold no
// default-ignorable code point (the Unicode property
// Default_Ignorable_Code_Point: variation selectors, the Hangul fillers,
// U+034F and the rest, which display as nothing, so that two identifiers
// that look the same differ); it must not start or end with a blank
// character (isBlank), which shows as nothing there ("worker-1 " looks like
// "worker-1"); and it must hold a visible character, a letter, digit,
// punctuation or symbol (Unicode categories L, N, P, S) that is not blank:
// a value of spaces, combining marks or unassigned code points only looks
// empty.
func checkText(s string, max int, kind textKind) error {
	switch {
	case s == "":
		return errEmpty
	case len(s) > max:
		return tooLong(max, len(s))
	case !utf8.ValidString(s):
		return errInvalidUTF8
	}
	visible := false
	for i, r := range s {
		switch {
		case r == 0:
			return errNUL
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return fmt.Errorf("must not contain a control character, got %U at byte %d", r, i)
		case r < utf8.RuneSelf:
			// Printable ASCII: the common case, and none of what follows.
			visible = visible || r != ' '
			continue
		case kind == freeText && writingFormat(r):
		case unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			return fmt.Errorf("must not contain a Unicode format character or line separator, got %U at byte %d", r, i)
		case kind == identifier && defaultIgnorable(r):
			return fmt.Errorf("must not contain a default-ignorable code point, which displays as nothing, got %U at byte %d", r, i)
		}
		visible = visible || (unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !isBlank(r))
	}
	if kind != identifier {
		return nil
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	switch {
	case !visible:
		return fmt.Errorf("must hold a visible character (a letter, digit, punctuation or symbol), not only white space, blank characters or marks, got %s", quote(s))
	case isBlank(first) || isBlank(last):
		return fmt.Errorf("must not start or end with white space or a blank character, which shows as nothing there, got %s", quote(s))
	}
	return nil
}

// defaultIgnorable reports whether r has the Unicode property
// Default_Ignorable_Code_Point, derived as DerivedCoreProperties.txt
// derives it:
//
//	Other_Default_Ignorable_Code_Point + Cf + Variation_Selector
//	- White_Space - FFF9..FFFB - 13430..1343F - Prepended_Concatenation_Mark
func defaultIgnorable(r rune) bool {
	if !unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) {
		return false
	}
	return !unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark) &&
		!(0xfff9 <= r && r <= 0xfffb) && !(0x13430 <= r && r <= 0x1343f)
}

// isBlank reports whether r shows as nothing but space: White_Space, or one
// of the characters whose glyph is empty by design though their category
// says otherwise: U+2800 BRAILLE PATTERN BLANK, U+1D159 MUSICAL SYMBOL NULL
// NOTEHEAD, and the fillers U+115F, U+1160, U+3164, U+FFA0 (Hangul) and
// U+16FE4 (Khitan).
func isBlank(r rune) bool {
	switch r {
	case '\u2800', '\U0001D159', '\u115f', '\u1160', '\u3164', '\uffa0', '\U00016FE4':
		return true
	}
	return unicode.Is(unicode.White_Space, r)
}

// tooLong returns the error for a string of n bytes where max is the most.
func tooLong(max, n int) error {
	return fmt.Errorf("must be at most %d bytes long, got %d bytes", max, n)
}

// checkName: a name of 1 to 128 bytes, matching
// ^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$, that does not end in '.' and is not
// a Windows device name. It keeps out a leading - (an option, once the name
// is an argument), a leading . (".", ".." and hidden files), spaces, path
// separators and anything outside ASCII; @ and + serve systemd template
// instances (llm-worker-rbee@gpu0) and build variants (rbee-hive+cuda12).
// what says what the name is for, for the error.
func checkName(s, what string) error {
	if s == "" {
		return errEmpty
	}
	ok := len(s) <= maxNameBytes && isAlnum(s[0])
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = isAlnum(c) || strings.IndexByte("._-@+", c) >= 0
	}
	switch {
	case !ok:
		return fmt.Errorf("must be %s of 1 to 128 characters from A-Z a-z 0-9 . _ - @ +, starting with a letter or digit, got %s", what, quote(s))
	case s[len(s)-1] == '.':
		return fmt.Errorf("must not end in '.', which Windows drops from a file name, got %s", quote(s))
	case windowsDevice(s):
		return fmt.Errorf("must not be a Windows device name (CON, PRN, AUX, NUL, COM0 to COM9, LPT0 to LPT9, in any case, with or without an extension), which Windows opens as the device, got %s", quote(s))
	}
	return nil
}

// windowsDevice reports whether name, a file name of ASCII letters, digits
// and . _ - @ +, is one that Windows opens as a device: CON, PRN, AUX, NUL,
// COM0 to COM9 or LPT0 to LPT9, in any case, alone or before an extension
// ("NUL.exe", "com1.tar.gz"). The list is Microsoft's, in "Naming Files,
// Paths, and Namespaces"; the superscript forms (COM¹) and CONIN$ are not
// names here.
func windowsDevice(name string) bool {
	base, _, _ := strings.Cut(name, ".")
	switch {
	case len(base) == 3:
		for _, dev := range [...]string{"CON", "PRN", "AUX", "NUL"} {
			if strings.EqualFold(base, dev) {
				return true
			}
		}
	case len(base) == 4 && isDigit(base[3]):
		return strings.EqualFold(base[:3], "COM") || strings.EqualFold(base[:3], "LPT")
	}
	return false
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// A pathKind is what a path member names, for checkPath.
type pathKind int

const (
	// anyFile: a file anywhere outside the kernel's file systems
	// (InstallConfig's binary_path).
	anyFile pathKind = iota
	// fileInDir: a file that an install writes or an uninstall removes,
	// which must be inside a directory, never a top-level entry
	// (InstallResult's binary_path, install_path).
	fileInDir
	// targetDir: a directory that an install writes a file into; it may
	// end in one '/', and must not be the root directory (target_path).
	targetDir
)

// kernelDirs are the top-level directories where the kernel's virtual file
// systems are mounted (FHS 3.0: /proc, procfs; /sys, sysfs; /dev, devtmpfs):
// they hold no binaries, and reading or writing their files has effects
// (/dev/zero never ends, /proc/self/environ holds the reader's secrets,
// /proc/sys changes the kernel).
var kernelDirs = [...]string{"proc", "sys", "dev"}

// checkPath: an absolute, clean, slash-separated path (path.IsAbs holds and
// path.Clean changes nothing), an identifier of at most 4095 bytes (PATH_MAX
// is 4096 with the terminating NUL: the kernel refuses a longer path with
// ENAMETOOLONG), in which
//
//   - no .. climbs out of the directory the path appears to name;
//   - no element is longer than 255 bytes (NAME_MAX: no Linux file system
//     holds a longer name);
//   - no backslash, which a Windows receiver reads as a separator:
//     "/opt/rbee/..\..\..\Windows\System32" is clean as a POSIX path, and
//     climbs out on Windows;
//   - nothing is under /proc, /sys or /dev (kernelDirs), whatever the case
//     of its letters, so that a file system that folds case does not let
//     "/DEV/zero" through.
//
// kind adds what the path names: see pathKind.
func checkPath(s string, kind pathKind) error {
	if err := checkText(s, maxPathBytes, identifier); err != nil {
		return err
	}
	if strings.IndexByte(s, '\\') >= 0 {
		return fmt.Errorf(`must not contain a backslash, which Windows reads as a path separator, got %s`, quote(s))
	}
	p := s
	if kind == targetDir && len(p) > 1 {
		p = strings.TrimSuffix(p, "/") // "/usr/local/bin/", as people type it
	}
	if !path.IsAbs(p) || path.Clean(p) != p {
		what := "no doubled or trailing /"
		if kind == targetDir {
			what = "no doubled /, at most one trailing /"
		}
		return fmt.Errorf("must be an absolute, clean path (no . or .. element, %s), got %s", what, quote(s))
	}
	if p == "/" {
		if kind == anyFile {
			return fmt.Errorf(`must name a file, not the root directory "/"`)
		}
		return fmt.Errorf(`must not be the root directory "/": the binary would be a top-level entry`)
	}
	first, rest, inDir := strings.Cut(p[1:], "/")
	for _, dir := range kernelDirs {
		if strings.EqualFold(first, dir) {
			return fmt.Errorf("must not be under /proc, /sys or /dev, the kernel's own file systems, got %s", quote(s))
		}
	}
	if kind == fileInDir && !inDir {
		return fmt.Errorf("must be a file inside a directory, not a top-level entry such as /usr or /home, got %s", quote(s))
	}
	for elem := range strings.SplitSeq(first+"/"+rest, "/") {
		if len(elem) > maxElementBytes {
			return fmt.Errorf("must have no element longer than %d bytes (NAME_MAX), got one of %d bytes", maxElementBytes, len(elem))
		}
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
// be a path to a file inside a directory (checkPath, fileInDir) whose last
// element is daemon_name, or daemon_name with ".exe": "/", "/usr",
// "/etc/passwd" and "/dev/sda" name something else.
func installPathRule(dst any, msg message) error {
	p, ok := dst.(*string)
	if !ok {
		return errUnsupportedType
	}
	if err := checkPath(*p, fileInDir); err != nil {
		return err
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
// host, an identifier of at most 2048 bytes, without user information,
// without a backslash (which a WHATWG parser reads as "/", and Go's does
// not) and without a space (which a WHATWG parser strips from either end,
// and Go's keeps: "http://h/v1/shutdown " is /v1/shutdown to a browser). The host is a DNS name, an IPv4 address or an IPv6 address that
// names a peer (see authority). The URL is quoted in errors with its user
// information hidden.
func parseHTTPURL(s string) (*url.URL, error) {
	if err := checkText(s, maxURLBytes, identifier); err != nil {
		return nil, err
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Host == "" {
		return nil, fmt.Errorf("must be an absolute http or https URL with a host name, got %s", quote(redactUserinfo(s)))
	}
	if u.User != nil {
		return nil, fmt.Errorf("must not contain user information before the host (user@ or user:password@): it hides the real host, and puts credentials in logs; got %s", quote(redactUserinfo(s)))
	}
	if strings.IndexByte(s, '\\') >= 0 {
		return nil, fmt.Errorf(`must not contain a backslash, which a browser reads as "/" and Go does not, got %s`, quote(s))
	}
	if strings.IndexByte(s, ' ') >= 0 {
		return nil, fmt.Errorf(`must not contain a space (a URL writes it %%20): a browser drops one at either end, and Go keeps it, got %s`, quote(s))
	}
	if err := authority(rawAuthority(s)); err != nil {
		return nil, fmt.Errorf("%w, got %s", err, quote(s))
	}
	return u, nil
}

// checkBaseURL: base_url is an http URL (parseHTTPURL) that a client
// appends paths to, so nothing in it may move what is appended: no query or
// fragment ("http://h?x=" turns "/v1/shutdown" into a query), and no "." or
// ".." segment, in any form that a WHATWG parser reads as one (%2e, ".%2E").
func checkBaseURL(s string) error {
	u, err := parseHTTPURL(s)
	if err != nil {
		return err
	}
	if strings.ContainsAny(s, "?#") {
		return fmt.Errorf("must have no query or fragment: what a client appends to the base URL would land in it, got %s", quote(s))
	}
	for seg := range strings.SplitSeq(u.EscapedPath(), "/") {
		if dotSegment(seg) {
			return fmt.Errorf("must have no . or .. segment: what a client appends to the base URL would land elsewhere, got %s", quote(s))
		}
	}
	return nil
}

// dotSegment reports whether seg, one segment of a URL's path as written,
// is what the WHATWG URL standard calls a single-dot or double-dot segment:
// ".", "..", or either with a dot written as %2e (in any case).
func dotSegment(seg string) bool {
	rest := strings.ToLower(seg)
	dots := 0
	for rest != "" && dots < 3 {
		switch {
		case rest[0] == '.':
			rest = rest[1:]
		case strings.HasPrefix(rest, "%2e"):
			rest = rest[3:]
		default:
			return false
		}
		dots++
	}
	return rest == "" && (dots == 1 || dots == 2)
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

// redacted stands for the user information of a URL in what this package
// prints, as "xxxxx" stands for a password in url.URL.Redacted.
const redacted = "xxxxx"

// redactUserinfo returns s, a URL, with the user information in its
// authority, if it has any, replaced by "xxxxx": "http://u:pw@h/x" becomes
// "http://xxxxx@h/x". It reads the authority as a WHATWG URL parser (a
// browser, Node, Rust's url crate) does for http: after the scheme's colon
// (if s has a scheme) and any run of / or \, up to the next / \ ? or #, so
// that "http:///u:pw@h", "http:u:pw@h" and "//u:pw@h" lose their password
// too. A password may hold / ? or # (a base64 one holds /), which ends that
// authority early: when s does not parse as a URL, everything up to its
// last @ is taken as user information. It works on text that url.Parse
// rejects, so that no error and no log line repeats a password.
func redactUserinfo(s string) string {
	start := 0
	if colon := strings.IndexByte(s, ':'); colon > 0 && isScheme(s[:colon]) {
		start = colon + 1
	}
	for start < len(s) && (s[start] == '/' || s[start] == '\\') {
		start++
	}
	end := len(s)
	if i := strings.IndexAny(s[start:], "/\\?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		if strings.IndexByte(s[end:], '@') < 0 {
			return s // no @ at all: the common case
		}
		if _, err := url.Parse(s); err == nil {
			return s // an @ in a path, query or fragment is not user information
		}
		at = strings.LastIndexByte(s[start:], '@')
	}
	return s[:start] + redacted + s[start+at:]
}

// isScheme reports whether s is a URL scheme (RFC 3986 §3.1): a letter,
// then letters, digits, + - and .
func isScheme(s string) bool {
	if s == "" || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// authority checks a URL's host and port, as written. The host is one of
// the three forms of the WHATWG URL standard's host parser, each as its own
// standard writes it, naming a peer:
//
//   - an IPv6 address in brackets, but no IPv4 address in IPv6 dress: no
//     dotted quad inside the brackets, and not IPv4-mapped, IPv4-translated
//     or NAT64 (ipv4EmbeddingPrefixes) nor IPv4-compatible (::/96 but for
//     ::1, deprecated by RFC 4291 §2.5.5.1). A zone, after an escaped %
//     ([fe80::1%25eth0]), is a plain interface name, on a link-local
//     address (fe80::/10) only: no other address has a zone;
//   - an IPv4 address, written as four decimal numbers: the WHATWG parser
//     reads a host whose last label is a number as an IPv4 address
//     (0177.0.0.1, 0x7f.1, 2130706433 and 127.1 are 127.0.0.1 to a
//     browser), and Go reads it as a name;
//   - a DNS name of ASCII letters, digits, - and _ (the international
//     form xn--, which this package does not decode): labels of 1 to 63
//     bytes that neither start nor end with -, 253 bytes in all, and one
//     trailing dot at most (RFC 1035 §2.3.1 and §2.3.4, RFC 1123 §2.1).
//     _ is kept, for the names of Docker services and the like.
//
// No address may be one that no peer has (see peerAddress). A port, when
// there is a colon, is a decimal number in 1..65535 without leading zeros,
// or nothing: an empty port is the scheme's default (RFC 3986 §3.2.3).
func authority(auth string) error {
	host, port := auth, ""
	if strings.HasPrefix(auth, "[") {
		end := strings.IndexByte(auth, ']')
		if end < 0 {
			return errors.New("must have a closing ] after an IPv6 host")
		}
		host, port = auth[:end+1], auth[end+1:]
		if err := ipv6Host(host[1:end]); err != nil {
			return err
		}
	} else {
		if i := strings.LastIndexByte(auth, ':'); i >= 0 {
			host, port = auth[:i], auth[i:]
		}
		if err := nameOrIPv4Host(host); err != nil {
			return err
		}
	}
	if port == "" || port == ":" {
		return nil
	}
	digits := port[1:] // after the ':'
	n, err := strconv.ParseUint(digits, 10, 16)
	if port[0] != ':' || err != nil || n == 0 || digits[0] == '0' {
		return errors.New("must have a port, when there is a colon, that is a decimal number in 1..65535")
	}
	return nil
}

// ipv6Host checks host, what a URL holds between [ and ] (see authority).
func ipv6Host(host string) error {
	ip, zone, hasZone := strings.Cut(host, "%25")
	addr, err := netip.ParseAddr(ip)
	switch {
	case err != nil || !addr.Is6() || addr.Zone() != "" || (hasZone && !isZone(zone)):
		return errors.New("must have an IPv6 address inside [ ], with a zone, if any, of A-Z a-z 0-9 . _ ~ - after %25")
	case hasZone && !addr.IsLinkLocalUnicast():
		return errors.New("must have a zone (%25) only on a link-local IPv6 address, fe80::/10: no other address has one")
	case strings.IndexByte(ip, '.') >= 0 || ipv4Embedded(addr):
		return errors.New("must not have an IPv4 address in IPv6 dress (a dotted quad inside [ ], IPv4-mapped ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, IPv4-compatible ::/96): write an IPv4 address as four decimal numbers")
	}
	return peerAddress(addr)
}

// ipv4EmbeddingPrefixes are the IPv6 prefixes whose addresses carry an IPv4
// address in their last 32 bits, and stand for it (IANA's special-purpose
// address registry): IPv4-mapped (RFC 4291 §2.5.5.2), IPv4-translated (RFC
// 6145, SIIT), and the NAT64 prefixes (RFC 6052, RFC 8215).
var ipv4EmbeddingPrefixes = [...]netip.Prefix{
	netip.MustParsePrefix("::ffff:0:0/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// ipv4Embedded reports whether addr, an IPv6 address, is an IPv4 address
// in IPv6 dress: in one of ipv4EmbeddingPrefixes, or IPv4-compatible.
func ipv4Embedded(addr netip.Addr) bool {
	for _, p := range ipv4EmbeddingPrefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return ipv4Compatible(addr)
}

// ipv4Compatible reports whether addr, an IPv6 address, is in ::/96 but is
// neither the unspecified address nor the loopback address ::1: an
// "IPv4-compatible IPv6 address" of RFC 4291 §2.5.5.1, which carries an
// IPv4 address in its last 32 bits.
func ipv4Compatible(addr netip.Addr) bool {
	b := addr.As16()
	for _, c := range b[:12] {
		if c != 0 {
			return false
		}
	}
	return addr != netip.IPv6Unspecified() && addr != netip.IPv6Loopback()
}

// peerAddress returns an error for an address that no peer has: the
// unspecified address (0.0.0.0/8 and ::, "this host", which RFC 6890 marks
// as no destination, and which Linux routes to the local host), the limited
// broadcast address 255.255.255.255 (RFC 919), and multicast addresses
// (224.0.0.0/4, ff00::/8).
func peerAddress(addr netip.Addr) error {
	switch {
	case addr.IsUnspecified() || (addr.Is4() && addr.As4()[0] == 0):
		return errors.New("must not have an unspecified address (0.0.0.0/8, ::): it names no peer")
	case addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errors.New("must not have the broadcast address 255.255.255.255: it names no peer")
	case addr.IsMulticast():
		return errors.New("must not have a multicast address (224.0.0.0/4, ff00::/8): it names a group, not a peer")
	}
	return nil
}

// nameOrIPv4Host checks host, a URL's host that is not in brackets (see
// authority).
func nameOrIPv4Host(host string) error {
	if host == "" {
		return errors.New("must have a host name")
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return errors.New("must have a host of ASCII letters, digits, . - and _ only, or an IPv6 address in [ ] (an international domain name in its xn-- form)")
		}
	}
	if endsInNumber(host) {
		addr, err := netip.ParseAddr(host)
		if err != nil || !addr.Is4() || addr.String() != host {
			return fmt.Errorf("must have an IPv4 address written as four decimal numbers, such as 127.0.0.1: a browser reads %q as an IPv4 address in another form (octal, hex, or fewer parts), Go as a host name", host)
		}
		return peerAddress(addr)
	}
	name := strings.TrimSuffix(host, ".")
	if len(name) > maxDNSNameBytes {
		return fmt.Errorf("must have a host name of at most %d bytes, got %d bytes", maxDNSNameBytes, len(name))
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > maxLabelBytes || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("must have a host name whose labels (between dots) are 1 to %d bytes long and neither start nor end with -, got %q", maxLabelBytes, host)
		}
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

// endpointRule: shutdown_endpoint, when present (see checkEndpoint). It is
// compared with health_url's path when health_url is valid; an invalid
// health_url is reported on its own.
func endpointRule(dst any, msg message) error {
	endpoint, ok, err := stringMember(dst)
	if err != nil || !ok {
		return err
	}
	var health *url.URL
	if s, _ := msg.member("health_url").(*string); s != nil {
		health, _ = parseHTTPURL(*s)
	}
	return checkEndpoint(endpoint, health)
}

// checkEndpoint: shutdown_endpoint, a bare absolute path that is resolved
// against the daemon's own host. At most 256 bytes of A-Z a-z 0-9 - . _ ~ /,
// with exactly one leading / and no . or .. segment: no scheme, host, query,
// fragment, backslash, and no percent-escape, which would let "/%2fevil.example/x"
// become a request target "//evil.example/x" that names another host.
// It must not be "/", nor, when health is not nil, the path of health, the
// daemon's health_url, as a server reads it (after percent-decoding and
// path.Clean: dot segments, doubled and trailing slashes removed): every
// health check would then ask the daemon to stop.
func checkEndpoint(s string, health *url.URL) error {
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
	switch {
	case !ok:
		return fmt.Errorf("must be a bare absolute path such as \"/v1/shutdown\", of A-Z a-z 0-9 - . _ ~ / only, with one leading / and no . or .. segment; got %s", quote(s))
	case s == "/":
		return errors.New(`must not be "/", the root of every path the daemon serves`)
	case health != nil && path.Clean(s) == path.Clean("/"+health.Path):
		return fmt.Errorf("must not be the path of health_url, %s: every health check would ask the daemon to stop", quote(health.EscapedPath()))
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

// identityRule: process_identity, when present, is a token of 1 to 128
// bytes (checkIdentity), and comes with the pid whose process it names.
func identityRule(dst any, msg message) error {
	p, ok := dst.(*optional[string])
	if !ok {
		return errUnsupportedType
	}
	if !p.set {
		return nil
	}
	if err := checkIdentity(p.value); err != nil {
		return err
	}
	if pid, _ := msg.member("pid").(*optional[uint32]); pid == nil || !pid.set {
		return errors.New("must come with the pid of the process it names, and the handle has no pid")
	}
	return nil
}

// checkIdentity: a process identity is <os>:<rest>, 1 to 128 bytes of
// printable ASCII without spaces (U+0021 to U+007E), where <os> is a
// lower-case name, [a-z][a-z0-9]*, and <rest> is not empty. Where <os> is
// "linux", the token is exactly linux:<boot_id>:<starttime>, as the kernel
// writes its parts (see DaemonHandle): a token of any other form can never
// equal a live process's, and only hides a mistake. Other systems' tokens
// are opaque here.
func checkIdentity(id string) error {
	good := id != "" && len(id) <= maxIdentityBytes
	for i := 0; good && i < len(id); i++ {
		good = id[i] >= 0x21 && id[i] <= 0x7e
	}
	if !good {
		return fmt.Errorf("must be 1 to 128 bytes of printable ASCII without spaces, got %s", quote(id))
	}
	system, rest, _ := strings.Cut(id, ":")
	good = rest != "" && system != "" && 'a' <= system[0] && system[0] <= 'z'
	for i := 1; good && i < len(system); i++ {
		good = 'a' <= system[i] && system[i] <= 'z' || isDigit(system[i])
	}
	if !good {
		return fmt.Errorf("must be <os>:<token>, <os> a lower-case name such as linux, got %s", quote(id))
	}
	if system != "linux" {
		return nil
	}
	bootID, start, _ := strings.Cut(rest, ":")
	if !isBootID(bootID) || !isStartTime(start) {
		return fmt.Errorf("must be linux:<boot_id>:<starttime>, boot_id a lower-case UUID as /proc/sys/kernel/random/boot_id holds it and starttime a decimal number of clock ticks without leading zeros, got %s", quote(id))
	}
	return nil
}

// isBootID reports whether s is a UUID as the kernel writes a boot_id
// (random(4), "%pU"): 8-4-4-4-12 lower-case hex digits, of version 4 and
// the RFC 4122 variant, since the kernel makes it with
// generate_random_uuid, which sets both: the 13th digit is 4, the 17th one
// of 8 9 a b.
func isBootID(s string) bool {
	if len(s) != 36 || s[14] != '4' || strings.IndexByte("89ab", s[19]) < 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isDigit(c) && !('a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// isStartTime reports whether s is field 22 of /proc/<pid>/stat as the
// kernel writes it (proc(5), an unsigned long long in %llu): a decimal
// number without leading zeros that fits in 64 bits.
func isStartTime(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	_, ok := digits([]byte(s))
	return ok
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
