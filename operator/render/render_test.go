package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TestRenderRefusesBrokenModels: a model that breaks the contract with
// the translation step is an error, never a config nginx might misread.
func TestRenderRefusesBrokenModels(t *testing.T) {
	up := upstream("default_echo_80")
	for _, tc := range []struct {
		name   string
		mutate func(gw *model.Gateway)
		want   string
	}{
		{"unknown upstream", func(gw *model.Gateway) { gw.Upstreams = nil }, "unknown upstream"},
		{"unsafe upstream name", func(gw *model.Gateway) { gw.Upstreams[0].Name = "a b" }, "upstream name"},
		{"unsafe rule id", func(gw *model.Gateway) {
			gw.HTTPServers[1].Locations[0].Candidates[0].Rule.ID = "r;"
		}, "rule id"},
		{"unknown certificate", func(gw *model.Gateway) {
			gw.HTTPServers[1].TLS = &model.ServerTLS{CertificateNames: []string{"nope"}}
		}, "unknown certificate"},
		{"unsafe certificate name", func(gw *model.Gateway) {
			gw.Certificates = []model.Certificate{{Name: "../x"}}
		}, "certificate name"},
		{"regex hostname", func(gw *model.Gateway) { gw.HTTPServers[1].Hostname = "~.*" }, "not a DNS name"},
		{"access log format", func(gw *model.Gateway) { gw.Settings.AccessLogFormat = "xml" }, "access log"},
		{"unknown mirror upstream", func(gw *model.Gateway) {
			gw.HTTPServers[1].Locations[0].Candidates[0].Rule.Mirrors = []model.Mirror{{Upstream: "nope"}}
		}, "mirrors to unknown upstream"},
		{"nil rule", func(gw *model.Gateway) {
			gw.HTTPServers[1].Locations[0].Candidates = []model.Candidate{{Conditions: []model.Condition{method("GET")}}}
		}, "without rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := gateway(80, map[string][]model.Location{"example.com": {prefix("/", always(proxyRule("r0", "web", up.Name)))}}, up)
			tc.mutate(gw)
			_, err := Render(gw)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one about %q", err, tc.want)
			}
		})
	}
	if _, err := Render(nil); err == nil {
		t.Error("Render(nil) succeeded")
	}
}

// TestTemplateFuncsAreHermetic: a template cannot read the environment,
// the clock or a random source, so the same model always renders the same
// files.
func TestTemplateFuncsAreHermetic(t *testing.T) {
	for _, fn := range []string{"env", "expandenv", "now", "date", "ago", "randAlphaNum", "randInt", "shuffle", "uuidv4", "genPrivateKey", "bcrypt"} {
		if _, err := template.New("t").Funcs(templateFuncs()).Parse("{{ " + fn + " }}"); err == nil {
			t.Errorf("template function %q is available; rendering must not depend on the environment, clock or randomness", fn)
		}
	}
	if _, err := template.New("t").Funcs(templateFuncs()).Parse(`{{ "a" | upper | q }}`); err != nil {
		t.Errorf("sprig's hermetic functions and ours must be available: %v", err)
	}
}

// TestTempPathsAreTheSidecarsTempDirs: every *_temp_path in any rendered
// file names one of dataplane.TempDirs, and each of those is named. The
// sidecar creates exactly those folders, writable by nginx's group, in each
// staged tree before its `nginx -t` (which runs as another user): a temp path
// missing from the list would be created by `nginx -t`, 0700 for the
// sidecar, and nginx could not buffer a request body there.
func TestTempPathsAreTheSidecarsTempDirs(t *testing.T) {
	up := upstream("default_echo_80")
	files, err := Render(gateway(80, map[string][]model.Location{"example.com": {prefix("/", always(proxyRule("r0", "web", up.Name)))}}, up))
	if err != nil {
		t.Fatal(err)
	}
	directive := regexp.MustCompile(`(?m)^\s*[a-z_]+_temp_path\s+([^\s;]+)`)
	named := map[string]bool{}
	for file, data := range files.Config {
		for _, m := range directive.FindAllStringSubmatch(string(data), -1) {
			named[m[1]] = true
			if !slices.Contains(dataplane.TempDirs, m[1]) {
				t.Errorf("%s names temp path %q, which is not in dataplane.TempDirs", file, m[1])
			}
		}
	}
	for _, dir := range dataplane.TempDirs {
		if !named[dir] {
			t.Errorf("dataplane.TempDirs lists %q, which no *_temp_path names", dir)
		}
	}
}

// TestSafeNamesAreTheRegexps: isSafeIdent and isSafeFileName accept
// exactly what the regexps they stand for accept, for every byte at every
// place of short names.
func TestSafeNamesAreTheRegexps(t *testing.T) {
	ident := regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	fileName := regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	names := []string{"", "a", "a.b", ".a", "-a", "a-", "a\n", "a\x00b", "é", "a b", "A_9"}
	for c := range 256 {
		for _, at := range []string{"%c", "a%c", "%ca", "a%cb"} {
			names = append(names, fmt.Sprintf(at, byte(c)))
		}
	}
	for _, name := range names {
		if got, want := isSafeIdent(name), ident.MatchString(name); got != want {
			t.Errorf("isSafeIdent(%q) = %v, the regexp says %v", name, got, want)
		}
		if got, want := isSafeFileName(name), fileName.MatchString(name); got != want {
			t.Errorf("isSafeFileName(%q) = %v, the regexp says %v", name, got, want)
		}
	}
}

// TestRepeatedLocationsWrittenOnce: model locations that give the same
// nginx location (a prefix with and without its slash, the root twice)
// write it once, the first one's, among
// many locations that do not repeat (mayRepeat checks only some of them
// against each other); nginx would refuse a duplicate location.
func TestRepeatedLocationsWrittenOnce(t *testing.T) {
	up := upstream("default_web_80")
	first, later := proxyRule("r0", "first", up.Name), proxyRule("r1", "later", up.Name)
	locs := []model.Location{prefix("/a", always(first)), exact("/b", always(first)), prefix("/", always(first))}
	for i := range 3000 {
		locs = append(locs, prefix(fmt.Sprintf("/other-%d", i), always(first)))
	}
	locs = append(locs, prefix("/a/", always(later)), exact("/a", always(later)), prefix("/b/", always(later)), prefix("//", always(later)))
	files, err := Render(gateway(80, map[string][]model.Location{"example.com": locs}, up))
	if err != nil {
		t.Fatal(err)
	}
	_, conf, _ := strings.Cut(string(files.Config[FileServers]), `host "example.com"`)
	for _, loc := range []string{`location = "/a" {`, `location "/a/" {`, `location = "/b" {`, `location "/b/" {`, `location "/" {`, `location "/other-2999/" {`} {
		if n := strings.Count(conf, loc+"\n"); n != 1 {
			t.Errorf("%s written %d times, want once", loc, n)
		}
	}
	// The later rule's own are "= /a" (an exact match's block is the
	// exact match's) and "/b/"; the repeated ones are the first's.
	if n := strings.Count(conf, "/later/0/"); n != 2 {
		t.Errorf("the later rule serves %d locations, want 2 (\"= /a\", \"/b/\")", n)
	}
	dir := t.TempDir()
	writeTree(t, dir, merged(files))
	testenv.RequireNginxTest(t, dir)
}
