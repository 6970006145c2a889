package render

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Regular expressions from the model are RE2 syntax (the translation step
// compiles them with Go's regexp); nginx compiles PCRE2. The two agree on
// most syntax, and the translation below removes the differences that
// would make nginx refuse the config or read a pattern another way.

// userRegex turns a user's regular expression (RE2 syntax, validated by the
// translation step) into a PCRE pattern for nginx that means the same and that
// PCRE accepts, matching the whole subject:
//   - named groups lose their names: nginx turns named captures into
//     variables, so `(?<host>x)` would clash with $host or overwrite one of
//     ours at runtime;
//   - a repetition of something PCRE cannot repeat (an assertion such as
//     `$*`, or a repetition such as `a{2}{3}`), or one that follows flags
//     (`a(?i)*`, where RE2 repeats the `a`), is rewritten so PCRE repeats
//     the same thing;
//   - a "{" that is not a repetition in RE2 is a literal brace, and a class
//     starting with ":" ("[:alpha:]" alone) a plain class;
//   - patterns that need Unicode semantics (non-ASCII text, \p, \x{…} or
//     octal escapes above 0xFF, which PCRE refuses in byte mode) get the
//     (*UTF) start option;
//   - the result is wrapped in ^(?:…)$ so it cannot change our anchors.
func userRegex(re string) string {
	t := &regexTranslator{re: re, lastAtom: -1}
	t.translate()
	return finishRegex(string(t.out), t.needUTF)
}

type regexTranslator struct {
	re      string
	out     []byte
	needUTF bool
	// lastAtom is where the last repeatable item starts in out (-1: none);
	// lastPlain says PCRE may repeat it as it is (not an assertion, not
	// already repeated).
	lastAtom  int
	lastPlain bool
	groups    []int // out positions of open groups
}

func (t *regexTranslator) atom(s string, plain bool) {
	t.lastAtom, t.lastPlain = len(t.out), plain
	t.out = append(t.out, s...)
}

func (t *regexTranslator) quantifier(q string) {
	if t.lastAtom >= 0 && !t.lastPlain {
		wrapped := append([]byte("(?:"), t.out[t.lastAtom:]...)
		t.out = append(append(t.out[:t.lastAtom], wrapped...), ')')
	}
	t.out = append(t.out, q...)
	t.lastPlain = false
}

func (t *regexTranslator) translate() {
	re := t.re
	for i := 0; i < len(re); {
		c := re[i]
		switch {
		case c >= 0x80:
			t.needUTF = true
			_, size := utf8.DecodeRuneInString(re[i:])
			t.atom(re[i:i+size], true)
			i += size
		case c == '\\' && i+1 < len(re):
			i = t.escape(i)
		case c == '[':
			i = t.class(i)
		case quantifierLen(re, i) > 0:
			q := quantifierLen(re, i)
			t.quantifier(re[i : i+q])
			i += q
		case c == '{':
			t.atom(`\{`, true) // a literal brace in RE2; PCRE may read {,n} as a repeat
			i++
		case c == '(' && flagGroupLen(re, i) > 0:
			// RE2 applies a repetition after flags to the item before them;
			// PCRE refuses it: write the repetition first.
			j := i
			for flagGroupLen(re, j) > 0 {
				j += flagGroupLen(re, j)
			}
			flags := re[i:j]
			if q := quantifierLen(re, j); q > 0 {
				t.quantifier(re[j : j+q])
				j += q
			}
			t.out = append(t.out, flags...)
			i = j
		case c == '(':
			t.groups = append(t.groups, len(t.out))
			t.lastAtom = -1
			switch {
			case strings.HasPrefix(re[i:], "(?P<") && strings.IndexByte(re[i:], '>') > 0:
				t.out = append(t.out, '(')
				i += strings.IndexByte(re[i:], '>') + 1
			case strings.HasPrefix(re[i:], "(?<") && strings.IndexByte(re[i:], '>') > 0:
				t.out = append(t.out, '(')
				i += strings.IndexByte(re[i:], '>') + 1
			case strings.HasPrefix(re[i:], "(?") && strings.IndexByte(re[i:], ':') > 0:
				end := strings.IndexByte(re[i:], ':') + 1 // (?:  or (?i:
				t.out = append(t.out, re[i:i+end]...)
				i += end
			default:
				t.out = append(t.out, '(')
				i++
			}
		case c == ')':
			start := -1
			if n := len(t.groups); n > 0 {
				start, t.groups = t.groups[n-1], t.groups[:n-1]
			}
			t.out = append(t.out, ')')
			t.lastAtom, t.lastPlain = start, start >= 0
			i++
		case c == '|':
			t.out = append(t.out, '|')
			t.lastAtom = -1
			i++
		case c == '^' || c == '$':
			t.atom(string(c), false)
			i++
		default:
			t.atom(string(c), true)
			i++
		}
	}
}

// escape copies the escape sequence at re[i] and returns the next index.
func (t *regexTranslator) escape(i int) int {
	re := t.re
	next := re[i+1]
	switch {
	case next == 'Q': // \Q…\E: literal text up to \E or the end
		end := strings.Index(re[i+2:], `\E`)
		lit := re[i+2:]
		if end >= 0 {
			lit = re[i+2 : i+2+end]
		}
		for _, r := range lit {
			if r >= 0x80 {
				t.needUTF = true
			}
			t.atom(regexLiteral(string(r)), true)
		}
		if end < 0 {
			return len(re)
		}
		return i + 2 + end + 2
	case strings.IndexByte("xpP", next) >= 0 && i+2 < len(re) && re[i+2] == '{':
		end := strings.IndexByte(re[i:], '}')
		if end < 0 {
			end = len(re) - i - 1
		}
		seq := re[i : i+end+1]
		var cp int
		if next != 'x' {
			t.needUTF = true
		} else if _, err := fmt.Sscanf(seq[3:], "%x", &cp); err == nil && cp > 0xff {
			t.needUTF = true
		}
		t.atom(seq, true)
		return i + end + 1
	case (next == 'p' || next == 'P') && i+2 < len(re): // \pL
		t.needUTF = true
		t.atom(re[i:i+3], true)
		return i + 3
	case next >= '0' && next <= '7': // octal, up to three digits
		v, j := 0, i+1
		for ; j < len(re) && j < i+4 && re[j] >= '0' && re[j] <= '7'; j++ {
			v = v*8 + int(re[j]-'0')
		}
		if v > 0xff {
			t.needUTF = true
		}
		t.atom(re[i:j], true)
		return j
	case strings.IndexByte("bBAz", next) >= 0:
		t.atom(re[i:i+2], false)
		return i + 2
	}
	t.atom(re[i:i+2], true)
	return i + 2
}

// class copies the character class at re[i] and returns the next index.
func (t *regexTranslator) class(i int) int {
	re := t.re
	var b strings.Builder
	b.WriteByte('[')
	i++
	if i < len(re) && re[i] == '^' {
		b.WriteByte('^')
		i++
	}
	if i < len(re) && strings.IndexByte(":.=", re[i]) >= 0 {
		// "[:alpha:]" or "[.a.]" alone is a plain class in RE2, POSIX syntax to PCRE.
		b.WriteByte('\\')
		b.WriteByte(re[i])
		i++
	} else if i < len(re) && re[i] == ']' { // a ']' first is a member
		b.WriteByte(']')
		i++
	}
	for i < len(re) {
		c := re[i]
		switch {
		case c == ']':
			b.WriteByte(']')
			t.atom(b.String(), true)
			return i + 1
		case c == '\\' && i+1 < len(re):
			n := 2
			if strings.IndexByte("xpP", re[i+1]) >= 0 && i+2 < len(re) && re[i+2] == '{' {
				if end := strings.IndexByte(re[i:], '}'); end > 0 {
					n = end + 1
				}
			}
			if re[i+1] >= '0' && re[i+1] <= '7' {
				v := 0
				for n = 1; i+n < len(re) && n < 4 && re[i+n] >= '0' && re[i+n] <= '7'; n++ {
					v = v*8 + int(re[i+n]-'0')
				}
				t.needUTF = t.needUTF || v > 0xff
			}
			if re[i+1] == 'p' || re[i+1] == 'P' || (re[i+1] == 'x' && n > 5) {
				t.needUTF = true
			}
			b.WriteString(re[i : i+n])
			i += n
			if strings.IndexByte("dDsSwWpP", re[i-n+1]) >= 0 {
				i = literalDash(re, i, &b)
			}
			continue
		case c == '[':
			if end := strings.Index(re[i:], ":]"); end > 0 && posixClass.MatchString(re[i:i+end+2]) {
				b.WriteString(re[i : i+end+2])
				i += end + 2
				i = literalDash(re, i, &b)
				continue
			}
			b.WriteString(`\[`) // a literal in RE2; PCRE reads "[." and "[=" as POSIX syntax
			i++
			continue
		case c >= 0x80:
			t.needUTF = true
		}
		b.WriteByte(c)
		i++
	}
	t.atom(b.String(), true) // unterminated: RE2 refuses it anyway
	return i
}

var posixClass = regexp.MustCompile(`^\[:\^?[a-z]+:\]$`)

// literalDash escapes a "-" at re[i] that follows a class shorthand such
// as \s inside a class: RE2 reads it as a literal, PCRE as a bad range.
func literalDash(re string, i int, b *strings.Builder) int {
	if i+1 < len(re) && re[i] == '-' && re[i+1] != ']' {
		b.WriteString(`\-`)
		return i + 1
	}
	return i
}

// quantifierLen returns the length of the RE2 repetition operator at
// re[i] (with its lazy "?"), or 0. Like RE2, "{" only starts one in the
// forms {n}, {n,} and {n,m}.
func quantifierLen(re string, i int) int {
	if i >= len(re) {
		return 0
	}
	n := 0
	switch re[i] {
	case '*', '+', '?':
		n = 1
	case '{':
		n = repeatLen(re, i)
	}
	if n > 0 && i+n < len(re) && re[i+n] == '?' {
		n++
	}
	return n
}

// repeatLen returns the length of a {n}, {n,} or {n,m} at re[i], or 0.
func repeatLen(re string, i int) int {
	j := i + 1
	digits := func() int {
		start := j
		for j < len(re) && re[j] >= '0' && re[j] <= '9' {
			j++
		}
		return j - start
	}
	if digits() == 0 {
		return 0
	}
	if j < len(re) && re[j] == ',' {
		j++
		digits()
	}
	if j < len(re) && re[j] == '}' {
		return j + 1 - i
	}
	return 0
}

// flagGroupLen returns the length of a flags-only group such as "(?i)" or
// "(?s-m)" at re[i], or 0.
func flagGroupLen(re string, i int) int {
	if !strings.HasPrefix(re[i:], "(?") {
		return 0
	}
	for j := i + 2; j < len(re); j++ {
		switch {
		case re[j] == ')':
			return j + 1 - i
		case strings.IndexByte("imsU-", re[j]) < 0:
			return 0
		}
	}
	return 0
}

// finishRegex anchors the translated pattern: the whole value must match,
// as in Gateway API implementations built on RE2's full match.
func finishRegex(body string, utf bool) string {
	prefix := ""
	if utf {
		prefix = "(*UTF)" // a start option: must come first
	}
	return prefix + "^(?:" + body + ")$"
}
