package render

import (
	"fmt"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// grpcView is how a location answers a GRPCRoute's request: grpc_pass to
// the backend (HTTP/2, h2c) with its grpc_set_header directives, or, when
// Pass is empty, a gRPC status of the gateway's own (templates/grpc.tmpl).
type grpcView struct {
	Headers     []kv     // quoted name, quoted value
	HideHeaders []string // quoted names of the backend's response headers to drop
	Pass        string
	// TLS are the grpc_ssl_* directives of a TLS upstream (backendtls.go).
	TLS []kv
	// Status and Message (quoted) are the grpc-status and grpc-message of
	// a trailers-only answer: HTTP 200, content-type application/grpc, no
	// body, which nginx sends as one HTTP/2 HEADERS frame that ends the
	// stream.
	Status  int
	Message string
}

// grpcUnavailable is gRPC's UNAVAILABLE, the code the GRPCRoute spec asks
// for when a request's backend is invalid; the gateway also answers it for
// a rule without backends, and nginx's local no-endpoints server answers it
// to a gRPC call whose backend has no endpoints (templates/upstreams.conf.tmpl):
// nothing can serve the call now; a client may retry.
const grpcUnavailable = 14

// grpcFinal fills the location where a GRPCRoute's request is answered (see
// final, which has given the location its access log root and response
// headers).
func (r *renderer) grpcFinal(sc *serverCtx, lv *locationView, rule *model.Rule, backend *model.Backend, upstream *model.Upstream, inPlace bool) error {
	switch {
	case rule.Return != nil:
		lv.GRPC = grpcStatus(grpcUnavailable, "no backend for this method")
		return nil
	case upstream == nil:
		lv.GRPC = grpcStatus(grpcUnavailable, "invalid backend for this method")
		return nil
	}
	if !inPlace {
		// grpc_pass sends the current URI, which our jump to an internal
		// location replaced: put the client's path back.
		lv.Script = append(lv.Script, grpcRestorePath())
	}
	// Response headers the modifiers replace or remove: grpc_hide_header,
	// as proxy_hide_header does not apply to grpc_pass.
	hide := lv.HideHeaders
	lv.HideHeaders = nil
	lv.GRPC = &grpcView{Pass: upstreamScheme("grpc", upstream) + "://" + r.httpUpstream(upstream.Name), Headers: r.grpcRequestHeaders(rule, backend), HideHeaders: hide, TLS: r.upstreamTLSDirectives("grpc", upstream)}
	return r.addMirrors(sc, lv, rule)
}

func grpcStatus(code int, message string) *grpcView {
	return &grpcView{Status: code, Message: quote(message)}
}

// grpcRestorePath sets the URI grpc_pass sends back to the client's path.
func grpcRestorePath() string {
	return fmt.Sprintf("rewrite ^ \"${%s}\" break;", varURI)
}

// grpcRequestHeaders are the grpc_set_header directives of a GRPCRoute's
// request: the defaults of proxied requests (the client's Host becomes
// :authority, X-Forwarded-*) with the rule's and the backend's header
// modifiers applied.
func (r *renderer) grpcRequestHeaders(rule *model.Rule, backend *model.Backend) []kv {
	h := &requestHeaderList{index: map[string]int{}}
	for _, d := range defaultRequestHeaders {
		if d.Key != "Connection" { // HTTP/2 has no Connection header
			h.put(d.Key, d.Value, "", false)
		}
	}
	return h.withFilters(r, rule, backend)
}

// grpcMirror fills a mirror location of a GRPCRoute's rule: the copy goes
// to the mirror's backend with gRPC too. The subrequest runs the server's
// rewrites again, so the client's path comes from $request_uri (a gRPC
// path has no query and nothing to escape).
func (r *renderer) grpcMirror(in *locationView, rule *model.Rule, up *model.Upstream) {
	in.Script = append(in.Script, "rewrite ^ $request_uri break;")
	in.GRPC = &grpcView{Pass: upstreamScheme("grpc", up) + "://" + r.httpUpstream(up.Name), Headers: r.grpcRequestHeaders(rule, nil), TLS: r.upstreamTLSDirectives("grpc", up)}
}
