package render

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/templates"
)

// Files is a rendered nginx configuration tree for one Gateway. Names are
// flat file names (no folders): nginx.conf includes the others by relative
// name, so the tree works from any prefix (`nginx -t -p DIR/ -c nginx.conf`).
type Files struct {
	// Config files go into the Gateway's ConfigMap. Their bytes must not
	// be changed: the Fragments of their render are substrings of them.
	Config map[string][]byte
	// Secret files (TLS certificates and keys) go into the Gateway's Secret.
	Secret map[string][]byte
	// Sources names the route rule behind each line of the Config files
	// that one wrote (see Sources): what a data plane's error about a file
	// and line is blamed on. It is not part of the files or their hash.
	Sources Sources
}

// The config files, in the order nginx.conf includes them.
const (
	FileMain      = "nginx.conf"
	FileHTTP      = "http.conf"
	FileMaps      = "maps.conf"
	FileUpstreams = "upstreams.conf"
	FileServers   = "servers.conf"
	// FileStream is written only when the Gateway has TCP, UDP or TLS
	// listeners.
	FileStream = "stream.conf"
)

// configFiles are the config files, each with the template that renders
// it, in the order Files lists them (servers.conf is written first:
// RenderAfter).
var configFiles = []struct{ file, tmpl string }{
	{FileMain, "nginx.conf.tmpl"},
	{FileHTTP, "http.conf.tmpl"},
	{FileMaps, "maps.conf.tmpl"},
	{FileUpstreams, "upstreams.conf.tmpl"},
	{FileServers, "servers.conf.tmpl"},
	{FileStream, "stream.conf.tmpl"},
}

// templateOf is configFiles as a map.
var templateOf = func() map[string]string {
	m := map[string]string{}
	for _, f := range configFiles {
		m[f.file] = f.tmpl
	}
	return m
}()

var parsedTemplates = template.Must(template.New("").
	Funcs(templateFuncs()).
	ParseFS(templates.FS, "*.tmpl"))

// templateFuncs are the functions templates may call: sprig's hermetic set
// without the functions it still leaves in that read the clock or a random
// source, so rendering stays pure and deterministic, and our quoting helpers.
func templateFuncs() template.FuncMap {
	funcs := sprig.HermeticTxtFuncMap()
	for _, name := range sprigNotHermetic {
		delete(funcs, name)
	}
	funcs["q"] = quote
	funcs["qv"] = quoteValue
	funcs["comment"] = comment
	funcs["server"] = server
	funcs["locations"] = locations
	funcs["upstreams"] = upstreams
	return funcs
}

// sprigNotHermetic are functions of sprig v3's HermeticTxtFuncMap that read
// the clock (ago, toDate in the local zone) or a random source (the rest).
var sprigNotHermetic = []string{
	"ago", "toDate", "mustToDate", "randInt", "shuffle", "bcrypt", "htpasswd", "encryptAES",
	"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
	"genSignedCert", "genSignedCertWithKey", "buildCustomCert",
}

// Names the model promises to keep safe for nginx identifiers; checked
// anyway because they are written unquoted into variable and zone names.
// Loops rather than regexps: every rule and upstream is checked on every
// render, and a regexp match cost a tenth of building the view.

// isSafeIdent reports whether s matches ^[A-Za-z0-9_]+$.
func isSafeIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		if !identByte(s[i]) {
			return false
		}
	}
	return s != ""
}

// isSafeFileName reports whether s matches ^[A-Za-z0-9_][A-Za-z0-9_.-]*$.
func isSafeFileName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !identByte(c) && (i == 0 || c != '.' && c != '-') {
			return false
		}
	}
	return s != ""
}

func identByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

