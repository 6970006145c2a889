package render

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pcre"
)

// fuzzInput is one set of free-text values that the model can hold.
type fuzzInput struct {
	value, regex, path, host, origin string
}

var benignInput = fuzzInput{value: "v", regex: "r", path: "/x", host: "h.example", origin: "https://o.example"}

// modelHolds filters values the way the translation step does: no control
// characters except tab, regexes in RE2 syntax that nginx can run, server hostnames as DNS
// names (redirect and rewrite hostnames take the raw string here, which is
// more than the translation step allows).
func (in fuzzInput) modelHolds() bool {
	for _, s := range []string{in.value, in.regex, in.path, in.host, in.origin} {
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				return false
			}
		}
		if len(s) > 1024 {
			return false
		}
	}
	_, err := pcre.Translate(in.regex) // what the translation step accepts
	return err == nil
}

// fuzzModel puts the input into every free-text field of a model.
func fuzzModel(in fuzzInput) *model.Gateway {
	up := upstream("default_echo_80")
	up2 := upstream("default_echo2_80")
	ref := model.RouteRef{Kind: "HTTPRoute", Namespace: in.value, Name: in.value, RuleName: in.value}
	mods := model.HeaderModifier{
		Set: []model.Header{{Name: "X-Set", Value: in.value}},
		Add: []model.Header{{Name: "X-Add", Value: in.value}},
	}
	proxy := &model.Rule{ID: "r0", Route: ref, Backends: []model.Backend{backend(up.Name, 2), backend(up2.Name, 1)},
		RequestHeaders: mods, ResponseHeaders: mods,
		Rewrite: &model.Rewrite{Hostname: in.host, Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: in.path, MatchedPrefix: "/loc" + in.path}},
		CORS: &model.CORS{AllowOrigins: []string{in.origin}, AllowMethods: []string{in.value}, AllowHeaders: []string{"X-A"},
			ExposeHeaders: []string{in.value}, AllowCredentials: true},
		Mirrors: []model.Mirror{{Upstream: up2.Name, Numerator: 1, Denominator: 3}},
	}
	proxy.Backends[0].RequestHeaders = mods
	full := &model.Rule{ID: "r1", Route: ref, Backends: []model.Backend{backend(up.Name, 1)},
		Rewrite: &model.Rewrite{Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: in.path}}}
	redirect := &model.Rule{ID: "r2", Route: ref, Redirect: &model.Redirect{Hostname: in.host, StatusCode: 301,
		Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: in.path, MatchedPrefix: "/loc" + in.path}}}
	redirectFull := &model.Rule{ID: "r3", Route: ref, Redirect: &model.Redirect{Hostname: in.host, Scheme: "https",
		Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: in.path}}}
	grpcProxy := &model.Rule{ID: "r4", Route: ref, GRPC: true, Backends: []model.Backend{backend(up.Name, 2), backend(up2.Name, 1)},
		RequestHeaders: mods, ResponseHeaders: mods, Mirrors: []model.Mirror{{Upstream: up2.Name, Numerator: 1, Denominator: 3}}}
	grpcBroken := &model.Rule{ID: "r5", Route: ref, GRPC: true, Backends: []model.Backend{{Weight: 1, Invalid: true}}}
	locs := []model.Location{
		prefix("/loc"+in.path,
			when(redirect, header("x-h", in.value), query("q", in.value)),
			when(redirectFull, method(in.value)),
			when(full, headerRegex("x-r", in.regex)),
			when(full, pathRegex(in.regex)),
			always(proxy)),
		exact("/exact", always(full)),
		exact("/grpc", when(grpcProxy, header("x-g", in.value)), always(grpcBroken)),
	}
	host := "example.com"
	if serverHostname.MatchString(in.host) {
		host = in.host
	}
	gw := gateway(80, map[string][]model.Location{host: locs}, up2, up)
	gw.HTTPServers[0].Listeners = []string{in.value}
	return gw
}

// tokens splits an nginx config into its tokens the way nginx's parser
// does, with every argument that may depend on the input (quoted strings,
// variables) replaced by "A": two configs with equal token lists have the
// same directives and blocks, whatever the strings.
func tokens(conf string) []string {
	var out []string
	for i := 0; i < len(conf); {
		c := conf[i]
		switch {
		case c == '#':
			for i < len(conf) && conf[i] != '\n' {
				i++
			}
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == ';' || c == '{' || c == '}':
			out = append(out, string(c))
			i++
		case c == '"' || c == '\'':
			i++
			for i < len(conf) && conf[i] != c {
				if conf[i] == '\\' {
					i++
				}
				i++
			}
			i++
			out = append(out, "A")
		default:
			start := i
			for i < len(conf) && !strings.ContainsRune(" \t\r\n;{}\"'", rune(conf[i])) {
				i++
			}
			if conf[start] == '$' {
				out = append(out, "A")
			} else {
				out = append(out, variableName.ReplaceAllString(conf[start:i], "$$V"))
			}
		}
	}
	return out
}

var variableName = regexp.MustCompile(`\$[A-Za-z0-9_]+`)

