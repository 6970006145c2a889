package translate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pcre"
)

// This file holds the checks every user string passes before it reaches the
// model. The render step quotes values, but it never has to decide whether a
// value is acceptable: that is decided here, once.

// maxRegexLength bounds user regular expressions: nginx compiles each one at
// load time, and a megabyte of regex in a config is never intended.
const maxRegexLength = 1024

// maxValueLength bounds header values, paths and similar strings.
const maxValueLength = 4096

// checkHeaderName accepts an RFC 7230 token (the HTTP field-name syntax).
func checkHeaderName(field, name string) error {
	if name == "" {
		return fmt.Errorf("%s: must not be empty", field)
	}
	if len(name) > 256 {
		return fmt.Errorf("%s: longer than 256 characters", field)
	}
	for i := 0; i < len(name); i++ {
		if !isTokenChar(name[i]) {
			return fmt.Errorf("%s: %q is not a valid header name (RFC 7230 token)", field, name)
		}
	}
	return nil
}

// isTokenChar reports whether c is an RFC 7230 tchar.
func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// checkNoControl refuses control characters (everything below 0x20 except
// tab, and DEL), which could end a header line or an nginx directive.
func checkNoControl(field, value string) error {
	if len(value) > maxValueLength {
		return fmt.Errorf("%s: longer than %d characters", field, maxValueLength)
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("%s: control character %q is not allowed", field, c)
		}
	}
	return nil
}

// checkPath accepts an absolute URI path: it starts with "/" and holds only
// RFC 3986 path characters (unreserved, sub-delims, ":", "@", "/" and
// %-escapes). This excludes whitespace, control characters, quotes,
// backslashes and braces. Like the Gateway API CRD, it also refuses "//",
// "/./", "/../", a trailing "/." or "/..", an encoded "/" and "#", because
// nginx normalizes such paths before matching and they would never match.
func checkPath(field, p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%s: %q must start with \"/\"", field, p)
	}
	if len(p) > maxValueLength {
		return fmt.Errorf("%s: longer than %d characters", field, maxValueLength)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return fmt.Errorf("%s: %q has an invalid %%-escape", field, p)
			}
			continue
		}
		if !isPathChar(c) {
			return fmt.Errorf("%s: character %q is not allowed in a path", field, c)
		}
	}
	lower := strings.ToLower(p)
	for _, bad := range []string{"//", "/./", "/../", "%2f", "#"} {
		if strings.Contains(lower, bad) {
			return fmt.Errorf("%s: %q must not contain %q", field, p, bad)
		}
	}
	if strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		return fmt.Errorf("%s: %q must not end with \"/.\" or \"/..\"", field, p)
	}
	return nil
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// isPathChar reports whether c may appear unescaped in a URI path.
func isPathChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

// checkHostname accepts a lower-case RFC 1123 DNS name, with a leading "*."
// label when wildcard is true. IP addresses are refused (the Gateway API
// hostname fields do not take them).
func checkHostname(field, h string, wildcard bool) error {
	name := h
	if wildcard {
		name = strings.TrimPrefix(h, "*.")
	}
	if name == "" || len(h) > 253 {
		return fmt.Errorf("%s: %q is not a valid hostname", field, h)
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("%s: %q is an IP address, not a hostname", field, h)
	}
	for _, label := range strings.Split(name, ".") {
		if len(validation.IsDNS1123Label(label)) > 0 {
			if wildcard {
				return fmt.Errorf("%s: %q is not a valid hostname (RFC 1123, optional leading \"*.\")", field, h)
			}
			return fmt.Errorf("%s: %q is not a valid hostname (RFC 1123, no wildcard)", field, h)
		}
	}
	return nil
}

// checkRegex accepts a regular expression that Go's regexp package (RE2
// syntax) compiles and that holds no control characters. RE2 syntax is the
// dialect we accept: it is, for the constructs it has, a subset of the PCRE
// that nginx uses, so a pattern accepted here means the same thing in nginx.
// Backreferences and lookaround (PCRE only) are therefore refused.
func checkRegex(field, re string) error {
	if re == "" {
		return fmt.Errorf("%s: regular expression must not be empty", field)
	}
	if len(re) > maxRegexLength {
		return fmt.Errorf("%s: regular expression longer than %d characters", field, maxRegexLength)
	}
	if err := checkNoControl(field, re); err != nil {
		return err
	}
	if _, err := regexp.Compile(re); err != nil {
		return fmt.Errorf("%s: invalid regular expression (RE2 syntax): %v", field, err)
	}
	// nginx runs PCRE2: what it cannot run with the same meaning, or could
	// backtrack on without bound, is refused here (operator/pcre).
	if _, err := pcre.Translate(re); err != nil {
		return fmt.Errorf("%s: %v", field, err)
	}
	return nil
}

// checkSectionName accepts a Gateway API SectionName (listener and rule
// names): an RFC 1123 subdomain of at most 253 characters.
func checkSectionName(field, s string) error {
	if len(validation.IsDNS1123Subdomain(s)) > 0 {
		return fmt.Errorf("%s: %q is not a valid name (RFC 1123 subdomain)", field, s)
	}
	return nil
}

// safeName maps s to [a-z0-9_] for nginx identifiers and file names.
func safeName(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// uniqueNames hands out names derived from a base, adding "_2", "_3"… when
// two different keys map to the same safe base. Callers must ask in a
// deterministic order.
type uniqueNames struct {
	used map[string]bool
}

func (u *uniqueNames) take(base string) string {
	if u.used == nil {
		u.used = map[string]bool{}
	}
	name := base
	for i := 2; u.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	u.used[name] = true
	return name
}
