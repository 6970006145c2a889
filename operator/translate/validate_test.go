package translate

import (
	"reflect"
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	type check struct {
		name string
		fn   func(string) error
		ok   []string
		bad  []string
	}
	for _, c := range []check{
		{"header name", func(s string) error { return checkHeaderName("f", s) },
			[]string{"X-Foo", "a", "!#$%&'*+-.^_`|~09"},
			[]string{"", "a b", "a:b", "a\r", "a\"", "ä", "a(b)", "a/b", "a{b}"}},
		{"no control", func(s string) error { return checkNoControl("f", s) },
			[]string{"", "a b", "tab\there", `"quoted" \ $x {y};`, "ünïcode"},
			[]string{"a\rb", "a\nb", "a\x00", "\x1b[0m", "a\x7f"}},
		{"path", func(s string) error { return checkPath("f", s) },
			[]string{"/", "/a", "/a/b/", "/a%20b", "/a;b=c", "/~user/@x:y", "/a$b", "/a.b", "/.well-known"},
			[]string{"", "a", " /a", "/a b", "/a\tb", "/a\nb", "/a\"b", "/a\\b", "/a{b}", "/a<b>", "/a^b", "/a|b", "/a`b",
				"/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/a%2Fb", "/a%2fb", "/a#b", "/a?b", "/a%", "/a%g0", "/\x00"}},
		{"hostname", func(s string) error { return checkHostname("f", s, false) },
			[]string{"a", "example.com", "a-b.example.com", "xn--bcher-kva.example", "0.example"},
			[]string{"", "*.example.com", "Example.com", "a_b.com", "-a.com", "a-.com", "a..b", ".a", "a.", "10.0.0.1", "::1", "a b", "a\n"}},
		{"wildcard hostname", func(s string) error { return checkHostname("f", s, true) },
			[]string{"example.com", "*.example.com", "*.com"},
			[]string{"*", "*.", "**.example.com", "a.*.com", "*example.com", "*.*.com"}},
		{"regex", func(s string) error { return checkRegex("f", s) },
			[]string{"^/a$", `/v[0-9]+/.*`, `(?i)^/API`, `\.jpg$`, `a{1,3}`, `"quoted"`, strings.Repeat("(", 260) + "a" + strings.Repeat(")", 260)},
			[]string{"", "(", `(a)\1`, `(?=a)`, `(?<!a)b`, "a\nb", "a\x00", `\Z`, `\C`, `/x[\pL-z]+`, `(a+)+`, `.*x.*`, `(?:[^/]x){1,150}`}},
		{"section name", func(s string) error { return checkSectionName("f", s) },
			[]string{"http", "a-b.c-d", "1"},
			[]string{"", "A", "a_b", "a b", "-a", "a.", "a;b"}},
	} {
		for _, s := range c.ok {
			if err := c.fn(s); err != nil {
				t.Errorf("%s %q: unexpected error %v", c.name, s, err)
			}
		}
		for _, s := range c.bad {
			if err := c.fn(s); err == nil {
				t.Errorf("%s %q: accepted", c.name, s)
			}
		}
	}
}

func TestNames(t *testing.T) {
	if got := safeName("My-Ns.x/y_z"); got != "my_ns_x_y_z" {
		t.Errorf("safeName = %q", got)
	}
	var u uniqueNames
	got := []string{u.take("a"), u.take("b"), u.take("a"), u.take("a"), u.take("a_2")}
	if want := []string{"a", "b", "a_2", "a_3", "a_2_2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unique names = %v, want %v", got, want)
	}
}

func TestPathHelpers(t *testing.T) {
	for path, want := range map[string][]string{
		"/":      {"/"},
		"/a":     {"/a", "/"},
		"/a/b/":  {"/a/b", "/a", "/"},
		"/a/b/c": {"/a/b/c", "/a/b", "/a", "/"},
		"/a//":   {"/a", "/"},
	} {
		if got := prefixAncestors(path); !reflect.DeepEqual(got, want) {
			t.Errorf("prefixAncestors(%q) = %v, want %v", path, got, want)
		}
	}
	for _, tc := range []struct {
		prefix, path string
		want         bool
	}{
		{"/", "/anything", true},
		{"/foo", "/foo", true},
		{"/foo", "/foo/bar", true},
		{"/foo", "/foobar", false},
		{"/foo", "/fo", false},
	} {
		if got := prefixCovers(tc.prefix, tc.path); got != tc.want {
			t.Errorf("prefixCovers(%q, %q) = %v", tc.prefix, tc.path, got)
		}
	}
	for h, want := range map[string][]string{
		"":          {""},
		"a.b.c":     {"a.b.c", "*.b.c", "*.c", ""},
		"*.b.c":     {"*.b.c", "*.c", ""},
		"localhost": {"localhost", ""},
	} {
		if got := coveringHostnames(h); !reflect.DeepEqual(got, want) {
			t.Errorf("coveringHostnames(%q) = %v, want %v", h, got, want)
		}
	}
}
