// Package pcre translates the RE2 regular expressions users write (Gateway
// API RegularExpression matches, checked with Go's regexp) into the PCRE2
// patterns nginx runs, with the same meaning, or refuses them.
//
// The translation works on Go's parsed syntax tree (regexp/syntax.Parse
// with the flags regexp.Compile uses), never on the source text: every
// flag, escape, class, POSIX or Unicode group is already resolved by Go's
// parser into literals, rune ranges, anchors and repetitions, and the
// output spells each of them out in the few PCRE constructs whose meaning
// does not depend on PCRE's options, tables or Unicode version:
//
//   - PCRE runs in byte mode (no (*UTF)): a subject that is not valid UTF-8
//     (a percent-decoded path, a header) is matched, never an error. Each
//     set of runes (a literal, a class, `.`, a case-folded letter) becomes
//     the UTF-8 byte sequences of its runes. Go decodes an invalid byte as
//     U+FFFD, one byte wide; a set holding U+FFFD therefore also matches
//     one byte that does not start a valid UTF-8 sequence, spelled
//     (?!valid)[\x80-\xff]. UTF-8 is prefix-free, so PCRE splits the
//     subject into runes exactly as Go does.
//   - case-insensitive literals become the class of their simple case
//     folding orbit (Go's rule: k, K and U+212A KELVIN SIGN), not (?i);
//   - `^`, `$` without (?m) become \A and \z (PCRE's `$` also matches before
//     a final newline); with (?m), (?<![^\n]) and (?![^\n]);
//   - \b and \B become lookarounds on ASCII word bytes, as in RE2;
//   - groups become non-capturing: the pattern only answers match or not,
//     and named groups would set nginx variables;
//   - repetitions keep their greediness ((?U) is already resolved) and their
//     counts (RE2 allows at most 1000, PCRE 65535);
//   - the whole is wrapped as \A(?:…)\z: the value must match as a whole.
//
// Refused (an error naming the reason): patterns Go refuses, patterns
// whose PCRE form nests parentheses deeper than PCRE2's default limit or
// would compile larger than PCRE2 can, and patterns whose backtracking can
// explode (see checkBacktracking).
package pcre

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNesting is PCRE2's default limit on nested parentheses
// (PARENS_NEST_LIMIT), counted on the emitted pattern.
const MaxNesting = 250

// MaxLength bounds the emitted pattern: nginx takes at most 4,095 bytes
// per token, and the value is escaped once more when written (the render
// step checks the token as written).
const MaxLength = 3000

// MaxWeight bounds the estimated compiled size of the emitted pattern
// (cost, with every repeated group counted once per copy: PCRE2 compiles
// {n,m} of a group by copying it). PCRE2 built with the default link size
// refuses compiled patterns over 64K code units ("regular expression is
// too large"); the estimate is from above and the bound keeps a margin.
const MaxWeight = 60000

// Translate returns the PCRE2 pattern (byte mode) that matches exactly the
// subjects Go's regexp.MustCompile(`^(?:` + re + `)$`) matches, or an error
// saying why nginx cannot run re.
func Translate(re string) (string, error) {
	out, weight, err := emitPattern(re)
	if err != nil {
		return "", err
	}
	if err := checkBacktracking(mustParse(re)); err != nil {
		return "", err
	}
	if d := nesting(out); d > MaxNesting {
		return "", fmt.Errorf("regular expression nests groups %d deep once translated for nginx (PCRE2 allows %d)", d, MaxNesting)
	}
	if len(out) > MaxLength {
		return "", fmt.Errorf("regular expression is %d bytes once translated for nginx (at most %d): nginx matches bytes, and large Unicode classes such as \\pL spell out thousands of UTF-8 sequences; use narrower classes", len(out), MaxLength)
	}
	if weight > MaxWeight {
		return "", fmt.Errorf("regular expression too large for nginx once translated (about %d bytes compiled by PCRE2, which copies a repeated group once per count; at most %d): lower the repetition counts", weight, MaxWeight)
	}
	return out, nil
}

func mustParse(re string) *syntax.Regexp {
	tree, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		panic(err)
	}
	return tree
}

// emitPattern is Translate without the limits: the PCRE form and its
// estimated compiled size.
func emitPattern(re string) (string, int, error) {
	tree, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", 0, fmt.Errorf("invalid regular expression (RE2 syntax): %v", err)
	}
	e := &emitter{}
	body := e.emit(tree)
	return `\A(?:` + body.s + `)\z`, body.weight + 12, nil
}

