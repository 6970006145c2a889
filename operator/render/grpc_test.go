package render

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	pb "sigs.k8s.io/gateway-api/conformance/echo-basic/grpcechoserver"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// grpcService is the conformance echo service's full name.
const grpcService = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho"

// grpcEchoBackend is a gRPC server on 127.0.0.1 with the conformance echo
// service (answers name the backend in Context.Pod) and the health
// service, whose Watch is a server stream.
type grpcEchoBackend struct {
	pb.UnimplementedGrpcEchoServer
	name string
	port int32
	hits atomic.Int64
}

func (b *grpcEchoBackend) echo(ctx context.Context, method string) (*pb.EchoResponse, error) {
	b.hits.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	a := &pb.Assertions{FullyQualifiedMethod: "/" + grpcService + "/" + method, Context: &pb.Context{Pod: b.name}}
	for k, vs := range md {
		if k == ":authority" {
			a.Authority = vs[0]
		}
		for _, v := range vs {
			a.Headers = append(a.Headers, &pb.Header{Key: k, Value: v})
		}
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-resp-remove", "from-backend", "x-resp-set", "from-backend"))
	return &pb.EchoResponse{Assertions: a}, nil
}

func (b *grpcEchoBackend) Echo(ctx context.Context, _ *pb.EchoRequest) (*pb.EchoResponse, error) {
	return b.echo(ctx, "Echo")
}

func (b *grpcEchoBackend) EchoTwo(ctx context.Context, _ *pb.EchoRequest) (*pb.EchoResponse, error) {
	return b.echo(ctx, "EchoTwo")
}

func (b *grpcEchoBackend) EchoThree(ctx context.Context, _ *pb.EchoRequest) (*pb.EchoResponse, error) {
	return b.echo(ctx, "EchoThree")
}

func startGRPCEcho(t *testing.T, name string) *grpcEchoBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &grpcEchoBackend{name: name, port: int32(l.Addr().(*net.TCPAddr).Port)}
	s := grpc.NewServer()
	pb.RegisterGrpcEchoServer(s, b)
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return b
}

func (b *grpcEchoBackend) upstream() model.Upstream {
	u := upstream("default_" + b.name + "_8080")
	u.Protocol = model.ProtocolH2C
	return u
}

// endpoints is the backend as its upstream's only endpoint.
func (b *grpcEchoBackend) endpoints() endpointdns.Table {
	return endpointdns.Table{b.upstream().Name: loopback(b.port)}
}

func grpcRule(id string, index int, backends ...model.Backend) *model.Rule {
	return &model.Rule{ID: id, GRPC: true, Route: model.RouteRef{Kind: "GRPCRoute", Namespace: "default", Name: "grpc", RuleIndex: index}, Backends: backends}
}

// grpcGateway is a gateway whose server grpc.example.com routes the echo
// service's methods the way the translation step models a GRPCRoute:
// methods are exact paths, a service is a prefix, headers are conditions.
func grpcGateway(port int32, a, b model.Upstream) *model.Gateway {
	empty := upstream("default_empty_8080")
	empty.Protocol = model.ProtocolH2C
	ra := grpcRule("r0", 0, backend(a.Name, 1))
	rb := grpcRule("r1", 1, backend(b.Name, 1))
	headers := grpcRule("r2", 2, backend(a.Name, 1))
	headers.RequestHeaders = model.HeaderModifier{
		Set:    []model.Header{{Name: "x-set", Value: `set "$dollar" \ value`}},
		Add:    []model.Header{{Name: "x-add", Value: "added"}},
		Remove: []string{"x-remove"},
	}
	headers.ResponseHeaders = model.HeaderModifier{
		Set:    []model.Header{{Name: "x-resp-set", Value: "by-gateway"}},
		Add:    []model.Header{{Name: "x-resp-add", Value: "a"}},
		Remove: []string{"x-resp-remove"},
	}
	split := grpcRule("r3", 3, backend(a.Name, 1), backend(b.Name, 1))
	split.Backends[1].RequestHeaders.Set = []model.Header{{Name: "x-only-b", Value: "yes"}}
	broken := grpcRule("r4", 4, model.Backend{Weight: 1, Invalid: true})
	noBackends := grpcRule("r5", 5)
	noBackends.Return = &model.Return{StatusCode: 500}
	noEndpoints := grpcRule("r6", 6, backend(empty.Name, 1))
	mirrored := grpcRule("r7", 7, backend(a.Name, 1))
	mirrored.Mirrors = []model.Mirror{{Upstream: b.Name}}
	method := func(m string) string { return "/" + grpcService + "/" + m }
	return gateway(port, map[string][]model.Location{
		"grpc.example.com": {
			exact(method("Echo"), when(rb, header("version", "two")), when(split, header("mode", "split")),
				when(broken, header("mode", "broken")), when(noBackends, header("mode", "none")),
				when(noEndpoints, header("mode", "no-endpoints")), when(mirrored, header("mode", "mirror")), always(ra)),
			exact(method("EchoTwo"), always(headers)),
			prefix("/grpc.health.v1.Health", always(rb)),
		},
	}, a, b, empty)
}

