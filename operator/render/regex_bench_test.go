package render

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pcre"
)

// hostileRegexCases are the worst patterns operator/pcre still accepts
// (each backtracks once per position of an 8 KB subject), each with a
// subject built to make it backtrack, side by side with a plain pattern
// on the same subject.
var hostileRegexCases = []struct {
	name, pattern, subject string
}{
	// PCRE2 fails at once when a subject lacks a character every match
	// needs (the "required" x, z): the subjects hold it where no match can
	// end, so the whole backtracking runs.
	{"plain", `plain`, strings.Repeat("/", 8000)},
	{"dotstar-slash-digits", `.*/[0-9]+`, strings.Repeat("/1", 3999) + "/!"},
	{"dotstar-slash-digits-utf8", `.*/[0-9]+`, strings.Repeat("é/1", 1999) + "/!"},
	{"delimited-star", `(?:/[a-z]+)*x`, strings.Repeat("/a", 3999) + "x!"},
	{"two-loops-separated", `[^/]*(?:/[^/]*)*x`, strings.Repeat("a/", 3999) + "x!"},
	{"any-then-fixed", `(?s).*a.{16}z`, "z" + strings.Repeat("a", 7999)},
	{"any-then-fixed-60", `(?s).*a.{60}z`, "z" + strings.Repeat("a", 7999)},
	{"any-then-class-250", `(?s).*a[a-z]{250}z`, "z" + strings.Repeat("a", 7999)},
	{"case-folded", `(?i)(?:/k[a-z]*)*k`, strings.Repeat("/kkkk", 1599) + "/k!"},
	{"plain-utf8", `plain`, strings.Repeat("é", 4000)},
}

// BenchmarkHostileRegex sends a hostile 8 KB header through nginx to a
// location whose only candidate is a header regex that does not match
// (404), one sub-benchmark per pattern: the cost per request of the worst
// accepted patterns next to a plain one. Requests go to 127.0.0.1.
func BenchmarkHostileRegex(b *testing.B) {
	var locations []model.Location
	for i, c := range hostileRegexCases {
		if _, err := pcre.Translate(c.pattern); err != nil {
			b.Fatalf("%s: %v", c.pattern, err)
		}
		rule := &model.Rule{ID: fmt.Sprintf("r%d", i), Route: route("bench", i), Redirect: &model.Redirect{StatusCode: 302}}
		locations = append(locations, prefix("/"+c.name, when(rule, headerRegex("x-h", c.pattern))))
	}
	port := freePort(b)
	files, err := Render(gateway(port, map[string][]model.Location{"example.com": locations}))
	if err != nil {
		b.Fatal(err)
	}
	n := startNginx(b, files, nil, "127.0.0.1", port)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for _, c := range hostileRegexCases {
		b.Run(c.name, func(b *testing.B) {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/%s", n.addr, port, c.name), nil)
			req.Host = "example.com"
			req.Header.Set("X-H", c.subject)
			for b.Loop() {
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					b.Fatalf("status %d, want 404 (no match)", resp.StatusCode)
				}
			}
		})
	}
}

// freePort returns a port free on 127.0.0.1.
func freePort(t testing.TB) int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	port, _ := strconv.Atoi(p)
	return int32(port)
}
