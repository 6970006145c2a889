package pcre

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestTranslate(t *testing.T) {
	for _, c := range []struct{ re, want string }{
		{`a`, `\A(?:a)\z`},
		{`/api/v[0-9]+`, `\A(?:/api/v[0-9]+)\z`},
		{`(?P<host>x)(?<y>z)`, `\A(?:xz)\z`},
		{`$`, `\A(?:\z)\z`},
		{`^a$`, `\A(?:\Aa\z)\z`},
		{`(?m)^a$`, `\A(?:(?<![^\x0a])a(?![^\x0a]))\z`},
		{`(?i)k`, `\A(?:(?:[Kk]|\xe2\x84\xaa))\z`},
		{`(?i)ab`, `\A(?:[Aa][Bb])\z`},
		{`[\d-z]`, `\A(?:[\x2d0-9z])\z`},
		{`[[:alpha:]]`, `\A(?:[A-Za-z])\z`},
		{`[:alpha:]`, `\A(?:[\x3aahlp])\z`},
		{`\Q.*\E+`, `\A(?:\x2e\x2a+)\z`},
		{`é+`, `\A(?:(?:\xc3\xa9)+)\z`},
		{`(?U)a+b*?`, `\A(?:a+?b*)\z`},
		{`a{2,5}`, `\A(?:a{2,5})\z`},
		{`x{,3}`, `\A(?:x\x7b\x2c3\x7d)\z`},
		{`\101`, `\A(?:A)\z`},
		{`a|b|cd`, `\A(?:(?:[a-b]|cd))\z`},
		{`\z*a`, `\A(?:(?:\z)*a)\z`},
		{`[^\x00-\x{10FFFF}]`, `\A(?:(?!))\z`},
		{`(?s).`, `\A(?:(?:[\x00-\x7f]|` + anyNonASCII + `))\z`},
		{`.*`, `\A(?:[\x00-\x09\x0b-\xff]*)\z`},
		{`(?s).+?`, `\A(?:[\x00-\xff]+?)\z`},
		{`[^/]+`, `\A(?:[\x00-\x2e0-\xff]+)\z`},
	} {
		got, err := Translate(c.re)
		if err != nil || got != c.want {
			t.Errorf("Translate(%q) = %q, %v; want %q", c.re, got, err, c.want)
		}
	}
}

func TestTranslateRefuses(t *testing.T) {
	for re, want := range map[string]string{
		`a(`:         "invalid regular expression",
		`\C`:         "invalid escape",
		`(a){1001}`:  "invalid repeat count",
		`\1`:         "invalid escape",
		`/x[\pL-z]+`: "bytes once translated",
		strings.Repeat("(?:a|b", 260) + strings.Repeat(")", 260): "nests groups",
		`(a+)+`:            "exponentially",
		`(a*)*`:            "exponentially",
		`(a|ab)*`:          "exponentially",
		`(a?a)*`:           "exponentially",
		`(?:.*x){3}`:       "exponentially",
		`(a|)+`:            "exponentially",
		`.*x.*`:            "polynomially",
		`[a-z]*[a-z]*`:     "polynomially",
		`(/[a-z]+)*[a-z]*`: "polynomially",
		`(?s).{0,999}`:     "too large",
	} {
		_, err := Translate(re)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Translate(%.40q) = %v; want an error with %q", re, err, want)
		}
	}
	for _, re := range []string{`(/[a-z]+)*`, `(?:foo|bar)+`, `(a[0-9]*|b[0-9]*)*`, `.*/[0-9]+`, `^/v[0-9]+/.*`, `https?://.*`, `-?[0-9]+(?:\.[0-9]+)?`, `(?:ab|ac)/(?:ab|ac)`, `(?s).*a.{16}z`, `/api/.*/v1/users/[0-9]+/details`, strings.Repeat("x", 300) + `.*`, `[a-z]+[0-9]+`, `/api/.*`, `(a|a)*`,
		// captures are dropped: 260 nested groups are one letter to PCRE
		strings.Repeat("(", 260) + "a" + strings.Repeat(")", 260)} {
		if _, err := Translate(re); err != nil {
			t.Errorf("Translate(%q): %v", re, err)
		}
	}
}

