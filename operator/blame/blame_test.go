package blame

import (
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

func TestLocation(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		file string
		line int
	}{
		// What the sidecar reports: the staging folder stripped.
		{`nginx: [emerg] invalid number of arguments in "add_header" directive in servers.conf:123
nginx: configuration file nginx.conf test failed`, "servers.conf", 123},
		// nginx -t run by hand, or an older sidecar: an absolute path.
		{`nginx: [emerg] unknown directive "bogus" in /var/run/nginx-gateway/configs/stage-xyz/maps.conf:7`, "maps.conf", 7},
		// Without the "nginx: " prefix, as in the error log.
		{`2026/01/02 03:04:05 [emerg] 1#1: host not found in upstream "x" in upstreams.conf:12`, "upstreams.conf", 12},
		// A value that looks like a location is not taken for it.
		{`nginx: [emerg] unexpected "in x.conf:9" in servers.conf:40`, "servers.conf", 40},
		// A warning first, then the error.
		{"nginx: [warn] conflicting server name \"a\" on 0.0.0.0:80, ignored\nnginx: [emerg] bad in servers.conf:5", "servers.conf", 5},
	} {
		file, line, ok := Location(tc.msg)
		if !ok || file != tc.file || line != tc.line {
			t.Errorf("Location(%q) = %s, %d, %v; want %s, %d", tc.msg, file, line, ok, tc.file, tc.line)
		}
	}
	for _, msg := range []string{
		"",
		"nginx: configuration file nginx.conf test failed",
		`nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)`,
		`file "servers.conf.gz": archive is corrupt`,
		`nginx: [warn] something in servers.conf:3`,
	} {
		if file, line, ok := Location(msg); ok {
			t.Errorf("Location(%q) = %s, %d; want none", msg, file, line)
		}
	}
}

func TestRoute(t *testing.T) {
	poison := model.RouteRef{Kind: "HTTPRoute", Namespace: "team-a", Name: "poison", RuleIndex: 1}
	sources := render.Sources{"servers.conf": {{From: 100, To: 130, Route: poison}}}
	got, ok := Route(`nginx: [emerg] invalid number of arguments in "add_header" directive in servers.conf:123`, sources)
	if !ok || got != poison {
		t.Errorf("Route = %+v, %v; want %+v", got, ok, poison)
	}
	// Lines of ours (server blocks, settings) and other files: no route.
	for _, msg := range []string{
		`nginx: [emerg] bad in servers.conf:99`,
		`nginx: [emerg] bad in http.conf:123`,
		`nginx: [emerg] no location here`,
	} {
		if got, ok := Route(msg, sources); ok {
			t.Errorf("Route(%q) = %+v; want none", msg, got)
		}
	}
}
