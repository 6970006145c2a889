package render

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var logRootLine = regexp.MustCompile(`^\s*root "/ngo/`)

// TestSources: in every golden case, Files.Sources gives sorted,
// disjoint ranges, each whole blocks (a comment line to a closing brace),
// consecutive blocks of one rule in one range; every location root naming a route for the access log
// (accesslog.go) lies in a range of that route; the lines of server blocks and settings are nobody's; and
// rendering twice gives the same sources.
func TestSources(t *testing.T) {
	blamed := 0
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Render(tc.gw(t))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Render(tc.gw(t))
			if !reflect.DeepEqual(files.Sources, again.Sources) {
				t.Error("two renders of one model give different sources")
			}
			for name := range files.Sources {
				if _, ok := files.Config[name]; !ok {
					t.Errorf("sources of %s, which is not a config file", name)
				}
			}
			for name, data := range files.Config {
				lines := strings.Split(string(data), "\n")
				ranges := files.Sources[name]
				for i, r := range ranges {
					if r.From < 1 || r.To < r.From || r.To > len(lines) {
						t.Fatalf("%s: range %+v outside lines 1..%d", name, r, len(lines))
					}
					if i > 0 && ranges[i-1].To >= r.From {
						t.Errorf("%s: ranges %+v and %+v overlap or are unsorted", name, ranges[i-1], r)
					}
					if i > 0 && ranges[i-1].Route == r.Route && strings.TrimSpace(strings.Join(lines[ranges[i-1].To:r.From-1], "")) == "" {
						t.Errorf("%s: ranges %+v and %+v of one rule with only blank lines between are not one", name, ranges[i-1], r)
					}
					if first := strings.TrimSpace(lines[r.From-1]); !strings.HasPrefix(first, "#") {
						t.Errorf("%s:%d: range starts at %q, not a block's comment", name, r.From, first)
					}
					if last := strings.TrimSpace(lines[r.To-1]); last != "}" {
						t.Errorf("%s:%d: range ends at %q, not a block's end", name, r.To, last)
					}
				}
				for n, line := range lines {
					if !logRootLine.MatchString(line) {
						if trimmed := strings.TrimSpace(line); strings.HasPrefix(trimmed, "server {") || strings.HasPrefix(trimmed, "listen ") {
							if ref, ok := files.Sources.At(name, n+1); ok {
								t.Errorf("%s:%d %q blamed on %+v", name, n+1, trimmed, ref)
							}
						}
						continue
					}
					ref, ok := files.Sources.At(name, n+1)
					if want := "root " + strings.TrimSuffix(quoteValue(logRootPrefix+ref.Namespace+"/"+ref.Name+"/"), `"`); !ok || !strings.HasPrefix(strings.TrimSpace(line), want) {
						t.Errorf("%s:%d %q: sources say %+v, %v", name, n+1, strings.TrimSpace(line), ref, ok)
					}
					blamed++
				}
			}
		})
	}
	if blamed < 10 {
		t.Errorf("only %d route lines checked", blamed)
	}
}

func TestSourcesAt(t *testing.T) {
	s := Sources{"servers.conf": {{From: 3, To: 5}, {From: 9, To: 9}}}
	s["servers.conf"][0].Route.Name = "a"
	s["servers.conf"][1].Route.Name = "b"
	for _, tc := range []struct {
		file string
		line int
		want string
	}{
		{"servers.conf", 2, ""}, {"servers.conf", 3, "a"}, {"servers.conf", 5, "a"}, {"servers.conf", 6, ""},
		{"servers.conf", 9, "b"}, {"servers.conf", 10, ""}, {"maps.conf", 3, ""},
	} {
		ref, ok := s.At(tc.file, tc.line)
		if ok != (tc.want != "") || ref.Name != tc.want {
			t.Errorf("At(%s, %d) = %+v, %v; want %q", tc.file, tc.line, ref, ok, tc.want)
		}
	}
}
