package render

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, literal, value string }{
		{"plain", `"plain"`, `"plain"`},
		{`a"b`, `"a\"b"`, `"a\"b"`},
		{`back\slash`, `"back\\slash"`, `"back\\slash"`},
		{"$host", `"$host"`, `"${ngo_dollar}host"`},
		{"a\tb", `"a\tb"`, `"a\tb"`},
		{"x; }", `"x; }"`, `"x; }"`},
	} {
		if got := quote(tc.in); got != tc.literal {
			t.Errorf("quote(%q) = %s, want %s", tc.in, got, tc.literal)
		}
		if got := quoteValue(tc.in); got != tc.value {
			t.Errorf("quoteValue(%q) = %s, want %s", tc.in, got, tc.value)
		}
	}
}

func TestPaths(t *testing.T) {
	for in, want := range map[string]string{"/a b/ü?#": "/a%20b/%C3%BC%3F%23", "/ok/%41;x": "/ok/%41;x"} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"/a%20b": "/a b", "/bad%zz": "/bad%zz", "/nl%0a": "/nl%0a", "/end%4": "/end%4", "/%41%42": "/AB"} {
		if got := unescapePath(in); got != want {
			t.Errorf("unescapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUserRegex(t *testing.T) {
	for in, want := range map[string]string{
		`a.b`:                `^(?:a.b)$`,
		`(?P<host>x)(?<y>z)`: `^(?:(x)(z))$`,
		`$*a`:                `^(?:(?:$)*a)$`,
		`a{2}{3}`:            `^(?:(?:a{2}){3})$`,
		`a(?i)*b`:            `^(?:a*(?i)b)$`,
		`x{,3}`:              `^(?:x\{,3})$`,
		`[:alpha:]`:          `^(?:[\:alpha:])$`,
		`[[:alpha:]-]`:       `^(?:[[:alpha:]-])$`,
		`[\s-a]`:             `^(?:[\s\-a])$`,
		`\x{263a}`:           `(*UTF)^(?:\x{263a})$`,
		`\pL+`:               `(*UTF)^(?:\pL+)$`,
		`\Q.*\E+`:            `^(?:\.\*+)$`,
	} {
		if got := userRegex(in); got != want {
			t.Errorf("userRegex(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUserRegexKeepsMeaning translates random RE2 patterns and checks, with
// Go's own engine, that the translation is still RE2 and matches exactly
// the same subjects as the original: the rewrites change syntax only.
func TestUserRegexKeepsMeaning(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	tokens := []string{`(`, `)`, `(?:`, `(?P<n>`, `(?i)`, `(?s)`, `[`, `]`, `[^`, `[:alpha:]`, `\Q`, `\E`, `\pL`, `\b`, `\z`,
		`^`, `$`, `*`, `+`, `?`, `{2}`, `{1,3}`, `{,3}`, `|`, `.`, `a`, `b`, `A`, `é`, `-`, `\d`, `\s`, `{`, `}`, `:`, `=`, `[.`, `\101`}
	alphabet := []string{"a", "b", "A", "é", "-", "1", " ", ":", "{", "}", ",", "3", ".", "=", "["}
	checked := 0
	for checked < 3000 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(tokens[rng.IntN(len(tokens))])
		}
		if _, err := regexp.Compile(b.String()); err != nil {
			continue // the translation step refuses it
		}
		raw := b.String()
		if i := strings.LastIndex(raw, `\Q`); i >= 0 && !strings.Contains(raw[i:], `\E`) {
			raw += `\E` // \Q runs to the end of the user's pattern, not of ours
		}
		orig := regexp.MustCompile(`^(?:` + raw + `)$`)
		translated := strings.TrimPrefix(userRegex(b.String()), "(*UTF)")
		tr, err := regexp.Compile(translated)
		if err != nil {
			t.Fatalf("%q → %q: not RE2 any more: %v", b.String(), translated, err)
		}
		for range 30 {
			var s strings.Builder
			for range rng.IntN(6) {
				s.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			if orig.MatchString(s.String()) != tr.MatchString(s.String()) {
				t.Fatalf("%q → %q: they disagree on %q", b.String(), translated, s.String())
			}
		}
		checked++
	}
}
