package model

import "net/netip"

// Gateway is everything the data plane of one Gateway serves. It is produced
// by the translation step (already validated, already ordered) and consumed by the
// render step. Every slice is sorted deterministically by the translation step so
// that rendering the same Gateway twice gives byte-identical files.
type Gateway struct {
	// Namespace and Name of the Gateway object.
	Namespace string
	Name      string

	// Settings are the data-plane settings from the GatewayClass parameters.
	Settings Settings

	// HTTPServers are the HTTP and HTTPS virtual servers, sorted by
	// (Port, Hostname). For each port that has at least one listener there is
	// exactly one server with Default true that catches hostnames no other
	// server on that port claims (it answers 404).
	// Routes that serve every hostname of a port (listener and route
	// without hostname) put their locations on that Default server itself,
	// so it answers 404 only for paths none of its locations take.
	HTTPServers []HTTPServer

	// Upstreams are the backend groups referenced by any action, sorted by Name.
	Upstreams []Upstream

	// Certificates are the TLS key pairs used by HTTPS servers, sorted by Name.
	// The render step writes them into the Secret, never the ConfigMap.
	Certificates []Certificate

	// BackendClientCertificate, when set, is the key pair nginx presents to
	// the backends it speaks TLS to (Gateway spec.tls.backend); written
	// into the Secret like Certificates.
	BackendClientCertificate *Certificate

	// StreamServers are the TCP, UDP and TLS listeners' servers (stream.go),
	// sorted by (Port, Protocol).
	StreamServers []StreamServer
	// StreamUpstreams are the backend groups of the stream servers, sorted
	// by Name: a Service port proxied at the connection level, apart from
	// Upstreams (an HTTP upstream speaks HTTP; a UDP one its own protocol).
	StreamUpstreams []Upstream
}

// Settings are the data-plane settings that come from the GatewayClass
// parametersRef (api/v1alpha1 GatewayParameters) or their defaults.
type Settings struct {
	// WorkerConnections per worker.
	WorkerConnections int32
	// AccessLogFormat is "json", "text" or "off".
	AccessLogFormat string
	// WorkerShutdownTimeout bounds how long old workers keep connections
	// after a reload, in seconds.
	WorkerShutdownTimeoutSeconds int32
}

// HTTPServer is one nginx `server` block: one port and one hostname.
type HTTPServer struct {
	// Port is the listener port.
	Port int32
	// Hostname is an exact hostname ("foo.example.com"), a wildcard
	// ("*.example.com") or "" for a listener without hostname (matches all).
	// Default servers have Hostname "", and only they: the locations of
	// listeners without hostname go on the port's default server.
	Hostname string
	// Default marks the catch-all server of a port (nginx default_server).
	Default bool
	// TLS is set for HTTPS listeners.
	TLS *ServerTLS
	// Locations are sorted: the render step writes them in this order.
	Locations []Location
	// Listeners names the Gateway listener (sectionName) whose requests
	// this server takes: the most specific one whose hostname covers the
	// server's (listener isolation); used for comments and access logs.
	Listeners []string
}

// ServerTLS says which certificates an HTTPS server presents.
type ServerTLS struct {
	// CertificateNames refer to Gateway.Certificates[].Name, in order.
	CertificateNames []string
	// ClientValidation, when set, asks clients for a certificate that
	// chains to its CA bundle (Gateway spec.tls.frontend). Every HTTPS
	// server of a port has the same.
	ClientValidation *ClientValidation
}

// ClientValidation is client certificate validation on an HTTPS port.
type ClientValidation struct {
	// CAPEM is the validated PEM bundle of CA certificates.
	CAPEM []byte
	// InsecureFallback serves clients without a valid certificate too
	// (mode AllowInsecureFallback); otherwise they are refused.
	InsecureFallback bool
}

// PathMatchKind is how a Location matches the request path.
type PathMatchKind string

