package tests

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

// grpcManifest is echo-basic in gRPC mode behind a Gateway of its own (the
// sample Gateway's HTTPRoute, without hostnames, would take every hostname
// of its listener from a GRPCRoute there) and a GRPCRoute for its Echo method.
const grpcManifest = `apiVersion: v1
kind: Service
metadata: {name: grpc-echo, namespace: default}
spec:
  selector: {app: grpc-echo}
  ports:
  - {name: grpc, port: 8080, targetPort: 3000, appProtocol: kubernetes.io/h2c}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: grpc-echo, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: grpc-echo}}
  template:
    metadata: {labels: {app: grpc-echo}}
    spec:
      containers:
      - name: echo
        image: registry.k8s.io/gateway-api/echo-basic:v1.5.1
        env:
        - {name: GRPC_ECHO_SERVER, value: "1"}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        readinessProbe:
          tcpSocket: {port: 3000}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: grpc, namespace: default}
spec:
  gatewayClassName: nginx
  listeners:
  - {name: http, protocol: HTTP, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc-echo, namespace: default}
spec:
  parentRefs: [{name: grpc}]
  hostnames: [grpc.example.com]
  rules:
  - matches: [{method: {service: gateway_api_conformance.echo_basic.grpcecho.GrpcEcho, method: Echo}}]
    backendRefs: [{name: grpc-echo, port: 8080}]
`

// grpcCall makes one unary call on a fresh connection, with retries off:
// every failure counts.
func grpcCall(addr, method string) (*pb.EchoResponse, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority("grpc.example.com"), grpc.WithDisableRetry())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := pb.NewGrpcEchoClient(conn)
	if method == "EchoTwo" {
		return client.EchoTwo(ctx, &pb.EchoRequest{})
	}
	return client.Echo(ctx, &pb.EchoRequest{})
}

// testGRPCThroughGateway calls echo-basic's gRPC echo service (unary: its
// service has no streaming method; a server stream through nginx is covered
// by operator/render's TestTrafficGRPC) through a Gateway, then changes the
// GRPCRoute while calls run and expects none of them to fail.
func testGRPCThroughGateway(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	if err := applyYAML(ctx, c, grpcManifest); err != nil {
		t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(ctx, c, "wait", "--for=condition=Programmed", "--timeout=90s", "-n", "default", "gateway/grpc"); err != nil {
		t.Fatal(err)
	}
	ip, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "gateway/grpc", "-o", "jsonpath={.status.addresses[0].value}")
	if err != nil || ip == "" {
		t.Fatalf("the gRPC Gateway has no address: %q %v", ip, err)
	}
	addr := ip + ":80"
	clustertest.Eventually(t, 90*time.Second, "a gRPC call through the Gateway", func() error {
		resp, err := grpcCall(addr, "Echo")
		if err != nil {
			return err
		}
		if got := resp.GetAssertions().GetFullyQualifiedMethod(); got != "/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho/Echo" {
			return fmt.Errorf("backend saw method %q", got)
		}
		return nil
	})
	if _, err := grpcCall(addr, "EchoTwo"); err == nil {
		t.Fatal("EchoTwo answered before any route took it")
	}

	// Calls of Echo run while the route gains a rule for EchoTwo.
	var calls, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			calls.Add(1)
			if _, err := grpcCall(addr, "Echo"); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}
	}()
	patch := `{"spec":{"rules":[
{"matches":[{"method":{"service":"gateway_api_conformance.echo_basic.grpcecho.GrpcEcho","method":"Echo"}}],"backendRefs":[{"name":"grpc-echo","port":8080}]},
{"matches":[{"method":{"service":"gateway_api_conformance.echo_basic.grpcecho.GrpcEcho","method":"EchoTwo"}}],"backendRefs":[{"name":"grpc-echo","port":8080}]}]}}`
	time.Sleep(time.Second)
	if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "grpcroute/grpc-echo", "--type=merge", "-p", patch); err != nil {
		close(stop)
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "the new EchoTwo rule served", func() error {
		_, err := grpcCall(addr, "EchoTwo")
		return err
	})
	time.Sleep(time.Second)
	close(stop)
	<-done
	t.Logf("%d Echo calls during the route change, %d failed", calls.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d calls failed during the route change; first: %v", failed.Load(), calls.Load(), firstErr.Load())
	}
	if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", "gateway/grpc", "grpcroute/grpc-echo", "deployment/grpc-echo", "service/grpc-echo", "--wait=false"); err != nil {
		t.Error(err)
	}
}