// cost estimates, from above, the compiled size of an emitted pattern
// without repetitions in PCRE2 code units: a class is a 32-byte bitmap
// plus its opcode, a byte two units, a group or branch three.
func cost(s string) int {
	c := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			for i < len(s) && s[i] != ']' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			c += 33
		case '\\':
			if i+1 < len(s) && s[i+1] == 'x' {
				i += 3
			} else {
				i++
			}
			c += 2
		case '(':
			for i+1 < len(s) && strings.IndexByte("?:<=!>", s[i+1]) >= 0 {
				i++
			}
			c += 3
		case ')', '|':
			c += 3
		case '{':
			for i < len(s) && s[i] != '}' {
				i++
			}
			c += 5
		default:
			c += 2
		}
	}
	return c
}

// nesting is the deepest parenthesis nesting of an emitted pattern (it
// writes every parenthesis that is not syntax as \xHH).
func nesting(s string) int {
	d, max := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			d++
			max = maxInt(max, d)
		case ')':
			d--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// piece is an emitted sub-pattern: atomic when a quantifier may follow it
// as it is; weight estimates its compiled size.
type piece struct {
	s      string
	atomic bool
	weight int
}

type emitter struct{}

const wordClass = `[0-9A-Za-z_]`

func (e *emitter) emit(re *syntax.Regexp) piece {
	switch re.Op {
	case syntax.OpNoMatch:
		return atomicPiece(`(?!)`)
	case syntax.OpEmptyMatch:
		return atomicPiece(`(?:)`)
	case syntax.OpLiteral:
		var parts []piece
		for _, r := range re.Rune {
			set := []rune{r, r}
			if re.Flags&syntax.FoldCase != 0 {
				set = foldOrbit(r)
			}
			parts = append(parts, runeSet(set))
		}
		return concat(parts)
	case syntax.OpCharClass:
		return runeSet(re.Rune)
	case syntax.OpAnyCharNotNL:
		return runeSet([]rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune})
	case syntax.OpAnyChar:
		return runeSet([]rune{0, unicode.MaxRune})
	case syntax.OpBeginLine:
		return assertion(`(?<![^\x0a])`)
	case syntax.OpEndLine:
		return assertion(`(?![^\x0a])`)
	case syntax.OpBeginText:
		return assertion(`\A`)
	case syntax.OpEndText:
		return assertion(`\z`)
	case syntax.OpWordBoundary:
		return assertion(`(?:(?<=` + wordClass + `)(?!` + wordClass + `)|(?<!` + wordClass + `)(?=` + wordClass + `))`)
	case syntax.OpNoWordBoundary:
		return assertion(`(?:(?<=` + wordClass + `)(?=` + wordClass + `)|(?<!` + wordClass + `)(?!` + wordClass + `))`)
	case syntax.OpCapture:
		return e.emit(re.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		if p, ok := byteRun(re); ok {
			return p
		}
		sub := e.emit(re.Sub[0])
		if !sub.atomic {
			sub = group(sub)
		}
		var q string
		copies := 1
		switch re.Op {
		case syntax.OpStar:
			q = "*"
		case syntax.OpPlus:
			q = "+"
		case syntax.OpQuest:
			q = "?"
		default:
			switch {
			case re.Max == -1:
				q = fmt.Sprintf("{%d,}", re.Min)
				copies = re.Min + 1
			case re.Min == re.Max:
				q = fmt.Sprintf("{%d}", re.Min)
				copies = re.Min
			default:
				q = fmt.Sprintf("{%d,%d}", re.Min, re.Max)
				copies = re.Max
			}
		}
		if re.Flags&syntax.NonGreedy != 0 {
			q += "?"
		}
		w := sub.weight
		if strings.HasPrefix(sub.s, "(") {
			// PCRE compiles a repeated group as copies of it (a single
			// byte or class is repeated in place)
			w *= maxInt(copies, 1)
		}
		return piece{s: sub.s + q, atomic: false, weight: w + 5}
	case syntax.OpConcat:
		var parts []piece
		for _, s := range re.Sub {
			parts = append(parts, e.emit(s))
		}
		return concat(parts)
	case syntax.OpAlternate:
		var parts []piece
		for _, s := range re.Sub {
			parts = append(parts, e.emit(s))
		}
		return alternate(parts)
	}
	panic(fmt.Sprintf("pcre: unknown regexp op %v", re.Op))
}

// assertion is an empty-width item; PCRE refuses a quantifier right after
// some of them, so a repetition wraps it in a group.
func assertion(s string) piece { return piece{s: s, weight: cost(s)} }

func atomicPiece(s string) piece { return piece{s: s, atomic: true, weight: cost(s)} }

func group(p piece) piece {
	return piece{s: "(?:" + p.s + ")", atomic: true, weight: p.weight + 6}
}

func concat(parts []piece) piece {
	switch len(parts) {
	case 0:
		return atomicPiece(`(?:)`)
	case 1:
		return parts[0]
	}
	var b strings.Builder
	w := 0
	for _, p := range parts {
		b.WriteString(p.s) // pieces never start with a quantifier
		w += p.weight
	}
	return piece{s: b.String(), weight: w}
}

func alternate(parts []piece) piece {
	ss := make([]string, len(parts))
	w := 0
	for i, p := range parts {
		ss[i], w = p.s, w+p.weight
	}
	return piece{s: "(?:" + strings.Join(ss, "|") + ")", atomic: true, weight: w + 3*len(parts) + 3}
}

// byteRun emits S* or S+ as one repeated byte class when the rune set S
// holds every non-ASCII rune (., [^/], \PL is not one): a byte string is a
// run of such runes exactly when its ASCII bytes are in S, since every
// other byte is part of a rune in S, valid or not (U+FFFD). PCRE repeats a
// class in place; a repeated group needs backtracking space per
// iteration, and nginx's PCRE2 JIT stack (32 KB) runs out after a few
// thousand iterations, which nginx reports as an error and treats as no
// match.
func byteRun(re *syntax.Regexp) (piece, bool) {
	if re.Op != syntax.OpStar && re.Op != syntax.OpPlus {
		return piece{}, false
	}
	var set []rune
	switch sub := re.Sub[0]; sub.Op {
	case syntax.OpCharClass:
		set = sub.Rune
	case syntax.OpAnyChar:
		set = []rune{0, unicode.MaxRune}
	case syntax.OpAnyCharNotNL:
		set = []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
	default:
		return piece{}, false
	}
	var ascii [][2]rune
	covered := false
	for i := 0; i+1 < len(set); i += 2 {
		lo, hi := set[i], set[i+1]
		if lo < utf8.RuneSelf {
			ascii = append(ascii, [2]rune{lo, min(hi, utf8.RuneSelf-1)})
		}
		covered = covered || (lo <= utf8.RuneSelf && hi == unicode.MaxRune)
	}
	if !covered {
		return piece{}, false
	}
	if n := len(ascii); n > 0 && ascii[n-1][1] == utf8.RuneSelf-1 {
		ascii[n-1][1] = 0xff
	} else {
		ascii = append(ascii, [2]rune{0x80, 0xff})
	}
	q := "*"
	if re.Op == syntax.OpPlus {
		q = "+"
	}
	if re.Flags&syntax.NonGreedy != 0 {
		q += "?"
	}
	s := byteClass(ascii) + q
	return piece{s: s, weight: cost(s)}, true
}

// foldOrbit is the rune set {r and everything it folds to}, as Go's
// case-insensitive matching compares.
func foldOrbit(r rune) []rune {
	orbit := []rune{r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		orbit = append(orbit, f)
	}
	slices.Sort(orbit)
	var set []rune
	for _, x := range orbit {
		set = append(set, x, x)
	}
	return set
}

// validMB is one valid multi-byte UTF-8 sequence as Go's utf8 decoder
// accepts it (no overlong forms, no surrogates, at most U+10FFFF).
const validMB = `(?:[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})`

// invalidByte is a byte Go's decoder reads as U+FFFD of width 1.
const invalidByte = `(?!` + validMB + `)[\x80-\xff]`

// anyNonASCII is one non-ASCII rune as Go's decoder reads it.
var anyNonASCII = `(?>` + validMB[3:len(validMB)-1] + `|[\x80-\xff])`

// runeSet emits the byte-mode pattern matching one rune of the set (pairs
// of inclusive bounds, as in syntax.Regexp.Rune).
func runeSet(ranges []rune) piece {
	var ascii [][2]rune
	var multi [][2]rune
	hasFFFD := false
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo <= 0xFFFD && 0xFFFD <= hi {
			hasFFFD = true
		}
		if lo < utf8.RuneSelf {
			ascii = append(ascii, [2]rune{lo, min(hi, utf8.RuneSelf-1)})
			lo = utf8.RuneSelf
		}
		if lo > hi {
			continue
		}
		// no surrogates: Go reads their encodings as invalid bytes
		if lo < 0xD800 && hi >= 0xD800 {
			multi = append(multi, [2]rune{lo, 0xD7FF})
			lo = 0xE000
		} else if lo >= 0xD800 && lo <= 0xDFFF {
			lo = 0xE000
		}
		if lo <= hi {
			multi = append(multi, [2]rune{lo, hi})
		}
	}
	var alts []string
	if len(ascii) > 0 {
		alts = append(alts, byteClass(ascii))
	}
	if hasFFFD && len(multi) == 2 && multi[0] == [2]rune{0x80, 0xD7FF} && multi[1] == [2]rune{0xE000, unicode.MaxRune} {
		// every non-ASCII rune: one valid sequence, or else one byte; the
		// atomic group keeps PCRE from splitting a valid sequence on
		// backtracking
		alts = append(alts, anyNonASCII)
		multi = nil
		hasFFFD = false
	}
	for _, r := range multi {
		for _, seq := range utf8Sequences(r[0], r[1]) {
			var b strings.Builder
			for _, br := range seq {
				b.WriteString(byteClass([][2]rune{br}))
			}
			alts = append(alts, b.String())
		}
	}
	if hasFFFD {
		alts = append(alts, invalidByte)
	}
	switch {
	case len(alts) == 0:
		return atomicPiece(`(?!)`)
	case len(alts) == 1 && len(ascii) > 0:
		return atomicPiece(alts[0]) // one byte class or byte
	case len(alts) == 1:
		return piece{s: alts[0], weight: cost(alts[0])} // a byte sequence
	}
	return atomicPiece("(?:" + strings.Join(alts, "|") + ")")
}