const (
	// PathExact matches the path exactly (`location = /p`).
	PathExact PathMatchKind = "Exact"
	// PathPrefix matches the path and every path below it, element-wise:
	// "/foo" matches "/foo" and "/foo/bar" but not "/foobar". The render step
	// writes `location = /foo` and `location /foo/` (or only `location /` for "/").
	PathPrefix PathMatchKind = "PathPrefix"
)

// Location is a set of request paths. Its Candidates are the route matches
// that can apply to a request whose path falls into this location, already
// in Gateway API precedence order: the first candidate whose Conditions all
// hold wins. Candidates inherited from less specific paths are included, so
// that a request falls through to them when more specific matches fail.
// If no candidate matches, the answer is 404.
//
// There is never both an Exact and a PathPrefix location for one path: an
// exact match of a path that is also a prefix location is a candidate of
// that prefix location with an anchored ConditionPathRegex ("^/p$").
// Regular-expression path matches are ConditionPathRegex candidates of
// every location of their server, and a "/" location then always exists.
type Location struct {
	// Path is decoded: percent-escapes of the HTTPRoute value are resolved
	// ("/caf%C3%A9" is "/café"), because nginx matches locations on the
	// decoded, normalized request path. It holds no control characters.
	Path       string
	Match      PathMatchKind
	Candidates []Candidate
}

// Candidate is one HTTPRoute match (or a rule without matches) together with
// the rule it selects.
type Candidate struct {
	// Conditions that must all hold; empty means "always".
	Conditions []Condition
	// Rule is the rule this match selects.
	Rule *Rule
	// PathField is the Gateway API field path of the path value
	// ("spec.rules[0].matches[1].path.value") when this candidate's match
	// made the location (its path is the location's path); empty for
	// candidates inherited from less specific paths. The render step names
	// it when the location's path is too long for nginx.
	PathField string
}

// ConditionKind is what a Condition inspects.
type ConditionKind string

const (
	// ConditionHeader inspects request header Name.
	ConditionHeader ConditionKind = "Header"
	// ConditionQueryParam inspects query parameter Name (case-sensitive name).
	ConditionQueryParam ConditionKind = "QueryParam"
	// ConditionMethod compares the request method with Value.
	ConditionMethod ConditionKind = "Method"
	// ConditionPathRegex matches the normalized request path against the
	// regular expression Value (from a RegularExpression path match).
	ConditionPathRegex ConditionKind = "PathRegex"
)

// Condition is one test on the request.
type Condition struct {
	Kind ConditionKind
	// Name is the header (lower-cased canonical) or query parameter name.
	Name string
	// Value is the exact value, or a PCRE regular expression when Regex.
	Value string
	// Regex is true for RegularExpression matches.
	Regex bool
	// Field is the Gateway API field path of Value
	// ("spec.rules[0].matches[1].headers[0].value"), named by the render
	// step when the value cannot be written for nginx.
	Field string
}

// RouteRef names the route rule a Rule comes from, for comments, access
// logs and inspection.
type RouteRef struct {
	Kind      string // "HTTPRoute", "GRPCRoute"
	Namespace string
	Name      string
	// RuleIndex is the index of the rule in spec.rules.
	RuleIndex int
	// RuleName is the rule's optional name.
	RuleName string
}

