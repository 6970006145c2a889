package tests

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
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
  - matches: [{method: {service: grpc.reflection.v1.ServerReflection}}]
    backendRefs: [{name: grpc-echo, port: 8080}]
`

// reflectionStream is a bidirectional stream of echo-basic's gRPC server
// reflection service (the one streaming method it serves) through the
// Gateway.
type reflectionStream struct {
	conn   *grpc.ClientConn
	stream rpb.ServerReflection_ServerReflectionInfoClient
}

func openReflectionStream(ctx context.Context, addr string) (*reflectionStream, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority("grpc.example.com"), grpc.WithDisableRetry())
	if err != nil {
		return nil, err
	}
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &reflectionStream{conn: conn, stream: stream}, nil
}

// listServices asks for the backend's services on the stream and says
// whether the echo service is among them.
func (r *reflectionStream) listServices() error {
	if err := r.stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{ListServices: "*"}}); err != nil {
		return err
	}
	resp, err := r.stream.Recv()
	if err != nil {
		return err
	}
	for _, s := range resp.GetListServicesResponse().GetService() {
		if s.GetName() == "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho" {
			return nil
		}
	}
	return fmt.Errorf("the echo service is not among %v", resp.GetListServicesResponse().GetService())
}

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

// testGRPCThroughGateway calls echo-basic's gRPC echo service (unary) and
// its reflection service (a bidirectional stream) through a Gateway, then
// changes the GRPCRoute while calls run and expects none of them to fail,
// and the stream opened before the change to keep working after it.
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
	streamCtx, cancelStream := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelStream()
	held, err := openReflectionStream(streamCtx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.conn.Close()
	for i := range 3 {
		if err := held.listServices(); err != nil {
			t.Fatalf("exchange %d on the bidirectional stream: %v", i, err)
		}
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
{"matches":[{"method":{"service":"grpc.reflection.v1.ServerReflection"}}],"backendRefs":[{"name":"grpc-echo","port":8080}]},
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
	// nginx reloaded; the old worker keeps the stream it proxies.
	if err := held.listServices(); err != nil {
		t.Errorf("the stream opened before the route change: %v", err)
	}
	if err := held.stream.CloseSend(); err != nil {
		t.Error(err)
	}
	t.Logf("%d Echo calls during the route change, %d failed", calls.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d calls failed during the route change; first: %v", failed.Load(), calls.Load(), firstErr.Load())
	}
	if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", "gateway/grpc", "grpcroute/grpc-echo", "deployment/grpc-echo", "service/grpc-echo", "--wait=false"); err != nil {
		t.Error(err)
	}
}