// byteClass writes a set of byte ranges as one PCRE item.
func byteClass(rs [][2]rune) string {
	if len(rs) == 1 && rs[0][0] == rs[0][1] {
		return byteLit(byte(rs[0][0]))
	}
	var b strings.Builder
	b.WriteByte('[')
	for _, r := range rs {
		b.WriteString(byteLit(byte(r[0])))
		if r[1] != r[0] {
			b.WriteByte('-')
			b.WriteString(byteLit(byte(r[1])))
		}
	}
	b.WriteByte(']')
	return b.String()
}

func byteLit(c byte) string {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '/' {
		return string(c)
	}
	return fmt.Sprintf(`\x%02x`, c)
}

// utf8Sequences splits the rune range [lo, hi] (no surrogates, lo ≥ 0x80)
// into sequences of byte ranges, each matching the UTF-8 encodings of a
// sub-range (the classic construction of RE2 and Rust's utf8-ranges).
func utf8Sequences(lo, hi rune) [][][2]rune {
	var out [][][2]rune
	var split func(lo, hi rune)
	split = func(lo, hi rune) {
		// split at encoded-length boundaries
		for _, b := range []rune{0x7F, 0x7FF, 0xFFFF} {
			if lo <= b && hi > b {
				split(lo, b)
				split(b+1, hi)
				return
			}
		}
		n := utf8.RuneLen(lo)
		// split so that every continuation byte range is full below the
		// first byte that differs
		for i := 1; i < n; i++ {
			m := rune(1)<<(6*i) - 1
			if lo&^m != hi&^m {
				if lo&m != 0 {
					split(lo, lo|m)
					split((lo|m)+1, hi)
					return
				}
				if hi&m != m {
					split(lo, (hi&^m)-1)
					split(hi&^m, hi)
					return
				}
			}
		}
		var a, z [4]byte
		utf8.EncodeRune(a[:], lo)
		utf8.EncodeRune(z[:], hi)
		seq := make([][2]rune, n)
		for i := range n {
			seq[i] = [2]rune{rune(a[i]), rune(z[i])}
		}
		out = append(out, seq)
	}
	split(lo, hi)
	return out
}
