package logs

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Entry is one access log line.
type Entry struct {
	Time        time.Time `json:"time"`
	Pod         string    `json:"pod,omitempty"`
	RemoteAddr  string    `json:"remoteAddr"`
	Method      string    `json:"method,omitempty"`
	Path        string    `json:"path,omitempty"`
	Request     string    `json:"request"`
	Status      int       `json:"status"`
	BodyBytes   int64     `json:"bodyBytes"`
	RequestTime float64   `json:"requestTime"`
	Host        string    `json:"host,omitempty"`
	Referer     string    `json:"referer,omitempty"`
	UserAgent   string    `json:"userAgent,omitempty"`
	// Route is "namespace/name", empty when no route took the request.
	Route string `json:"route,omitempty"`
	// Rule is the rule's name or index.
	Rule string `json:"rule,omitempty"`
	// Backend is the upstream, "invalid", "no-endpoints" or empty.
	Backend string `json:"backend,omitempty"`
	// Upstream is the endpoint(s) nginx tried ($upstream_addr).
	Upstream string `json:"upstream,omitempty"`
	// Protocol is "TCP" or "UDP" for a TCP/UDP/TLS session (the stream
	// access log), empty for an HTTP request. A session's Host is its TLS
	// server name, its RequestTime the session's duration, its Route
	// "KIND namespace/name", its Reason why nginx closed it without a backend.
	Protocol string `json:"protocol,omitempty"`
	Port     int    `json:"port,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Raw is the line as nginx wrote it.
	Raw string `json:"-"`
}

// textLine is log_format ngo_default (templates/http.conf.tmpl), the text
// format; host="…" is absent from lines of configs rendered before it was
// added. nginx escapes `"`, `\` and bytes outside printable ASCII as \xHH.
var textLine = regexp.MustCompile(`^(\S+) - \S+ \[([^\]]+)\] "([^"]*)" ([0-9]{3}) ([0-9]+) "([^"]*)" "([^"]*)" ` +
	`(?:host="([^"]*)" )?route="([^"]*)" rule="([^"]*)" backend="([^"]*)" upstream="([^"]*)" request_time=([0-9.]+)$`)

// streamTextLine is log_format ngo_stream_default (templates/stream.conf.tmpl).
var streamTextLine = regexp.MustCompile(`^(\S+) \[([^\]]+)\] (TCP|UDP) ([0-9]+) ([0-9]{3}) [0-9]+ [0-9]+ ([0-9.]+) ` +
	`server_name="([^"]*)" route="([^"]*)" backend="([^"]*)" upstream="([^"]*)" reason="([^"]*)"$`)

// textTime is $time_local.
const textTime = "02/Jan/2006:15:04:05 -0700"

// jsonLine is log_format ngo_json.
type jsonLine struct {
	Time        string  `json:"time"`
	RemoteAddr  string  `json:"remote_addr"`
	Request     string  `json:"request"`
	Status      int     `json:"status"`
	BodyBytes   int64   `json:"body_bytes_sent"`
	RequestTime float64 `json:"request_time"`
	Host        string  `json:"host"`
	Referer     string  `json:"referer"`
	UserAgent   string  `json:"user_agent"`
	Route       *string `json:"route"`
	Rule        string  `json:"rule"`
	Backend     string  `json:"backend"`
	Upstream    string  `json:"upstream_addr"`
	// The stream format's fields (log_format ngo_stream_json).
	Protocol    string  `json:"protocol"`
	ServerPort  string  `json:"server_port"`
	SessionTime float64 `json:"session_time"`
	ServerName  string  `json:"server_name"`
	Reason      string  `json:"reason"`
}

// Parse reads one line of the nginx container's output; ok is false for
// lines that are not access log lines of our formats (nginx's error log).
func Parse(line string) (Entry, bool) {
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "{") {
		var j jsonLine
		if err := json.Unmarshal([]byte(line), &j); err != nil || j.Route == nil {
			return Entry{}, false
		}
		t, err := time.Parse(time.RFC3339, j.Time)
		if err != nil {
			return Entry{}, false
		}
		if j.Protocol != "" { // a TCP/UDP/TLS session
			port, _ := strconv.Atoi(j.ServerPort)
			return Entry{Time: t, RemoteAddr: j.RemoteAddr, Protocol: j.Protocol, Port: port, Status: j.Status, RequestTime: j.SessionTime,
				Host: dash(j.ServerName), Route: *j.Route, Backend: j.Backend, Upstream: j.Upstream, Reason: j.Reason, Raw: line}, true
		}
		e := Entry{Time: t, RemoteAddr: j.RemoteAddr, Request: j.Request, Status: j.Status, BodyBytes: j.BodyBytes, RequestTime: j.RequestTime,
			Host: j.Host, Referer: j.Referer, UserAgent: j.UserAgent, Route: *j.Route, Rule: j.Rule, Backend: j.Backend, Upstream: j.Upstream, Raw: line}
		e.split()
		return e, true
	}
	if m := streamTextLine.FindStringSubmatch(line); m != nil {
		t, err := time.Parse(textTime, m[2])
		if err != nil {
			return Entry{}, false
		}
		port, _ := strconv.Atoi(m[4])
		status, _ := strconv.Atoi(m[5])
		st, _ := strconv.ParseFloat(m[6], 64)
		return Entry{Time: t, RemoteAddr: m[1], Protocol: m[3], Port: port, Status: status, RequestTime: st,
			Host: dash(unescape(m[7])), Route: unescape(m[8]), Backend: unescape(m[9]), Upstream: dash(m[10]), Reason: unescape(m[11]), Raw: line}, true
	}
	m := textLine.FindStringSubmatch(line)
	if m == nil {
		return Entry{}, false
	}
	t, err := time.Parse(textTime, m[2])
	if err != nil {
		return Entry{}, false
	}
	status, _ := strconv.Atoi(m[4])
	bytes, _ := strconv.ParseInt(m[5], 10, 64)
	rt, _ := strconv.ParseFloat(m[13], 64)
	e := Entry{Time: t, RemoteAddr: m[1], Request: unescape(m[3]), Status: status, BodyBytes: bytes, RequestTime: rt,
		Referer: dash(unescape(m[6])), UserAgent: dash(unescape(m[7])), Host: unescape(m[8]), Route: unescape(m[9]), Rule: unescape(m[10]),
		Backend: unescape(m[11]), Upstream: dash(m[12]), Raw: line}
	e.split()
	return e, true
}

// split fills Method and Path from Request ("GET /p HTTP/1.1").
func (e *Entry) split() {
	if f := strings.Fields(e.Request); len(f) >= 2 {
		e.Method, e.Path = f[0], f[1]
	}
}

// dash is "" for nginx's "-" (a variable without value).
func dash(s string) string {
	if s == "-" {
		return ""
	}
	return s
}

// unescape undoes nginx's default log escaping (\xHH).
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
