package render

import (
	"fmt"
	"strings"
	"unicode"
)

// The quoting layer. Every string that comes from the model reaches a file
// through one of the functions below, so nothing a user wrote can end a
// string, start a directive or open a block:
//
//   - quote: a literal nginx double-quoted string, for places nginx never
//     interpolates (location paths, server_name, map keys and regexes,
//     header names, file names).
//   - quoteValue / valueBuilder: a double-quoted string that nginx compiles
//     as a "complex value" (variables interpolated). nginx has no escape for
//     `$`, so a literal dollar becomes ${ngo_dollar}, a variable that a
//     `geo` block in http.conf defines as "$".
//   - comment: free text after `#`, with line breaks removed.

// dollarVar is the variable whose value is a literal "$".
const dollarVar = "${ngo_dollar}"

// escapeLiteral escapes s for the inside of an nginx double-quoted string.
// nginx's parser un-escapes \" \\ \' and turns \t \r \n into control
// characters; every other byte is kept as is inside quotes.
func escapeLiteral(b *strings.Builder, s string, dollar bool) {
	start := 0 // s[start:i] is written as is
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '\\':
			esc = `\\`
		case '"':
			esc = `\"`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		case '\t':
			esc = `\t`
		case '$':
			if !dollar {
				continue
			}
			esc = dollarVar
		default:
			continue
		}
		b.WriteString(s[start:i])
		b.WriteString(esc)
		start = i + 1
	}
	b.WriteString(s[start:])
}

// quote returns s as an nginx double-quoted literal (no interpolation).
func quote(s string) string { return doubleQuoted(s, false) }

// quoteValue returns s as an nginx double-quoted complex value that
// evaluates to exactly s.
func quoteValue(s string) string { return doubleQuoted(s, true) }

func doubleQuoted(s string, dollar bool) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	escapeLiteral(&b, s, dollar)
	b.WriteByte('"')
	return b.String()
}

// valueBuilder assembles a complex value from literal text (escaped) and
// variable references (written as ${name}, so the next literal byte can
// never extend the name).
type valueBuilder struct{ b strings.Builder }

func (v *valueBuilder) lit(s string) *valueBuilder {
	escapeLiteral(&v.b, s, true)
	return v
}

// variable appends a reference to variable name (without "$").
func (v *valueBuilder) variable(name string) *valueBuilder {
	v.b.WriteString("${")
	v.b.WriteString(name)
	v.b.WriteByte('}')
	return v
}

// capture appends a reference to regex capture n (1-9).
func (v *valueBuilder) capture(n int) *valueBuilder {
	fmt.Fprintf(&v.b, "$%d", n)
	return v
}

func (v *valueBuilder) String() string { return `"` + v.b.String() + `"` }

// comment makes s safe after `#`: control characters (line breaks above
// all) become spaces, and it is cut to maxComment bytes (nginx reads a
// comment as one token, which must fit its buffer).
func comment(s string) string {
	s = truncate(s, maxComment)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

// regexLiteral escapes s so that a PCRE pattern matches exactly s: every
// ASCII byte other than a letter or digit is preceded by a backslash, which
// PCRE always reads as "this character, literally".
func regexLiteral(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 0x80, c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte('\\')
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rawURIRegex matches, in a raw request URI ($request_uri), any spelling
// of the decoded path p: each byte other than a letter, digit or "/" may
// come literally or as a %-escape in either case. The translation step gives
// decoded paths (what locations match), while redirects take the rest of
// the path from the raw URI, which the client may have escaped.
func rawURIRegex(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/':
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		escaped := fmt.Sprintf(`%%[%c%c][%c%c]`, hex[c>>4], unicode.ToLower(rune(hex[c>>4])), hex[c&15], unicode.ToLower(rune(hex[c&15])))
		switch {
		case c == '%' || c < 0x20 || c == 0x7f:
			// Never literal in a valid request line ("%" starts an escape).
			b.WriteString("(?:" + escaped + ")")
		case c >= 0x80:
			fmt.Fprintf(&b, `(?:\x%02x|%s)`, c, escaped)
		default:
			b.WriteString("(?:" + regexLiteral(string(c)) + "|" + escaped + ")")
		}
	}
	return b.String()
}

// unreservedPath reports whether c may appear unescaped in a URL path
// (RFC 3986 pchar plus "/" and "%", which keeps existing escapes).
func unreservedPath(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0
}

// escapePath percent-encodes the bytes of p that may not appear in a URL
// path (spaces, quotes, '?', '#', non-ASCII, control characters), keeping
// existing %XX escapes. Used where a path goes into a Location header.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreservedPath(c) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// unescapePath decodes %XX escapes, the form nginx matches locations
// against ($uri). Invalid escapes and escapes that decode to control
// characters or NUL are left as they are, because nginx never decodes them
// into a path either.
func unescapePath(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '%' && i+2 < len(p) {
			if v, ok := unhex2(p[i+1], p[i+2]); ok && v >= 0x20 && v != 0x7f {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := unhex(a)
	y, ok2 := unhex(b)
	return x<<4 | y, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// headerVar returns the nginx variable name (without "$") that holds
// request header name, and false when nginx cannot receive a header of that
// name: with its default ignore_invalid_headers / underscores_in_headers
// settings nginx drops request headers whose names have bytes other than
// letters, digits and '-', and variable names only allow [A-Za-z0-9_].
func headerVar(name string) (string, bool) {
	var b strings.Builder
	b.WriteString("http_")
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '-':
			b.WriteByte('_')
		default:
			return "", false
		}
	}
	return b.String(), name != ""
}