// Rule is what happens to a request once a Candidate selected it: request
// filters, then exactly one action (Redirect, a fixed Return, or Backends).
type Rule struct {
	// ID is unique within the Gateway and safe to use in nginx names
	// ([a-z0-9_]), e.g. "r12". Several Candidates may share one Rule.
	ID    string
	Route RouteRef

	// RequestHeaders are applied to the proxied request.
	RequestHeaders HeaderModifier
	// ResponseHeaders are applied to the response.
	ResponseHeaders HeaderModifier
	// Rewrite changes host and path of the proxied request.
	Rewrite *Rewrite
	// Mirrors send a copy of each request (fire and forget).
	Mirrors []Mirror
	// CORS, when set, answers preflight requests and decorates responses.
	CORS *CORS
	// Timeouts; zero means "nginx default".
	Timeouts Timeouts
	// Retry, when set, tries the backends again when an answer has one of
	// its codes, or when a try gets no answer (the connection fails or
	// the try times out), whatever the codes.
	Retry *Retry
	// GRPC marks a GRPCRoute's rule: its backends are spoken to with gRPC
	// (HTTP/2), and a request it cannot pass on (no valid backend, no
	// endpoints) is answered with a gRPC status (UNAVAILABLE), not an
	// HTTP error page.
	GRPC bool

	// Redirect, when set, answers with a redirect; Backends are ignored.
	Redirect *Redirect
	// Return, when set, answers with a fixed status (e.g. 500 when the rule
	// has no valid backend at all); Backends are ignored.
	Return *Return
	// Backends share traffic by Weight. A backend with Invalid set answers
	// 500 for its share (spec: an invalid backendRef gets 500s); a backend
	// whose upstream has no endpoints answers 503.
	Backends []Backend
}

// HeaderModifier sets, adds and removes headers. Names are validated header
// tokens; values are arbitrary strings that the render step quotes.
type HeaderModifier struct {
	Set    []Header
	Add    []Header
	Remove []string
}

// Header is a name/value pair.
type Header struct {
	Name  string
	Value string
	// Field is the Gateway API field path of the entry
	// ("spec.rules[0].filters[1].responseHeaderModifier.set[0]"); the
	// render step names Field+".value" when the value cannot be written.
	Field string
}

// IsZero reports whether the modifier does nothing.
func (h HeaderModifier) IsZero() bool {
	return len(h.Set) == 0 && len(h.Add) == 0 && len(h.Remove) == 0
}

// RewritePathKind is how a Rewrite or Redirect changes the path.
type RewritePathKind string

const (
	// RewriteFullPath replaces the whole path with Value.
	RewriteFullPath RewritePathKind = "ReplaceFullPath"
	// RewritePrefix replaces the matched prefix (MatchedPrefix) with Value.
	RewritePrefix RewritePathKind = "ReplacePrefixMatch"
)

// PathRewrite changes the request path.
type PathRewrite struct {
	Kind  RewritePathKind
	Value string
	// MatchedPrefix is the PathPrefix of the match that selected the rule,
	// needed for ReplacePrefixMatch. The translation step refuses
	// ReplacePrefixMatch unless the match is a PathPrefix, and when a rule
	// has several PathPrefix matches it emits one Rule per prefix, so one
	// value per Rule is enough. Decoded, like Location.Path; Value is
	// the filter's value as written (escapes kept).
	MatchedPrefix string
	// Field is the Gateway API field path of the path modifier
	// ("spec.rules[0].filters[0].requestRedirect.path").
	Field string
}

// Rewrite is an URLRewrite filter.
type Rewrite struct {
	// Hostname replaces the Host header when not empty.
	Hostname string
	Path     *PathRewrite
	// Field is the Gateway API field path of the filter
	// ("spec.rules[0].filters[0].urlRewrite").
	Field string
}

// Redirect is a RequestRedirect filter. Empty fields keep the request's value.
type Redirect struct {
	Scheme   string
	Hostname string
	// Port is the filter's port; when only Scheme is given it is the
	// scheme's well-known port (80, 443). Nil means the listener's port.
	// A port that is the default of the redirect's scheme is left out of
	// the Location header.
	Port       *int32
	Path       *PathRewrite
	StatusCode int
	// Field is the Gateway API field path of the filter
	// ("spec.rules[0].filters[0].requestRedirect").
	Field string
}

// Return answers with a fixed status code and no body.
type Return struct {
	StatusCode int
}

// Mirror sends a copy of the request to an upstream.
type Mirror struct {
	// Upstream is Gateway.Upstreams[].Name.
	Upstream string
	// Percent of requests mirrored, 0 < Percent <= 100 (fractions are
	// converted by the translation step to a rational Numerator/Denominator).
	Numerator   int32
	Denominator int32
}