// differentialPatterns are hand-picked constructs where RE2 and PCRE differ
// in syntax or meaning.
var differentialPatterns = []string{
	`a`, `a.c`, `(?s)a.c`, `[^a]`, `[^a]b`, `.`, `..`, `(?s)..`, `é`, `.é`, `[é]`, `[^é]`, `\x{FFFD}`, `[\x{FFFD}a]`,
	`(?i)k`, `(?i)straße`, `(?i)é`, `(?i)[a-c]x`, `[[:alpha:]]+`, `[[:^alpha:]]`, `[:alpha:]`, `[\d-z]+`, `[\s-a]`, `[a\-z]`,
	`\pN+`, `\p{Greek}`, `\PL`, `\Q.*\E`, `\Q[\E`, `a$`, `^a`, `(?m)a$`, `(?m)^a`, `(?m)a$\n.*`, `a\z`, `\Aa`,
	`\bfoo\b`, `\Bo\B.*`, `x\b`, `(?U)a+b`, `a*?b`, `a{2,3}`, `(ab){2}`, `x{,3}`, `{`, `a{`, `\101`, `\0`, `\x41\x{42}`,
	`(?i:A)b`, `(?-i:a)`, `(?i)(?-i:a)B`, `\d\D\w\W\s\S`, `[\v\f\t]`, `\x7f`, `(?P<host>a)`, `(?<n>b)c`, `a|`, `|a`, `()`,
	`\*\+\?\(\)\[\]\{\}\|\^\$\.\\`, `[\]]`, `[]a]`, `[^]a]`, `\$x`, `a+$`, `.+`, `(?s).*`, `[^\n]*`, `\n`, `.*\n`,
}

func randomPattern(rng *rand.Rand) string {
	tokens := []string{`(`, `)`, `(?:`, `(?P<n>`, `(?i)`, `(?s)`, `(?m)`, `(?U)`, `[`, `]`, `[^`, `[:alpha:]`, `[[:digit:]]`, `\Q`, `\E`, `\pL`, `\pN`, `\p{Greek}`,
		`\b`, `\B`, `\z`, `\A`, `^`, `$`, `*`, `+`, `?`, `??`, `{2}`, `{1,3}`, `{,3}`, `|`, `.`, `a`, `b`, `A`, `k`, `é`, `-`, `\d`, `\s`, `\w`,
		`{`, `}`, `:`, `=`, `\101`, `\n`, `\x{FFFD}`, `\x{212A}`, `ß`, `\.`, ` `}
	var b strings.Builder
	for range 1 + rng.IntN(7) {
		b.WriteString(tokens[rng.IntN(len(tokens))])
	}
	return b.String()
}

func randomSubject(rng *rand.Rand) string {
	alphabet := []string{"a", "b", "A", "B", "k", "K", "\u212a", "é", "É", "ß", "ẞ", "-", "1", " ", ":", "{", "}", ",", "3", "=", "[", "\n",
		"\xff", "\xc3", "\xa9", "\xed\xa0\x80", "\xef\xbf\xbd", "\xe2\x84", "α", "Ω", "_", "x", "*", "$", "\\", "\x01", "\x7f", "\u0661"}
	var s strings.Builder
	for range rng.IntN(7) {
		s.WriteString(alphabet[rng.IntN(len(alphabet))])
	}
	return s.String()
}

// usable: a subject nginx's $uri keeps as it is after percent-decoding
// (no NUL, no "/", no leading "." that nginx would normalise).
func usable(s string) bool {
	return s != "" && !strings.ContainsAny(s, "\x00/") && !strings.HasPrefix(s, ".") && !strings.Contains(s, "?")
}

