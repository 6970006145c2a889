package pcre

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkRefusedPatterns measures, for contrast with the render
// package's BenchmarkHostileRegex, what patterns the backtracking rule
// refuses cost nginx per request (written out anyway), next to an
// accepted one, each on a subject built to make it backtrack (about 7 KB
// of path; the exponential one on 26 bytes). Requests go to 127.0.0.1.
func BenchmarkRefusedPatterns(b *testing.B) {
	cases := []struct{ name, re, subject string }{
		{"accepted-dotstar-slash-digits", `.*/[0-9]+`, strings.Repeat("x/", 3500) + "!"},
		// the subjects hold the required last character (PCRE2 checks for
		// it before matching) where it cannot end a match
		{"refused-quadratic", `.*x.*y`, strings.Repeat("x", 7000) + "y!"},
		{"refused-cubic", `.*x.*x.*y`, strings.Repeat("x", 7000) + "y!"},
		{"refused-exponential", `(a+)+b`, strings.Repeat("a", 26) + "cb"},
	}
	for _, c := range cases {
		p, _, err := emitPattern(c.re)
		if err != nil {
			b.Fatal(err)
		}
		n := startRegexes(b, []string{p}) // one pattern per nginx: only it runs
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				resp, err := n.client.Get(n.base + "/g0/" + c.subject)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(body) != "0" {
					b.Fatalf("%s: status %d, body %q", c.re, resp.StatusCode, body)
				}
			}
		})
	}
}
