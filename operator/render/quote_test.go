package render

import (
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
	// operator/pcre has the translation's tests (tables, limits, and the
	// differential test against nginx); this checks the wiring.
	for in, want := range map[string]string{
		`a.b`:                `\A(?:a(?:[\x00-\x09\x0b-\x7f]|`,
		`(?P<host>x)(?<y>z)`: `\A(?:xz)\z`,
		`/v[0-9]+$`:          `\A(?:/v[0-9]+\z)\z`,
	} {
		if got, err := userRegex(in); err != nil || !strings.HasPrefix(got, want) {
			t.Errorf("userRegex(%q) = %q, %v; want %q…", in, got, err, want)
		}
	}
	if _, err := userRegex(`(a+)+`); err == nil {
		t.Errorf("userRegex((a+)+): no error")
	}
}
