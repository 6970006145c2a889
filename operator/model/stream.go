package model

// StreamProtocol is what a stream server takes on its port.
type StreamProtocol string

const (
	// StreamTCP proxies every TCP connection to one route's backends.
	StreamTCP StreamProtocol = "TCP"
	// StreamUDP proxies every UDP session (datagrams from one client
	// address and port) to one route's backends.
	StreamUDP StreamProtocol = "UDP"
	// StreamTLS routes each connection on the server name (SNI) of its TLS
	// ClientHello to the route whose hostname matches it, which passes the
	// connection through as it is or, when the route has TLS (its listener
	// is in mode Terminate), decrypts it and proxies the cleartext.
	StreamTLS StreamProtocol = "TLS"
)

// StreamServer is one nginx `stream` server: one port and transport. It is
// the model of the Gateway's TCP, UDP and TLS listeners.
type StreamServer struct {
	Port     int32
	Protocol StreamProtocol
	// Listeners names the Gateway listeners (sectionName) served here, for
	// comments.
	Listeners []string
	// Routes are what the server proxies to. TCP and UDP servers have at
	// most one route, with Hostname "" (a listener takes the oldest of the
	// routes attached to it). TLS servers have one per hostname, sorted by
	// Hostname; a connection whose server name no route matches is closed. A server without routes closes every
	// connection.
	Routes []StreamRoute
	// HTTPS are, on a TLS server, the hostnames of the HTTPS listeners of
	// the same port ("" for one without hostname), sorted: their
	// connections are handed to the HTTPServers of the port, which then
	// listen behind this server.
	HTTPS []string
}

// StreamRoute is the rule of a TCPRoute, UDPRoute or TLSRoute served on a
// stream server.
type StreamRoute struct {
	// Hostname is, for TLS, the exact ("a.example.com") or wildcard
	// ("*.example.com") server name the route takes, "" for any name; ""
	// for TCP and UDP.
	Hostname string
	// TLS, on a TLS server, terminates TLS with these certificates (the
	// listener is in mode Terminate); nil passes the connection through.
	TLS *ServerTLS
	// ID is unique within the Gateway's stream servers and safe in nginx
	// names ([a-z0-9_]), e.g. "s3".
	ID    string
	Route RouteRef
	// Backends share connections by Weight; Upstream refers to
	// Gateway.StreamUpstreams[].Name. An Invalid backend, or one whose
	// upstream has no endpoints, closes the connections it gets (the spec:
	// a connection to an invalid backend is rejected). No backends at all
	// closes every connection.
	Backends []Backend
}
