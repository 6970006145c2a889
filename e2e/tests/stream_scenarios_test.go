package tests

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// streamManifest is a Gateway with TCP, UDP and TLS passthrough listeners,
// echo-basic backends in its TCP (plain on 3000, TLS with its own
// certificate on 8443) and UDP modes, and one route of each kind. {{CERT}}
// and {{KEY}} are the TLS backend's certificate and key (base64).
var streamManifest = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: stream, namespace: default}
spec:
  gatewayClassName: nginx
  listeners:
  - {name: tcp, protocol: TCP, port: 7000}
  - {name: udp, protocol: UDP, port: 7000}
  - {name: tls, protocol: TLS, port: 7443, tls: {mode: Passthrough}}
---
apiVersion: v1
kind: Secret
metadata: {name: stream-backend-cert, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: {{CERT}}, tls.key: {{KEY}}}
` + streamEcho("tcp-echo-a", "TCP_ECHO_SERVER") + streamEcho("tcp-echo-b", "TCP_ECHO_SERVER") + streamEcho("udp-echo", "UDP_ECHO_SERVER") + `---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: stream-tcp, namespace: default}
spec:
  parentRefs: [{name: stream, sectionName: tcp}]
  rules:
  - backendRefs: [{name: tcp-echo-a, port: 3000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: UDPRoute
metadata: {name: stream-udp, namespace: default}
spec:
  parentRefs: [{name: stream, sectionName: udp}]
  rules:
  - backendRefs: [{name: udp-echo, port: 3000}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: stream-tls, namespace: default}
spec:
  parentRefs: [{name: stream, sectionName: tls}]
  hostnames: [db.example.com]
  rules:
  - backendRefs: [{name: tcp-echo-a, port: 8443}]
`

// streamEcho is an echo-basic Deployment and Service in one mode: TCP
// (plain 3000, TLS 8443 with the stream-backend-cert Secret) or UDP (3000).
func streamEcho(name, mode string) string {
	return strings.NewReplacer("{{NAME}}", name, "{{MODE}}", mode).Replace(`---
apiVersion: v1
kind: Service
metadata: {name: {{NAME}}, namespace: default}
spec:
  selector: {app: {{NAME}}}
  ports:
  - {name: tcp, port: 3000, protocol: TCP}
  - {name: tls, port: 8443, protocol: TCP}
  - {name: udp, port: 3000, protocol: UDP}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{NAME}}, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: {{NAME}}}}
  template:
    metadata: {labels: {app: {{NAME}}}}
    spec:
      containers:
      - name: echo
        image: registry.k8s.io/gateway-api/echo-basic:v1.6.3
        env:
        - {name: {{MODE}}, value: "1"}
        - {name: UDP_PORT, value: "3000"}
        - {name: TLS_SERVER_CERT, value: /etc/cert/tls.crt}
        - {name: TLS_SERVER_PRIV_KEY, value: /etc/cert/tls.key}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        volumeMounts: [{name: cert, mountPath: /etc/cert}]
      volumes:
      - name: cert
        secret: {secretName: stream-backend-cert}
