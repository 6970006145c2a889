package explain_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
)

// grpcService is the conformance echo service's full name.
const grpcService = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"

// grpcSuites are the GRPCRoute matching tests of the conformance suite,
// their calls and expected backends copied from tests/<manifest>.go.
var grpcSuites = []agreementSuite{
	{manifest: "grpcroute-exact-method-matching", gateway: "same-namespace", cases: []conformanceCase{
		grpcCall("Echo", "", "grpc-infra-backend-v1"), grpcCall("EchoTwo", "", "grpc-infra-backend-v2"), grpcCall("EchoThree", "", ""),
	}},
	{manifest: "grpcroute-header-matching", gateway: "same-namespace", cases: []conformanceCase{
		grpcCall("Echo", "", "grpc-infra-backend-v1", "Version: one"), grpcCall("Echo", "", "grpc-infra-backend-v2", "Version: two"),
		grpcCall("Echo", "", "grpc-infra-backend-v1", "Version: two", "Color: orange"),
		grpcCall("Echo", "", "grpc-infra-backend-v2", "Version: two", "Color: blue"),
		grpcCall("Echo", "", "", "Color: orange"), grpcCall("Echo", "", "", "Some-Other-Header: one"),
		grpcCall("Echo", "", "grpc-infra-backend-v1", "Color: blue"), grpcCall("Echo", "", "grpc-infra-backend-v1", "Color: green"),
		grpcCall("Echo", "", "grpc-infra-backend-v2", "Color: red"), grpcCall("Echo", "", "grpc-infra-backend-v2", "Color: yellow"),
		grpcCall("Echo", "", "", "Color: purple"),
	}},
	{manifest: "grpcroute-listener-hostname-matching", gateway: "grpcroute-listener-hostname-matching", cases: []conformanceCase{
		grpcCall("Echo", "bar.com", "grpc-infra-backend-v1"), grpcCall("Echo", "foo.bar.com", "grpc-infra-backend-v2"),
		grpcCall("Echo", "baz.bar.com", "grpc-infra-backend-v3"), grpcCall("Echo", "boo.bar.com", "grpc-infra-backend-v3"),
		grpcCall("Echo", "multiple.prefixes.bar.com", "grpc-infra-backend-v3"),
		grpcCall("Echo", "multiple.prefixes.foo.com", "grpc-infra-backend-v3"),
		grpcCall("Echo", "foo.com", ""), grpcCall("Echo", "no.matching.host", ""),
	}},
}

func grpcCall(method, authority, backend string, metadata ...string) conformanceCase {
	return conformanceCase{method: "POST", host: authority, path: "/" + grpcService + "/" + method, headers: metadata,
		backend: backend, grpcMethod: method}
}

// grpcHeaders are the headers every gRPC call carries (besides metadata).
func grpcHeaders() []explain.Header {
	return []explain.Header{{Name: "Content-Type", Value: "application/grpc"}, {Name: "TE", Value: "trailers"}}
}

// grpcEcho answers the echo service's three methods.
type grpcEcho struct{ pb.UnimplementedGrpcEchoServer }

func (grpcEcho) Echo(context.Context, *pb.EchoRequest) (*pb.EchoResponse, error) {
	return &pb.EchoResponse{}, nil
}

func (grpcEcho) EchoTwo(context.Context, *pb.EchoRequest) (*pb.EchoResponse, error) {
	return &pb.EchoResponse{}, nil
}

func (grpcEcho) EchoThree(context.Context, *pb.EchoRequest) (*pb.EchoResponse, error) {
	return &pb.EchoResponse{}, nil
}

// startGRPCBackend is a gRPC (h2c) echo server on 127.0.0.1.
func startGRPCBackend(t *testing.T) int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterGrpcEchoServer(s, grpcEcho{})
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// callGRPC calls method on nginx at addr:port with authority and the
// metadata ("Name: value"), once. A gRPC error is an answer, not a
// failure: only a connection that cannot be made is.
func callGRPC(addr string, port int32, authority, method string, meta []string) error {
	conn, err := grpc.NewClient(fmt.Sprintf("%s:%d", addr, port), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(authority))
	if err != nil {
		return err
	}
	defer conn.Close()
	md := metadata.MD{}
	for _, m := range meta {
		name, value, _ := strings.Cut(m, ":")
		md.Append(strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value))
	}
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 5*time.Second)
	defer cancel()
	_ = conn.Invoke(ctx, "/"+grpcService+"/"+method, &pb.EchoRequest{}, &pb.EchoResponse{})
	return nil
}