// CORS is an HTTPRoute CORS filter, validated.
type CORS struct {
	// AllowOrigins are exact origins or patterns with "*" wildcards; "*" alone
	// allows any origin.
	AllowOrigins     []string
	AllowCredentials bool
	AllowMethods     []string
	AllowHeaders     []string
	ExposeHeaders    []string
	MaxAgeSeconds    int32
	// Field is the Gateway API field path of the filter
	// ("spec.rules[0].filters[2].cors").
	Field string
}

// Retry is a rule's retry stanza, validated.
type Retry struct {
	// Codes are the HTTP statuses (400..599, sorted) that make a try fail.
	Codes []int
	// Attempts is the number of retries after the first try (1..10).
	Attempts int
}

// Timeouts of a rule, in milliseconds; 0 means unset.
type Timeouts struct {
	RequestMillis        int64
	BackendRequestMillis int64
}

// AppProtocol is how nginx talks to a backend.
type AppProtocol string

const (
	// ProtocolHTTP1 is plain HTTP/1.1 (keepalive on).
	ProtocolHTTP1 AppProtocol = "http"
	// ProtocolH2C is HTTP/2 over cleartext (appProtocol kubernetes.io/h2c).
	ProtocolH2C AppProtocol = "h2c"
	// ProtocolWebSocket is HTTP/1.1 with Upgrade passed through
	// (appProtocol kubernetes.io/ws).
	ProtocolWebSocket AppProtocol = "ws"
)

// Backend is one weighted backendRef of a rule.
type Backend struct {
	// Upstream is Gateway.Upstreams[].Name; empty when Invalid.
	Upstream string
	Weight   int32
	// Invalid backends answer 500 for their share of traffic.
	Invalid bool
	// RequestHeaders and ResponseHeaders are the backendRef's own filters.
	RequestHeaders  HeaderModifier
	ResponseHeaders HeaderModifier
}

// Upstream is the group of endpoints of one Service port. Its addresses are
// not part of the model (nor of the config): nginx learns them at run time
// from the sidecar's DNS (see translate.GatewayResult.Endpoints), so an
// endpoint change never changes the config.
type Upstream struct {
	// Name is unique within the Gateway and safe in nginx names
	// ([a-z0-9_]), derived from namespace, service and port.
	Name string
	// Service that the endpoints belong to, for comments and inspection.
	ServiceNamespace string
	ServiceName      string
	ServicePort      int32
	Protocol         AppProtocol
	// TLS, when set, is how nginx speaks TLS to the endpoints (a
	// BackendTLSPolicy); nil is cleartext.
	TLS *UpstreamTLS
}

// UpstreamTLS is TLS from nginx to an upstream's endpoints, with the
// backend's certificate verified.
type UpstreamTLS struct {
	// Hostname is sent as SNI and is the name the backend's certificate
	// must carry (validated DNS name).
	Hostname string
	// CAPEM is the PEM bundle of CA certificates (validated, CERTIFICATE
	// blocks only) the backend's certificate must chain to.
	CAPEM []byte
}

// Endpoint is one ready address of an upstream.
type Endpoint struct {
	// Address is an IPv4 or IPv6 address (no brackets).
	Address string
	Port    int32
}

// AddrPort is the endpoint as an address and port; false when it is not
// one (the translation step only gives IPs and ports).
func (e Endpoint) AddrPort() (netip.AddrPort, bool) {
	addr, err := netip.ParseAddr(e.Address)
	if err != nil || e.Port < 1 || e.Port > 65535 {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr, uint16(e.Port)), true
}

// Certificate is a TLS key pair from a listener's certificateRefs.
type Certificate struct {
	// Name is unique within the Gateway and safe as a file name, e.g.
	// "default_my-cert"; the render step writes <Name>.crt and <Name>.key.
	Name    string
	CertPEM []byte
	KeyPEM  []byte
}
