package explain

import (
	"fmt"
	"strconv"
	"strings"
)

// Request is one HTTP request as a client sends it to the Gateway.
type Request struct {
	// Scheme is "http" or "https".
	Scheme string
	// Port is the Gateway listener port the request connects to.
	Port int32
	// SNI is the server name of the TLS handshake (https only); empty
	// means the client sends none.
	SNI string
	// Method is the request method ("GET" when empty).
	Method string
	// Target is the request target as sent: path and query, escapes kept
	// ("/caf%C3%A9?x=1").
	Target string
	// Headers are the request headers in order; Host among them.
	Headers []Header
}

// Header is one request header line.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewRequest builds the request a client such as curl sends for rawURL
// ("http://host[:port]/path?query"): the URL's host and port as Host
// header (the port only when not the scheme's default) and as SNI, GET,
// then headers (a Host among them replaces the URL's).
func NewRequest(method, rawURL string, headers []Header) (Request, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "http" && scheme != "https") {
		return Request{}, fmt.Errorf("URL %q: want http://HOST[:PORT]/PATH or https://…", rawURL)
	}
	rest, _, _ = strings.Cut(rest, "#")
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, target := rest[:end], rest[end:]
	if strings.Contains(authority, "@") {
		return Request{}, fmt.Errorf("URL %q: user information is not supported", rawURL)
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	host, port := authority, int32(80)
	if scheme == "https" {
		port = 443
	}
	if i := strings.LastIndexByte(authority, ':'); i >= 0 && !strings.HasSuffix(authority, "]") {
		p, err := strconv.ParseUint(authority[i+1:], 10, 16)
		if err != nil || p == 0 {
			return Request{}, fmt.Errorf("URL %q: bad port %q", rawURL, authority[i+1:])
		}
		host, port = authority[:i], int32(p)
	}
	if host == "" {
		return Request{}, fmt.Errorf("URL %q has no host", rawURL)
	}
	if method == "" {
		method = "GET"
	}
	hostHeader := host
	if (scheme == "http" && port != 80) || (scheme == "https" && port != 443) {
		hostHeader = authority
	}
	req := Request{Scheme: scheme, Port: port, Method: method, Target: target}
	if scheme == "https" && !isIP(host) {
		req.SNI = host // clients send no SNI for an IP address
	}
	hasHost := false
	for _, h := range headers {
		hasHost = hasHost || strings.EqualFold(h.Name, "Host")
	}
	if !hasHost {
		req.Headers = append(req.Headers, Header{Name: "Host", Value: hostHeader})
	}
	req.Headers = append(req.Headers, headers...)
	return req, nil
}

// ParseHeader parses "Name: value" (as curl -H).
func ParseHeader(s string) (Header, error) {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Header{}, fmt.Errorf("header %q: want 'Name: value'", s)
	}
	return Header{Name: name, Value: strings.TrimSpace(value)}, nil
}

func isIP(host string) bool {
	if strings.HasPrefix(host, "[") {
		return true
	}
	for _, c := range host {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// validHeaderName is what nginx keeps with its defaults
// (ignore_invalid_headers on, underscores_in_headers off): letters,
// digits and "-". Other header lines are dropped before any variable
// sees them.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// headerValue is nginx's $http_NAME: the values of every header line
// called name (case-insensitive), joined with ", ", and whether there is one.
func (r *Request) headerValue(name string) (string, bool) {
	var values []string
	for _, h := range r.Headers {
		if validHeaderName(h.Name) && strings.EqualFold(h.Name, name) {
			values = append(values, h.Value)
		}
	}
	return strings.Join(values, ", "), len(values) > 0
}

// hostName is nginx's $host from the Host header: lower-cased, without
// port and trailing dot; bad is set when nginx answers 400.
func hostName(raw string) (host string, bad string) {
	h := strings.ToLower(strings.TrimSpace(raw))
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "the Host header has an unclosed IPv6 bracket"
		}
		return h[:end+1], ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if strings.HasPrefix(h, ".") || strings.Contains(h, "..") || strings.ContainsAny(h, "/\\\x00") {
		return "", fmt.Sprintf("the Host header %q is not a valid host name", raw)
	}
	return h, ""
}

// normalizeTarget splits a request target into nginx's $uri (decoded,
// slashes merged, dot segments resolved) and $args (raw); bad is set when
// nginx answers 400.
func normalizeTarget(target string) (uri, args string, bad string) {
	path, args, _ := strings.Cut(target, "?")
	if !strings.HasPrefix(path, "/") {
		return "", "", fmt.Sprintf("the request target %q does not start with /", target)
	}
	var decoded []byte
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' {
			if i+2 >= len(path) || unhex(path[i+1]) < 0 || unhex(path[i+2]) < 0 {
				return "", "", fmt.Sprintf("the path %q has a bad percent-escape", path)
			}
			c = byte(unhex(path[i+1])<<4 | unhex(path[i+2]))
			i += 2
		}
		decoded = append(decoded, c)
	}
	var segments []string
	for _, seg := range strings.Split(string(decoded), "/")[1:] {
		switch seg {
		case ".":
		case "..":
			if len(segments) == 0 {
				return "", "", fmt.Sprintf("the path %q climbs above /", path)
			}
			segments = segments[:len(segments)-1]
		default:
			segments = append(segments, seg)
		}
	}
	// Merge slashes (merge_slashes on): empty segments go, except a
	// trailing one, which keeps the path's final "/".
	out := make([]string, 0, len(segments))
	for i, seg := range segments {
		if seg != "" || i == len(segments)-1 {
			out = append(out, seg)
		}
	}
	uri = "/" + strings.Join(out, "/")
	last := string(decoded)
	if (strings.HasSuffix(last, "/.") || strings.HasSuffix(last, "/..")) && !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri, args, ""
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