// TestTrafficGRPC runs nginx on a rendered config with GRPCRoute rules and
// calls it with a gRPC client: routing by method and header, request and
// response header filters, weighted backends, a server stream, and the
// gateway's own answers, which must be gRPC statuses.
func TestTrafficGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	a, b := startGRPCEcho(t, "a"), startGRPCEcho(t, "b")
	addr, port := freeLoopbackAddr(t)
	files, err := Render(grpcGateway(port, a.upstream(), b.upstream()))
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpointsOf(a.endpoints(), b.endpoints(), endpointdns.Table{"default_empty_8080": nil}), addr, port)
	dial := func(authority string) pb.GrpcEchoClient {
		conn, err := grpc.NewClient(fmt.Sprintf("%s:%d", addr, port),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(authority))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return pb.NewGrpcEchoClient(conn)
	}
	client := dial("grpc.example.com")
	call := func(method string, md ...string) (*pb.EchoResponse, metadata.MD, error) {
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), md...), 5*time.Second)
		defer cancel()
		var hdr metadata.MD
		f := map[string]func(context.Context, *pb.EchoRequest, ...grpc.CallOption) (*pb.EchoResponse, error){
			"Echo": client.Echo, "EchoTwo": client.EchoTwo, "EchoThree": client.EchoThree,
		}[method]
		resp, err := f(ctx, &pb.EchoRequest{}, grpc.Header(&hdr))
		return resp, hdr, err
	}
	received := func(resp *pb.EchoResponse, key string) string {
		var vs []string
		for _, h := range resp.GetAssertions().GetHeaders() {
			if h.Key == key {
				vs = append(vs, h.Value)
			}
		}
		return strings.Join(vs, ",")
	}

	t.Run("routing", func(t *testing.T) {
		for _, tc := range []struct {
			name, method string
			md           []string
			backend      string
		}{
			{"exact method", "Echo", nil, "a"},
			{"header match", "Echo", []string{"version", "two"}, "b"},
			{"other method", "EchoTwo", nil, "a"},
		} {
			resp, _, err := call(tc.method, tc.md...)
			if err != nil {
				t.Fatalf("%s: %v\n%s", tc.name, err, n.logs())
			}
			if got := resp.GetAssertions().GetContext().GetPod(); got != tc.backend {
				t.Errorf("%s: served by %q, want %q", tc.name, got, tc.backend)
			}
			if got, want := resp.GetAssertions().GetFullyQualifiedMethod(), "/"+grpcService+"/"+tc.method; got != want {
				t.Errorf("%s: backend got method %q, want %q", tc.name, got, want)
			}
			if got := resp.GetAssertions().GetAuthority(); got != "grpc.example.com" {
				t.Errorf("%s: backend got :authority %q, want the client's", tc.name, got)
			}
		}
		// A method no route takes: the default answer, which gRPC reads
		// as UNIMPLEMENTED (HTTP 404).
		if _, _, err := call("EchoThree"); status.Code(err) != codes.Unimplemented {
			t.Errorf("unrouted method: %v, want Unimplemented", err)
		}
	})

	t.Run("headers", func(t *testing.T) {
		resp, hdr, err := call("EchoTwo", "x-add", "orig", "x-remove", "gone")
		if err != nil {
			t.Fatal(err)
		}
		for k, want := range map[string]string{"x-set": `set "$dollar" \ value`, "x-add": "orig,added", "x-remove": ""} {
			if got := received(resp, k); got != want {
				t.Errorf("request metadata %s = %q, want %q", k, got, want)
			}
		}
		for k, want := range map[string]string{"x-resp-set": "by-gateway", "x-resp-add": "a", "x-resp-remove": ""} {
			if got := strings.Join(hdr.Get(k), ","); got != want {
				t.Errorf("response metadata %s = %q, want %q", k, got, want)
			}
		}
	})

	t.Run("weighted", func(t *testing.T) {
		counts := map[string]int{}
		for range 200 {
			resp, _, err := call("Echo", "mode", "split")
			if err != nil {
				t.Fatal(err)
			}
			pod := resp.GetAssertions().GetContext().GetPod()
			counts[pod]++
			if (pod == "b") != (received(resp, "x-only-b") == "yes") {
				t.Fatalf("backend %s got x-only-b=%q: backend filters leaked", pod, received(resp, "x-only-b"))
			}
		}
		// 1:1 of 200; the bounds are > 7 sigma wide.
		if counts["a"] < 50 || counts["b"] < 50 {
			t.Errorf("split %v, want about 100 each", counts)
		}
	})

	t.Run("gateway answers are gRPC statuses", func(t *testing.T) {
		for _, mode := range []string{"broken", "none", "no-endpoints"} {
			_, _, err := call("Echo", "mode", mode)
			if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() == "" {
				t.Errorf("mode %s: %v, want Unavailable with a message", mode, err)
			}
		}
	})

	t.Run("mirror", func(t *testing.T) {
		before := b.hits.Load()
		resp, _, err := call("Echo", "mode", "mirror")
		if err != nil || resp.GetAssertions().GetContext().GetPod() != "a" {
			t.Fatalf("mirrored call: %v, %v", resp, err)
		}
		testenv.Eventually(t, 5*time.Second, "the mirror backend gets the call", func() error {
			if got := b.hits.Load() - before; got != 1 {
				return fmt.Errorf("mirror backend got %d calls, want 1\n%s", got, n.logs())
			}
			return nil
		})
	})

	t.Run("server stream", func(t *testing.T) {
		conn, err := grpc.NewClient(fmt.Sprintf("%s:%d", addr, port),
			grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority("grpc.example.com"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stream, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := stream.Recv()
		if err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("first message of the stream: %v, %v\n%s", msg, err, n.logs())
		}
	})

	t.Run("unknown authority", func(t *testing.T) {
		_, err := dial("other.example.com").Echo(context.Background(), &pb.EchoRequest{})
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("unknown authority: %v, want Unimplemented (HTTP 404)", err)
		}
	})
}

// TestTrafficGRPCOverTLS checks a GRPCRoute rule on an HTTPS listener: the
// gRPC client negotiates HTTP/2 through ALPN, and the backend (h2c) sees
// the client's :authority and X-Forwarded-Proto https.
func TestTrafficGRPCOverTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	a := startGRPCEcho(t, "a")
	ua := a.upstream()
	addr, port := freeLoopbackAddr(t)
	pool := startTLSGateway(t, addr, port, ua, a.endpoints(), grpcRule("r0", 0, backend(ua.Name, 1)))
	conn, err := grpc.NewClient(fmt.Sprintf("%s:%d", addr, port),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "grpc.example.com"})),
		grpc.WithAuthority("grpc.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := pb.NewGrpcEchoClient(conn).Echo(ctx, &pb.EchoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	as := resp.GetAssertions()
	proto := ""
	for _, h := range as.GetHeaders() {
		if h.Key == "x-forwarded-proto" {
			proto = h.Value
		}
	}
	if as.GetContext().GetPod() != "a" || as.GetAuthority() != "grpc.example.com" || proto != "https" {
		t.Errorf("backend saw pod %q, :authority %q, X-Forwarded-Proto %q", as.GetContext().GetPod(), as.GetAuthority(), proto)
	}
}
