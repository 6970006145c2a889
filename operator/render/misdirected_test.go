package render

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// misdirectedGateway is the conformance test
// HTTPRouteHTTPSListenerDetectMisdirectedRequests's Gateway, built by the
// translation step: four HTTPS listeners on one port sharing a certificate
// (certPEM, keyPEM), one without hostname whose route serves example.com,
// one for second.example.com, a wildcard *.wildcard.example.com and a more
// specific fourth.wildcard.example.com beneath it; each listener's route
// answers /misdirected from the backend named after the listener (its
// Service on port 80 with one endpoint on 127.0.0.1:backendPort[listener]).
func misdirectedGateway(t testing.TB, port int32, certPEM, keyPEM []byte, backendPort map[string]int32) *model.Gateway {
	t.Helper()
	p := func(s string) *string { return &s }
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1}
	}
	in := translate.Input{
		GatewayClasses: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName}}},
		Secrets: []corev1.Secret{{ObjectMeta: meta("cert"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}},
	}
	var listeners []gatewayv1.Listener
	for _, l := range []struct{ name, host, routeHost string }{
		{"https", "", "example.com"},
		{"https-with-hostname", "second.example.com", ""},
		{"https-with-wildcard-hostname", "*.wildcard.example.com", ""},
		{"https-with-hostname-matching-wildcard", "fourth.wildcard.example.com", ""},
	} {
		gl := gatewayv1.Listener{Name: gatewayv1.SectionName(l.name), Port: gatewayv1.PortNumber(port), Protocol: gatewayv1.HTTPSProtocolType,
			TLS: &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "cert"}}}}
		if l.host != "" {
			gl.Hostname = (*gatewayv1.Hostname)(p(l.host))
		}
		listeners = append(listeners, gl)
		var hosts []gatewayv1.Hostname
		if l.routeHost != "" {
			hosts = []gatewayv1.Hostname{gatewayv1.Hostname(l.routeHost)}
		}
		in.HTTPRoutes = append(in.HTTPRoutes, &gatewayv1.HTTPRoute{ObjectMeta: meta(l.name), Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{
				{Name: "gw", SectionName: (*gatewayv1.SectionName)(p(l.name))}}},
			Hostnames: hosts,
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
					Type: (*gatewayv1.PathMatchType)(p(string(gatewayv1.PathMatchPathPrefix))), Value: p("/misdirected")}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(l.name), Port: (*gatewayv1.PortNumber)(int32p(80))}}}},
			}},
		}})
		in.Services = append(in.Services, corev1.Service{ObjectMeta: meta(l.name), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
		in.EndpointSlices = append(in.EndpointSlices, discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: l.name + "-1", Labels: map[string]string{
				discoveryv1.LabelServiceName: l.name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: p("http"), Port: int32p(backendPort[l.name])}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}}},
		})
	}
	in.Gateways = []gatewayv1.Gateway{{ObjectMeta: meta("gw"), Spec: gatewayv1.GatewaySpec{GatewayClassName: "nginx", Listeners: listeners}}}
	out := translate.Translate(in)
	if len(out.Gateways) != 1 || out.Gateways[0].Model == nil {
		t.Fatalf("gateway not accepted: %+v", out.Gateways)
	}
	return out.Gateways[0].Model
}