func FuzzRender(f *testing.F) {
	seeds := []fuzzInput{
		benignInput,
		{value: `a"; return 200 "x`, regex: `(?P<host>x)|(?<ngo_dollar>y)`, path: `/a;b{c}$d`, host: "*.example.com", origin: `https://*.a"b`},
		{value: `$host ${x} \ \" '`, regex: `\Q$"\E[\]"]\x{263a}é`, path: `/p%20q/"r"`, host: `evil"; }`, origin: "*"},
		{value: "}", regex: `[[:alpha:]]+\pL(?i)a{2,3}$`, path: "no-slash", host: "", origin: "http://*"},
		{value: "tab\tvalue", regex: `^$`, path: "/", host: "~regex", origin: `\`},
		{value: "", regex: `(?s).*`, path: "/%0a%0d", host: "a..b", origin: "https://x:1"},
	}
	for _, s := range seeds {
		f.Add(s.value, s.regex, s.path, s.host, s.origin)
	}
	benign, err := Render(fuzzModel(benignInput))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, value, regex, path, host, origin string) {
		in := fuzzInput{value, regex, path, host, origin}
		if !in.modelHolds() {
			t.Skip()
		}
		files, err := Render(fuzzModel(in))
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range benign.Config {
			got := tokens(string(files.Config[name]))
			if w := tokens(string(want)); strings.Join(got, " ") != strings.Join(w, " ") {
				t.Fatalf("%s: the directives changed with the input:\n%s", name, firstDiff(w, got))
			}
		}
		dir := t.TempDir()
		writeTree(t, dir, merged(files))
		if err := testenv.NginxTest(dir); err != nil {
			t.Fatalf("input %+v: %v", in, err)
		}
	})
}

func firstDiff(want, got []string) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			lo := max(0, i-8)
			return fmt.Sprintf("at token %d: want …%v…, got …%v…", i, want[lo:min(len(want), i+8)], got[lo:min(len(got), i+8)])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(want), len(got))
}

// TestRandomHostileValues is the fuzz target's property on many random
// values at once: one model holding 200 fuzz models (one server each), so
// a single `nginx -t` checks them all.
func TestRandomHostileValues(t *testing.T) {
	seed := uint64(1)
	if s := os.Getenv("RENDER_RANDOM_SEED"); s != "" { // explore: RENDER_RANDOM_SEED=n go test -run TestRandomHostileValues
		fmt.Sscan(s, &seed)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	const nasty = "\"\\$'{};# \t~*^()[]|?+.%/:@&=,<>`!-_aZ09é☺"
	randomString := func(alphabet []rune, n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		return b.String()
	}
	regexTokens := []string{`(`, `)`, `(?:`, `(?P<host>`, `(?<ngo_dollar>`, `(?i)`, `(?s)`, `(?U)`, `[`, `]`, `[^`, `[:alpha:]`,
		`\Q`, `\E`, `\x{263a}`, `\x{41}`, `\pL`, `\p{Greek}`, `\PN`, `\b`, `\z`, `\A`, `^`, `$`, `*`, `+`, `?`, `{2}`, `{1,3}`,
		`{,3}`, `|`, `.`, `a`, `é`, `"`, `'`, `;`, `#`, `\\`, `\d`, `\s`, `-`, `\123`, `\0`, `\617`, ` `, `{`, `}`, `$1`, `\$`}
	randomRegex := func() string {
		var b strings.Builder
		for range 1 + rng.IntN(10) {
			b.WriteString(regexTokens[rng.IntN(len(regexTokens))])
		}
		return b.String()
	}
	gw := &model.Gateway{Namespace: "default", Name: "random", Settings: testSettings()}
	var benignGW *model.Gateway
	upstreams := map[string]bool{}
	for i := 0; len(gw.HTTPServers) < 200; i++ {
		in := fuzzInput{
			value: randomString([]rune(nasty), 24), regex: randomRegex(),
			path: randomString([]rune(nasty), 24), host: randomString([]rune(nasty), 12), origin: randomString([]rune(nasty), 24),
		}
		if !in.modelHolds() {
			continue
		}
		m := fuzzModel(in)
		srv := m.HTTPServers[len(m.HTTPServers)-1]
		srv.Hostname = fmt.Sprintf("h%d.example", len(gw.HTTPServers))
		renamed := map[*model.Rule]bool{}
		for _, loc := range srv.Locations {
			for _, c := range loc.Candidates {
				if !renamed[c.Rule] {
					renamed[c.Rule] = true
					c.Rule.ID += fmt.Sprintf("_%d", len(gw.HTTPServers))
				}
			}
		}
		if len(gw.HTTPServers) == 0 {
			gw.HTTPServers = append(gw.HTTPServers, m.HTTPServers[0])
			benignGW = fuzzModel(benignInput)
		}
		gw.HTTPServers = append(gw.HTTPServers, srv)
		for _, u := range m.Upstreams {
			if !upstreams[u.Name] {
				upstreams[u.Name] = true
				gw.Upstreams = append(gw.Upstreams, u)
			}
		}
	}
	files, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	benign, err := Render(benignGW)
	if err != nil {
		t.Fatal(err)
	}
	// Every random server has the structure of the benign one.
	want := strings.Join(tokens(serverBlocks(string(benign.Config[FileServers]))[1]), " ")
	for i, block := range serverBlocks(string(files.Config[FileServers]))[1:] {
		if got := strings.Join(tokens(block), " "); got != want {
			t.Fatalf("server %d: the directives changed with the input:\n%s", i+1, firstDiff(strings.Fields(want), strings.Fields(got)))
		}
	}
	dir := t.TempDir()
	writeTree(t, dir, merged(files))
	testenv.RequireNginxTest(t, dir)
}

// serverBlocks splits servers.conf at each top-level server comment.
func serverBlocks(conf string) []string {
	parts := strings.Split(conf, "\n# port ")
	return parts[1:]
}
