package render

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// The upstream blocks of http{} and stream{}, and the names nginx knows
// the HTTP upstreams by.

// upstreamBlock is the view of the upstreams template ("ngo.upstreams"),
// which an http{} or stream{} block includes: every upstream names its
// endpoints by DNS and nginx resolves them at run time (see the template).
// zone names the shared memory zone, keepalive the idle connections kept
// per worker (0: no keepalive directive, as in stream{}), service the SRV
// service nginx asks for (HTTP and stream upstreams without endpoints
// resolve to different places).
func upstreamBlock(zone string, keepalive int, service string, ups []model.Upstream, ref func(string) string) upstreamsView {
	v := upstreamsView{
		Resolver:  dataplane.EndpointsDNSAddr,
		Zone:      zone,
		Keepalive: keepalive,
		Service:   service,
	}
	// Shortest nginx names first, so that nginx's scan for the upstream of
	// each proxy_pass (httpUpstreamRefs) meets them grouped by length: its
	// length test then takes the same branch for long runs, which the CPU
	// predicts, where upstreams in the model's order made it guess wrong at
	// every seventh or so (callgrind's branch simulation at 3,000 routes:
	// 1.9 M mispredicted branches in ngx_http_upstream_add against 0.03 M).
	// (Sorted as pointers into the model, each nginx name computed once
	// and kept beside its upstream for the function upstreams: the model's
	// order is the model's.)
	refs := make([]string, len(ups))
	order := make([]int, len(ups))
	for i := range ups {
		refs[i], order[i] = ref(ups[i].Name), i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(len(refs[a]), len(refs[b])), strings.Compare(refs[a], refs[b]))
	})
	v.Upstreams, v.refs = make([]*model.Upstream, len(ups)), make([]string, len(ups))
	for i, j := range order {
		v.Upstreams[i], v.refs[i] = &ups[j], refs[j]
	}
	// One shared memory zone for all upstreams (nginx allows groups to
	// share a zone). The resolved peers live in it, so it must hold every
	// ready endpoint at run time: 1 MiB (about 2,000 peers) plus 32 KiB
	// per upstream. Pages never used are never touched. Its size may change
	// with any route change: nginx never reuses an upstream zone across a
	// reload, and copies the resolved peers into the new one whatever its
	// size (TestTrafficReloadKeepsResolvedPeers).
	v.ZoneKB = roundUp(1024+32*len(ups), 1024, 1024)
	return v
}

// upstreamViewOf is what the upstream template writes of u, whose nginx
// name is ref: built only for an upstream whose text is not reused, so it
// may read nothing but u and ref (the fragment's key is made of those,
// upstreamContent).
func upstreamViewOf(u *model.Upstream, ref string) upstreamView {
	return upstreamView{
		Comment:  comment("Service " + u.ServiceNamespace + "/" + u.ServiceName + " port " + strconv.Itoa(int(u.ServicePort))),
		Name:     ref,
		DNSName:  dataplane.UpstreamDNSName(u.Name),
		Protocol: string(u.Protocol),
	}
}

// upstreamRef is the name of the model's upstream name in nginx's stream
// block: a short hash of it, then the name, which the stream access log
// shows (UpstreamRef). nginx looks up the upstream of every proxy_pass by
// comparing its name, case-insensitively byte by byte, with every upstream
// of the same length in turn; the model's names (<namespace>_<service>_<port>)
// are mostly of one length and share long prefixes, so a leading hash makes
// nearly every comparison end at its first bytes.
func upstreamRef(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "u" + hex.EncodeToString(sum[:3]) + "_" + name
}

// httpUpstreamRefs names the HTTP upstreams in nginx: "u" and 6 to 13 hex
// digits of a hash of the model's name, as many as the hash's 4th byte says
// (mod 8), or upstreamRef's longer name for the upstreams whose names
// collide (about one pair in 5,000 upstreams; which upstreams depends only
// on their names, not on their order). nginx finds the upstream of every
// proxy_pass and grpc_pass by comparing its name with the name of every
// upstream before it: first the length, then byte by byte. Short names that
// mostly differ in length skip most of those comparisons: at 3,000 routes
// (BenchmarkNginxCheck, CPU time) 1.27× a hand-written config's `nginx -t`
// with upstreamRef's names, 1.19× with 6 digits each, 1.04× with these. No
// more digits than that: random digits do not compress, and the ConfigMap
// has a size limit. upstreams.conf lists them by length (upstreamBlock). The access log names the model's upstream ($ngo_backend)
// and each upstream's comment its Service.
func httpUpstreamRefs(ups []model.Upstream) map[string]string {
	names := make(map[string]string, len(ups))
	taken := make(map[string]int, len(ups))
	for _, u := range ups {
		short := shortUpstreamRef(u.Name)
		names[u.Name] = short
		taken[short]++
	}
	for name, short := range names {
		if taken[short] > 1 {
			names[name] = upstreamRef(name)
		}
	}
	return names
}

// shortUpstreamRef is the short nginx name of an HTTP upstream
// (httpUpstreamRefs).
func shortUpstreamRef(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "u" + hex.EncodeToString(sum[:7])[:6+int(sum[3])%8]
}

// httpUpstream is the nginx name of an HTTP upstream (httpUpstreamRefs).
func (r *renderer) httpUpstream(name string) string {
	if n, ok := r.httpUpstreamNames[name]; ok {
		return n
	}
	return upstreamRef(name)
}