var (
	// serverHostname is a DNS name with an optional leading "*." label:
	// nginx reads a server_name starting with "~" as a regex and other
	// "*" positions as its own wildcards, whatever the quoting.
	serverHostname = regexp.MustCompile(`^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)
)

// Render turns one Gateway's model into nginx files. It is pure: the same
// model gives byte-identical files. It fails only when the model breaks
// its own contract (a reference to an unknown upstream or certificate, an
// unsafe identifier), which is a bug in the translation step, or when a
// route's values cannot be written for nginx (limits.go): then the error
// is a *RefusedError naming the routes, and the other routes are fine.
func Render(gw *model.Gateway) (Files, error) {
	files, _, err := RenderAfter(gw, Fragments{})
	return files, err
}

// RenderAfter is Render reusing the location texts of the last render of
// the same Gateway (its Fragments, see there), and returns this render's
// for the next. The files are Render's.
func RenderAfter(gw *model.Gateway, prev Fragments) (Files, Fragments, error) {
	if gw == nil {
		return Files{}, Fragments{}, fmt.Errorf("render: nil gateway")
	}
	r, err := newRenderer(gw)
	if err != nil {
		return Files{}, Fragments{}, err
	}
	v, err := r.view()
	if err != nil {
		return Files{}, Fragments{}, err
	}
	v.r = r
	v.fragments = newFragmentCache(prev)
	// servers.conf first: its locations add the maps, splits and refusals
	// the other files depend on while it is written (finish).
	servers, serverRanges, err := v.execute(FileServers, prev)
	if err != nil {
		return Files{}, Fragments{}, err
	}
	if err := r.finish(v); err != nil {
		return Files{}, Fragments{}, err
	}
	if err := r.refusedError(); err != nil {
		return Files{}, Fragments{}, err
	}
	v.Upstreams.fragments = v.fragments
	if v.Stream != nil {
		v.Stream.Upstreams.fragments = v.fragments
	}
	files := Files{Config: map[string][]byte{}, Secret: map[string][]byte{}, Sources: Sources{}}
	for _, f := range configFiles {
		if f.file == FileStream && v.Stream == nil {
			continue
		}
		data, ranges := servers, serverRanges
		if f.file != FileServers {
			if data, ranges, err = v.execute(f.file, prev); err != nil {
				return Files{}, Fragments{}, err
			}
		}
		if err := checkTokens(f.file, data); err != nil {
			return Files{}, Fragments{}, err
		}
		files.Config[f.file] = data
		if len(ranges) > 0 {
			files.Sources[f.file] = ranges
		}
	}
	for name, data := range caFiles(gw) {
		files.Config[name] = data
	}
	for name, data := range r.clientCAs {
		files.Config[name] = bytes.Clone(data)
	}
	for name, data := range backendClientFiles(gw) {
		files.Secret[name] = data
	}
	for _, c := range gw.Certificates {
		files.Secret[c.Name+".crt"] = bytes.Clone(c.CertPEM)
		files.Secret[c.Name+".key"] = bytes.Clone(c.KeyPEM)
	}
	return files, v.fragments.fragments(), nil
}

// execute writes file from its template, into a buffer grown once from
// its size in the last render (prev), and returns its bytes and line
// sources. The bytes must not change afterwards: the fragments
// written into them are substrings of them (settle).
func (v *view) execute(file string, prev Fragments) ([]byte, []LineRange, error) {
	var buf bytes.Buffer
	buf.Grow(v.sizeHint(file, prev.sizes[file]))
	v.rec.start(&buf, prev.ranges[file])
	v.fragments.start(file, &buf)
	if err := parsedTemplates.ExecuteTemplate(&buf, templateOf[file], v); err != nil {
		if v.err != nil {
			return nil, nil, v.err // the model's, not the template's
		}
		return nil, nil, fmt.Errorf("render %s: %w", file, err)
	}
	data := trimmed(buf.Bytes())
	ranges := v.rec.ranges()
	v.fragments.settle(data, len(ranges))
	return data, ranges, nil
}

// view is what the templates see. Every string in it is already quoted or
// made of safe identifiers; the templates only lay it out.
type view struct {
	Namespace, Name string
	Main            mainView
	HTTP            httpView
	Maps            []*nginxMap
	Splits          []*splitClients
	Upstreams       upstreamsView
	// NoEndpointsPort is nginx's local 503 server (dataplane.NoEndpointsPort).
	NoEndpointsPort int
	// StatusListen and StatusURI are nginx's own status server
	// (stub_status) on a unix socket, read by the sidecar's metrics
	// (dataplane.NginxStatusSocket).
	StatusListen, StatusURI string
	// Servers are the model's: the function server builds the view of
	// each in turn while servers.conf is written.
	Servers []*model.HTTPServer
	// Stream is the `stream` context, nil without TCP, UDP and TLS
	// listeners.
	Stream *streamView

	rec       sourceRecorder // see Begin and End
	fragments *fragmentCache // see Fragments
	r         *renderer      // builds the servers' blocks (server, locations)
	// err is the error of building a server's blocks while its template
	// ran, returned as it is rather than wrapped in the template's.
	err error
}

type mainView struct {
	WorkerConnections        int32
	WorkerShutdownTimeoutSec int32
}

type httpView struct {
	// ProxyHeaders are the default proxy_set_header directives.
	ProxyHeaders []kv
	// AccessLog is "json", "text" or "off".
	AccessLog              string
	ServerNamesHashMaxSize int
	ServerNamesHashBucket  int
	VariablesHashMaxSize   int
	MapHashMaxSize         int
}

// nginxMap is one `map SOURCE $VAR { KEY VALUE; … default VALUE; }`.
type nginxMap struct {
	Comment string
	Source  string          // quoted complex value
	Var     string          // without "$"
	Entries []kv            // Key quoted literal, Value quoted complex value
	Default string          // quoted complex value
	Src     *model.RouteRef // the rule it was written for, nil when ours or shared
	// Hostnames makes the keys host names (`hostnames;`): exact names,
	// then the longest matching leading wildcard, as server_name does.
	Hostnames bool
}

// splitClients is one `split_clients "$request_id" $VAR { P% VALUE; … }`.
type splitClients struct {
	Comment string
	Var     string
	Entries []kv // Key "12.34%" or "*", Value quoted literal
	Src     *model.RouteRef
}

type kv struct{ Key, Value string }

// upstreamsView is one block of upstreams (template "ngo.upstreams").
type upstreamsView struct {
	// Resolver is the sidecar's endpoints DNS, Service the SRV service.
	Resolver, Service string
	Zone              string
	ZoneKB            int
	Keepalive         int
	// Upstreams are the model's: the function upstreams writes them,
	// building an upstream's view (upstreamViewOf) only when its text is
	// not reused.
	Upstreams []*model.Upstream
	// refs are their nginx names, in the same order.
	refs []string
	// fragments reuses the upstreams' texts (see upstreams).
	fragments *fragmentCache
}

type upstreamView struct {
	Comment  string
	Name     string
	DNSName  string // dataplane.UpstreamDNSName(Name)
	Protocol string
}

type serverView struct {
	Comment         string
	Listen          string // "80 ssl default_server"
	ServerName      string // quoted, or "" for none
	Certs           []kv   // Key cert file, Value key file, both quoted
	RejectHandshake bool
	// RealIP takes the client's address from the PROXY protocol (the
	// server listens behind a stream server).
	RealIP bool
	// TLSDirectives and Script are the client certificate validation of
	// the server (frontendtls.go): directives, and rewrite-module lines
	// run before any location.
	TLSDirectives []kv
	Script        []string
	// Locations are the server's own blocks, written before its routes'
	// (serverLocations).
	Locations []*locationView
	srv       *model.HTTPServer
}

// locationView is one `location`. Script holds rewrite-module directives
// (set, if, rewrite, return), which nginx runs in the order written; the
// other fields are declarative.
type locationView struct {
	Comment  string
	Match    string // "= " for exact, "" for prefix
	Path     string // quoted
	Internal bool
	// LogRoot is the quoted root that spells the location's access log
	// fields (accesslog.go); "" for a location that answers for no rule.
	LogRoot     string
	Script      []string
	HideHeaders []string // quoted names
	AddHeaders  []kv     // quoted name, quoted value
	Mirrors     []string // quoted internal URIs
	Timeouts    []kv     // directive, value
	Proxy       *proxyView
	// ErrorPages hand failed tries to a retry location ("500 503 =
	// @name", "502 504 = $var"), InterceptErrors also the backend's
	// answers with those codes (retry.go).
	ErrorPages      []string
	InterceptErrors bool
	GRPC            *grpcView // instead of Proxy, for a GRPCRoute's rule
	// Src is the rule served here: the rule of an internal location, or
	// the one served inline by a user-facing location (nil: none).
	Src *model.RouteRef
}

type proxyView struct {
	// HTTPVersion overrides the http-level proxy_http_version 1.1 when set.
	HTTPVersion string
	Headers     []kv // quoted name, quoted value
	// TLS are the proxy_ssl_* directives of a TLS upstream (backendtls.go).
	TLS  []kv
	Pass string
}

// sizeHint guesses a file's size, to grow its buffer once: the size it
// had in the last render (last, 0 for none) and a little more, or a guess
// from the view.
func (v *view) sizeHint(file string, last int) int {
	if last > 0 {
		return last + last/32 + 1024
	}
	switch file {
	case FileServers:
		n := 0
		for _, s := range v.Servers {
			n += 512 + 640*len(s.Locations) // ~2 blocks each
		}
		return n
	case FileMaps:
		return 256 + 160*(len(v.Maps)+len(v.Splits))
	case FileUpstreams:
		return 512 + 256*len(v.Upstreams.Upstreams)
	}
	return 4096
}

// trimmed returns b, or a copy of it without the spare capacity when that
// is large: the operator keeps its last rendered files (pipeline.Memo),
// and sizeHint may guess high.
func trimmed(b []byte) []byte {
	if cap(b)-len(b) > len(b)/8+4096 {
		return bytes.Clone(b)
	}
	return b
}

// itoa is strconv.Itoa for int32 values.
func itoa(n int32) string { return strconv.Itoa(int(n)) }