// TestDifferentialNginx runs every pattern through nginx and Go's regexp on
// the same subjects: the translation is exact when they always agree.
func TestDifferentialNginx(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	var res, pcres []string
	refused := 0
	add := func(re string) {
		if _, err := regexp.Compile(re); err != nil {
			return
		}
		p, err := Translate(re)
		if err != nil {
			refused++
			return
		}
		res, pcres = append(res, re), append(pcres, p)
	}
	for _, re := range differentialPatterns {
		add(re)
	}
	for len(res) < 1500 {
		add(randomPattern(rng))
	}
	n := startRegexes(t, pcres)
	gos := make([]*regexp.Regexp, len(res))
	for i, re := range res {
		gos[i] = regexp.MustCompile(`^(?:` + closeQuote(re) + `)$`)
	}
	// (no empty subject: nginx never runs a map's regexes on an empty value; a
	// path is never empty, and the renderer maps an empty header to 0 itself)
	subjects := []string{"a", "a\n", "\n", "é", "\xc3", "\xc3\xa9", "\xed\xa0\x80", "K", "k", "\u212a", "foo", "foo bar", "ab", "abab", "aaa", "x{,3}", "{", "ss", "SS", "straße", "STRASSE", "ſ"}
	for len(subjects) < 600 {
		if s := randomSubject(rng); usable(s) {
			subjects = append(subjects, s)
		}
	}
	disagreements := 0
	for _, s := range subjects {
		got, code := n.match(t, s, len(res))
		if code != 200 || len(got) != len(res) {
			t.Fatalf("subject %q: status %d, body %q", s, code, got)
		}
		for i, g := range gos {
			want := g.MatchString(s)
			if (got[i] == '1') != want {
				disagreements++
				if disagreements <= 20 {
					t.Errorf("pattern %q (PCRE %.200q) on %q: nginx %c, Go %v", res[i], pcres[i], s, got[i], want)
				}
			}
		}
	}
	t.Logf("%d patterns × %d subjects, %d disagreements (%d valid RE2 patterns refused by Translate)", len(res), len(subjects), disagreements, refused)
}

// closeQuote ends a \Q that runs to the end of re, so that re can be
// wrapped.
func closeQuote(re string) string {
	if i := strings.LastIndex(re, `\Q`); i >= 0 && !strings.Contains(re[i:], `\E`) {
		return re + `\E`
	}
	return re
}

// TestLimitsAgreeWithNginx compiles patterns near PCRE2's limits with
// nginx -t: whatever Translate accepts compiles, and what it refuses for
// nesting or size nginx refuses too (when written out anyway).
func TestLimitsAgreeWithNginx(t *testing.T) {
	var accepted, refused []string
	for _, re := range []string{
		strings.Repeat("(?:a|b", 248) + strings.Repeat(")", 248),
		strings.Repeat("(?:a|b", 249) + strings.Repeat(")", 249),
		strings.Repeat("(?:a|b", 250) + strings.Repeat(")", 250),
		strings.Repeat("(", 300) + "a" + strings.Repeat(")", 300),
		`.{0,100}`, `.{0,130}`, `(?s).{1,200}`, `[^a]{0,1000}`, `(?:[^a]b){1,100}`, `é{1000}`, `(?:[a-c][a-c]){1000}`,
		`(?:abcdefghijklmnopqrstu){0,1000}`, `(?:(?:(?:ab){10}){10}){10}`, `(?:(?:(?:a.){10}){10}){10}`,
		`\p{Greek}+`, `\p{Han}`, `\pL`, `(?i)\p{Lu}`, `\PN`, `[\p{Latin}\d]+`, `\p{Cyrillic}{2,5}`,
	} {
		p, err := Translate(re)
		if err == nil {
			accepted = append(accepted, p)
			continue
		}
		if strings.Contains(err.Error(), "RE2 syntax") || strings.Contains(err.Error(), "backtrack") {
			t.Errorf("%.40q: %v", re, err)
			continue
		}
		emitted, _, _ := emitPattern(re)
		if len(emitted) > MaxLength {
			continue // refused for the config's token length, checked by the render step
		}
		refused = append(refused, emitted)
	}
	conf := func(ps []string) string {
		var b strings.Builder
		b.WriteString("events {}\nhttp {\n")
		for i, p := range ps {
			fmt.Fprintf(&b, "map $uri $m%d { \"~%s\" 1; }\n", i, nginxQuote(p))
		}
		b.WriteString("}\n")
		return b.String()
	}
	if out, ok := nginxTest(t, conf(accepted)); !ok {
		t.Errorf("nginx -t refuses accepted patterns:\n%s", explain(out, conf(accepted)))
	}
	agreed := 0
	for _, p := range refused {
		if out, ok := nginxTest(t, conf([]string{p})); ok {
			if nesting(p) > MaxNesting {
				t.Errorf("refused for nesting, but nginx compiles it: %.80q", p)
			} else {
				// the size estimate is from above: near the limit it refuses
				// some patterns PCRE2 would still take
				t.Logf("refused for size within the estimate's margin: %.80q", p)
			}
		} else if !strings.Contains(out, "too large") && !strings.Contains(out, "too deeply nested") {
			t.Errorf("nginx refuses %.80q for another reason: %s", p, out)
		} else {
			agreed++
		}
	}
	t.Logf("%d accepted and compiled; %d refused for nesting or size, %d of them refused by nginx too", len(accepted), len(refused), agreed)
}