`)
}

// tcpEcho is a connection to echo-basic's TCP server, welcome read.
type tcpEcho struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialTCPEcho(addr string, tlsConfig *tls.Config) (*tcpEcho, error) {
	d := &net.Dialer{Timeout: 3 * time.Second}
	var conn net.Conn
	var err error
	if tlsConfig != nil {
		conn, err = tls.DialWithDialer(d, "tcp", addr, tlsConfig)
	} else {
		conn, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	e := &tcpEcho{conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if welcome, err := e.r.ReadString('\n'); err != nil || !strings.HasPrefix(welcome, "Gateway API Test TCP Server") {
		conn.Close()
		return nil, fmt.Errorf("welcome %q: %v", welcome, err)
	}
	return e, nil
}

// ask sends one line and returns the answer line.
func (e *tcpEcho) ask(line string) (string, error) {
	_ = e.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(e.conn, "%s\n", line); err != nil {
		return "", err
	}
	answer, err := e.r.ReadString('\n')
	return strings.TrimSpace(answer), err
}

// pod asks TEST: the answering pod's name and the TLS server name it saw.
func (e *tcpEcho) pod() (pod, serverName string, err error) {
	answer, err := e.ask("TEST")
	if err != nil {
		return "", "", err
	}
	var payload struct {
		Pod string `json:"pod"`
		TLS *struct {
			ServerName string `json:"serverName"`
		} `json:"tls"`
	}
	if err := json.Unmarshal([]byte(answer), &payload); err != nil {
		return "", "", fmt.Errorf("TEST answer %q: %v", answer, err)
	}
	if payload.TLS != nil {
		serverName = payload.TLS.ServerName
	}
	return payload.Pod, serverName, nil
}

// answeredBy is a check for clustertest.Eventually: a new connection to
// addr (TLS when tlsConfig is set) is answered by a pod whose name starts
// with podPrefix.
func answeredBy(addr string, tlsConfig *tls.Config, podPrefix string) func() error {
	return func() error {
		e, err := dialTCPEcho(addr, tlsConfig)
		if err != nil {
			return err
		}
		defer e.conn.Close()
		pod, _, err := e.pod()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(pod, podPrefix) {
			return fmt.Errorf("answered by %q", pod)
		}
		return nil
	}
}

// udpAsk sends one datagram and returns the pod that answered it.
func udpAsk(conn net.Conn, payload string) (string, error) {
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte(payload)); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return "", err
	}
	var answer struct{ Request, Pod string }
	if err := json.Unmarshal(buf[:n], &answer); err != nil || answer.Request != payload {
		return "", fmt.Errorf("answer %q to %q: %v", buf[:n], payload, err)
	}
	return answer.Pod, nil
}

// testStreamRoutes serves a TCP echo, a UDP echo and a TLS passthrough
// backend (whose own certificate the client verifies) through one
// Gateway, then moves the TCPRoute to another backend: a connection opened
// before the change keeps working, new ones reach the new backend.
func testStreamRoutes(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	certPEM, keyPEM := testenv.SelfSignedCert(t, "db.example.com")
	b64 := base64.StdEncoding.EncodeToString
	manifest := strings.NewReplacer("{{CERT}}", b64(certPEM), "{{KEY}}", b64(keyPEM)).Replace(streamManifest)
	if err := applyYAML(ctx, c, manifest); err != nil {
		t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(ctx, c, "wait", "--for=condition=Programmed", "--timeout=120s", "-n", "default", "gateway/stream"); err != nil {
		t.Fatal(err)
	}
	addr, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "gateway/stream", "-o", "jsonpath={.status.addresses[0].value}")
	if err != nil || addr == "" {
		t.Fatalf("the stream Gateway has no address: %q %v", addr, err)
	}
	tcpAddr, tlsAddr := net.JoinHostPort(addr, "7000"), net.JoinHostPort(addr, "7443")

	var established *tcpEcho
	clustertest.Eventually(t, 90*time.Second, "TCP echo through the Gateway", func() error {
		e, err := dialTCPEcho(tcpAddr, nil)
		if err != nil {
			return err
		}
		pod, _, err := e.pod()
		if err != nil {
			e.conn.Close()
			return err
		}
		if !strings.HasPrefix(pod, "tcp-echo-a-") {
			e.conn.Close()
			return fmt.Errorf("answered by %q", pod)
		}
		established = e
		return nil
	})
	defer established.conn.Close()

	clustertest.Eventually(t, 60*time.Second, "UDP echo through the Gateway", func() error {
		conn, err := net.Dial("udp", tcpAddr)
		if err != nil {
			return err
		}
		defer conn.Close()
		pod, err := udpAsk(conn, "hello")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(pod, "udp-echo-") {
			return fmt.Errorf("answered by %q", pod)
		}
		return nil
	})

	t.Run("TLS passthrough presents the backend's certificate", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		clustertest.Eventually(t, 60*time.Second, "TLS passthrough to the backend", func() error {
			e, err := dialTCPEcho(tlsAddr, &tls.Config{ServerName: "db.example.com", RootCAs: pool})
			if err != nil {
				return err // includes a certificate that is not the backend's
			}
			defer e.conn.Close()
			pod, serverName, err := e.pod()
			if err != nil {
				return err
			}
			if !strings.HasPrefix(pod, "tcp-echo-a-") || serverName != "db.example.com" {
				return fmt.Errorf("answered by %q, which saw server name %q", pod, serverName)
			}
			return nil
		})
		// A name no route takes gets no backend.
		if e, err := dialTCPEcho(tlsAddr, &tls.Config{ServerName: "other.example.com", InsecureSkipVerify: true}); err == nil {
			e.conn.Close()
			t.Error("a TLS connection for a name without route reached a backend")
		}
	})

	t.Run("TLSRoute change keeps the established TLS connection", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(certPEM)
		tlsConfig := &tls.Config{ServerName: "db.example.com", RootCAs: pool}
		held, err := dialTCPEcho(tlsAddr, tlsConfig)
		if err != nil {
			t.Fatal(err)
		}
		defer held.conn.Close()
		if pod, _, err := held.pod(); err != nil || !strings.HasPrefix(pod, "tcp-echo-a-") {
			t.Fatalf("the TLS connection before the change is answered by %q, %v", pod, err)
		}
		patch := `{"spec":{"rules":[{"backendRefs":[{"name":"tcp-echo-b","port":8443}]}]}}`
		if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "tlsroute/stream-tls", "--type=merge", "-p", patch); err != nil {
			t.Fatal(err)
		}
		clustertest.Eventually(t, 60*time.Second, "new TLS connections reach tcp-echo-b", answeredBy(tlsAddr, tlsConfig, "tcp-echo-b-"))
		// nginx reloaded; the old worker keeps passing the TLS session it holds.
		if answer, err := held.ask("PING"); err != nil || answer != "PONG" {
			t.Errorf("the TLS connection opened before the change: %q, %v", answer, err)
		}
		if pod, _, err := held.pod(); err != nil || !strings.HasPrefix(pod, "tcp-echo-a-") {
			t.Errorf("the TLS connection opened before the change is answered by %q, %v", pod, err)
		}
	})

	t.Run("TCPRoute change keeps the established connection", func(t *testing.T) {
		// UDP datagrams keep being answered through the reload the change
		// causes: one client socket, one datagram at a time, each waited
		// for (no retries). nginx answers a UDP session through the
		// listening socket, which an old worker closes when it stops: the
		// one datagram in flight at that moment may go unanswered (no
		// more: the client has one outstanding at a time), every later one
		// is answered by the new workers (docs/design.md, stream section).
		udpConn, err := net.Dial("udp", tcpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer udpConn.Close()
		udpDone := make(chan struct{})
		udpResult := make(chan [2]int, 1)
		go func() {
			sent, lost := 0, 0
			for {
				select {
				case <-udpDone:
					udpResult <- [2]int{sent, lost}
					return
				default:
				}
				sent++
				if _, err := udpAsk(udpConn, fmt.Sprintf("d%d", sent)); err != nil {
					lost++
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		patch := `{"spec":{"rules":[{"backendRefs":[{"name":"tcp-echo-b","port":3000}]}]}}`
		if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "tcproute/stream-tcp", "--type=merge", "-p", patch); err != nil {
			t.Fatal(err)
		}
		clustertest.Eventually(t, 60*time.Second, "new connections reach tcp-echo-b", answeredBy(tcpAddr, nil, "tcp-echo-b-"))
		// nginx reloaded; the old worker keeps the connection it proxies.
		if answer, err := established.ask("PING"); err != nil || answer != "PONG" {
			t.Errorf("the connection opened before the change: %q, %v", answer, err)
		}
		if pod, _, err := established.pod(); err != nil || !strings.HasPrefix(pod, "tcp-echo-a-") {
			t.Errorf("the connection opened before the change is answered by %q, %v", pod, err)
		}
		close(udpDone)
		r := <-udpResult
		t.Logf("UDP through the change: %d datagrams, %d unanswered", r[0], r[1])
		if r[1] > 1 {
			t.Errorf("%d of %d UDP datagrams were not answered through the route change; at most the one in flight when the old workers stop may be", r[1], r[0])
		}
	})
}