// TestTrafficMisdirectedRequests is the conformance test
// HTTPRouteHTTPSListenerDetectMisdirectedRequests against real nginx,
// over HTTP/2 with one connection per SNI: a request whose Host selects
// another listener than the connection's SNI did answers 421, a Host no
// listener takes 404, and a connection without SNI is checked by nobody.
func TestTrafficMisdirectedRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	names := []string{"https", "https-with-hostname", "https-with-wildcard-hostname", "https-with-hostname-matching-wildcard"}
	backends := map[string]*echoBackend{}
	ports := map[string]int32{}
	endpoints := endpointsOf()
	for _, name := range names {
		b := startEcho(t, name)
		backends[name], ports[name] = b, b.port
	}
	addr, port := testenv.FreeLoopbackAddr(t)
	certPEM, keyPEM := testenv.SelfSignedCert(t, "example.com", "*.example.com", "*.wildcard.example.com", "unknown.test")
	gw := misdirectedGateway(t, port, certPEM, keyPEM, ports)
	for i := range gw.Upstreams {
		u := gw.Upstreams[i]
		endpoints[u.Name] = loopback(ports[u.ServiceName])
	}
	files, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpoints, addr, port)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	at := fmt.Sprintf("%s:%d", addr, port)

	// The conformance test's cases, its hostnames moved under example.com.
	cases := []struct {
		sni, host string
		status    int
		backend   string
	}{
		{"example.com", "example.com", 200, "https"},
		{"example.com", "second.example.com", 421, ""},
		{"example.com", "unknown.example.com", 404, ""},

		{"second.example.com", "second.example.com", 200, "https-with-hostname"},
		{"second.example.com", "example.com", 421, ""},
		{"second.example.com", "unknown.test", 421, ""},

		{"third.wildcard.example.com", "third.wildcard.example.com", 200, "https-with-wildcard-hostname"},
		{"third.wildcard.example.com", "fifth.wildcard.example.com", 200, "https-with-wildcard-hostname"},
		{"third.wildcard.example.com", "fourth.wildcard.example.com", 421, ""},
		{"third.wildcard.example.com", "second.example.com", 421, ""},
		{"third.wildcard.example.com", "unknown.test", 421, ""},

		{"fourth.wildcard.example.com", "fourth.wildcard.example.com", 200, "https-with-hostname-matching-wildcard"},
		{"fourth.wildcard.example.com", "fifth.wildcard.example.com", 421, ""},

		{"unknown.test", "example.com", 200, "https"},
		{"unknown.test", "unknown.test", 404, ""},
		// Case does not matter to either name.
		{"Second.Example.com", "SECOND.example.com", 200, "https-with-hostname"},
		{"SECOND.example.com", "Example.com", 421, ""},
	}
	// One client per SNI: every request with that SNI goes over the same
	// connection, as a browser coalescing HTTP/2 connections would send it.
	clients := map[string]*http.Client{}
	for _, tc := range cases {
		c, ok := clients[tc.sni]
		if !ok {
			c = pinnedHTTPSClient(t, at, &tls.Config{RootCAs: pool, ServerName: tc.sni})
			clients[tc.sni] = c
		}
		status, backend, proto, reused := get(t, c, fmt.Sprintf("https://%s/misdirected", at), tc.host)
		if status != tc.status || backend != tc.backend {
			t.Errorf("SNI %s, Host %s: %d from %q, want %d from %q", tc.sni, tc.host, status, backend, tc.status, tc.backend)
		}
		if proto != 2 {
			t.Errorf("SNI %s, Host %s: HTTP/%d, want HTTP/2", tc.sni, tc.host, proto)
		}
		if ok && !reused {
			t.Errorf("SNI %s, Host %s: a new connection, want the SNI's first one", tc.sni, tc.host)
		}
	}

	// No SNI (a client that dialled an address): the Host alone decides.
	noSNI := pinnedHTTPSClient(t, at, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // nginx presents its default certificate without SNI
	for _, tc := range []struct {
		host    string
		backend string
	}{
		{"example.com", "https"},
		{"second.example.com", "https-with-hostname"},
		{"fourth.wildcard.example.com", "https-with-hostname-matching-wildcard"},
	} {
		if status, backend, _, _ := get(t, noSNI, fmt.Sprintf("https://%s/misdirected", at), tc.host); status != 200 || backend != tc.backend {
			t.Errorf("no SNI, Host %s: %d from %q, want 200 from %q", tc.host, status, backend, tc.backend)
		}
	}
	if logs := n.Logs(); !strings.Contains(logs, `"status":421,`) {
		t.Errorf("no 421 in the access log:\n%s", testenv.Tail(logs, 20))
	}
}

// get sends a GET of url with Host host and returns the status, the echo
// backend's name (none for an answer of nginx's own), the HTTP major
// version, and whether the request went over a connection opened before.
func get(t *testing.T, c *http.Client, url, host string) (status int, backend string, proto int, reused bool) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s with Host %s: %v", url, host, err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") == "application/json" {
		var e echoed
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			t.Fatal(err)
		}
		backend = e.Backend
	}
	return resp.StatusCode, backend, resp.ProtoMajor, reused
}