// FuzzTranslate checks, without nginx, what holds for every pattern: no
// panic, an accepted pattern is one Go compiles, and the output keeps to
// the limits and to byte-mode PCRE (ASCII only, no (*UTF), anchored).
// The differential test above compares meanings with nginx.
func FuzzTranslate(f *testing.F) {
	for _, re := range differentialPatterns {
		f.Add(re)
	}
	f.Fuzz(func(t *testing.T, re string) {
		p, err := Translate(re)
		if err != nil {
			return
		}
		if _, err := regexp.Compile(re); err != nil {
			t.Fatalf("accepted %q, which Go refuses: %v", re, err)
		}
		if !strings.HasPrefix(p, `\A(?:`) || !strings.HasSuffix(p, `)\z`) || len(p) > MaxLength || nesting(p) > MaxNesting {
			t.Fatalf("%q → %q", re, p)
		}
		for i := 0; i < len(p); i++ {
			if p[i] < 0x20 || p[i] >= 0x7f {
				t.Fatalf("%q → %q: byte %#x", re, p, p[i])
			}
		}
	})
}

// TestLongSubjects matches 7 KB subjects: a repeated class of every
// non-ASCII rune (., [^/]) is one repeated byte class, which PCRE2
// repeats in place; a repeated group needs JIT stack per iteration, and
// nginx's 32 KB JIT stack ends after about a thousand iterations (nginx
// then logs an error and the map answers its default, no match).
func TestLongSubjects(t *testing.T) {
	cases := []struct {
		re, subject string
	}{
		{`.*/[0-9]+`, strings.Repeat("x", 7000) + "/1"},
		{`(?s).*`, strings.Repeat("x", 7000)},
		{`[^/]+/[^/]*`, strings.Repeat("y", 3500) + "/" + strings.Repeat("z", 3500)},
		{`(?:ab|cd)*`, strings.Repeat("ab", 400)},
	}
	var patterns []string
	for _, c := range cases {
		p, err := Translate(c.re)
		if err != nil {
			t.Fatal(err)
		}
		patterns = append(patterns, p)
	}
	n := startRegexes(t, patterns)
	for i, c := range cases {
		resp, err := n.client.Get(n.base + "/g0/" + c.subject)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(body) != len(cases) || body[i] != '1' {
			t.Errorf("%s on %d bytes: status %d, body %q; Go matches", c.re, len(c.subject), resp.StatusCode, body)
		}
	}
}

// TestBacktrackingBound sends hostile 7 KB subjects through nginx against
// random patterns the backtracking rule accepts, 50 patterns evaluated
// per request: each request must stay far below what a refused pattern
// costs (BenchmarkRefusedPatterns: tens of milliseconds to seconds). The
// bound is generous, for a shared machine.
func TestBacktrackingBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	tokens := []string{`(`, `)`, `(?:`, `*`, `+`, `?`, `{2}`, `{0,5}`, `{1,16}`, `|`, `.`, `a`, `b`, `[ab]`, `[^b]`, `x`, `/`,
		`a*`, `.*`, `(?:a|b)`, `[a-z]+`, `é`, `\pL`}
	var patterns, res []string
	for len(patterns) < 600 {
		var b strings.Builder
		for range 3 + rng.IntN(12) {
			b.WriteString(tokens[rng.IntN(len(tokens))])
		}
		if p, err := Translate(b.String()); err == nil {
			patterns, res = append(patterns, p), append(res, b.String())
		}
	}
	subjects := []string{strings.Repeat("a", 7000) + "!", strings.Repeat("ab", 3500) + "!", strings.Repeat("a/", 3500) + "!",
		strings.Repeat("ax", 3500) + "!", "x" + strings.Repeat("a", 7000), strings.Repeat("b", 7000) + "x!",
		strings.Repeat("a/b", 2300) + "!", strings.Repeat("aab", 2300) + "x", strings.Repeat("xa", 3500) + "/"}
	const group = 50
	for k := 0; k < len(patterns); k += group {
		end := min(k+group, len(patterns))
		n := startRegexes(t, patterns[k:end])
		for _, s := range subjects {
			start := time.Now()
			resp, err := n.client.Get(n.base + "/g0/" + s)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if d := time.Since(start); d > 200*time.Millisecond {
				t.Errorf("%v for %.10q… against patterns %q", d, s, res[k:end])
			}
		}
	}
}
