package metricsauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

const metricsBody = "# metrics\n"

// fixture is a real API server, the filter in front of a handler, and the
// count of reviews the filter sent to the API server.
type fixture struct {
	k8s    client.Client
	admin  *kubernetes.Clientset
	server *httptest.Server
	calls  *reviewCounter
}

// reviewCounter counts the TokenReviews and SubjectAccessReviews that went
// over the wire to the API server.
type reviewCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    map[string]int // "tokenreviews" or "subjectaccessreviews" → calls
}

func (c *reviewCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[filepath.Base(req.URL.Path)]++
	c.mu.Unlock()
	return c.next.RoundTrip(req)
}

func (c *reviewCounter) get(resource string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[resource]
}

// start runs the API server and the filter. The filter calls the API
// server as a user that holds only config/rbac/metrics_auth_role.yaml, as
// the operator does, so the test also proves that role is enough.
func start(t *testing.T) *fixture {
	t.Helper()
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env, cfg, k8s, err := testenv.StartAPIServer(scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const operatorUser = "metrics-filter"
	bindRole(t, k8s, "metrics_auth_role.yaml", rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser})
	user, err := env.AddUser(envtest.User{Name: operatorUser}, nil)
	if err != nil {
		t.Fatal(err)
	}
	operatorCfg := rest.CopyConfig(user.Config())
	calls := &reviewCounter{n: map[string]int{}}
	operatorCfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		calls.next = rt
		return calls
	})
	httpClient, err := rest.HTTPClientFor(operatorCfg)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := NewFilter(operatorCfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := filter(log.Log, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Authorization") != "" {
			http.Error(w, "the credential reached the handler", http.StatusTeapot)
			return
		}
		_, _ = io.WriteString(w, metricsBody)
	}))
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return &fixture{k8s: k8s, admin: admin, server: server, calls: calls}
}

// bindRole binds subject to the ClusterRole of config/rbac/FILE.
func bindRole(t *testing.T, k8s client.Client, file string, subject rbacv1.Subject) {
	t.Helper()
	if err := testenv.BindConfigClusterRole(context.Background(), k8s, file, subject); err != nil {
		t.Fatal(err)
	}
}

// serviceAccountToken creates a ServiceAccount and returns a token for it
// from the TokenRequest API, as kubelet mounts into a scraper's pod.
func (f *fixture) serviceAccountToken(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}}
	if err := f.k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	tr, err := f.admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

func (f *fixture) get(t *testing.T, method, authorization string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.server.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestFilterAgainstAPIServer checks each answer of the filter with tokens
// the API server issued, and that the scrapes of one token cost one
// TokenReview and one SubjectAccessReview while their answers are cached.
func TestFilterAgainstAPIServer(t *testing.T) {
	f := start(t)
	bindRole(t, f.k8s, "metrics_reader_role.yaml", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "prometheus"})
	reader := f.serviceAccountToken(t, "prometheus")
	stranger := f.serviceAccountToken(t, "stranger")

	t.Run("metrics-reader gets the metrics", func(t *testing.T) {
		code, body := f.get(t, http.MethodGet, "Bearer "+reader)
		if code != http.StatusOK || body != metricsBody {
			t.Fatalf("got %d %q, want 200 %q", code, body, metricsBody)
		}
	})
	t.Run("metrics-reader may not POST", func(t *testing.T) {
		if code, body := f.get(t, http.MethodPost, "Bearer "+reader); code != http.StatusForbidden {
			t.Fatalf("got %d %q, want 403", code, body)
		}
	})
	t.Run("a ServiceAccount without the binding is forbidden", func(t *testing.T) {
		code, body := f.get(t, http.MethodGet, "Bearer "+stranger)
		if code != http.StatusForbidden || !strings.Contains(body, "system:serviceaccount:default:stranger") {
			t.Fatalf("got %d %q, want 403 naming the user", code, body)
		}
	})
	for name, header := range map[string]string{
		"no token":            "",
		"a garbage token":     "Bearer not-a-token",
		"another scheme":      "Basic " + reader,
		"a token of no value": "Bearer ",
	} {
		t.Run(name+" is unauthorized", func(t *testing.T) {
			if code, body := f.get(t, http.MethodGet, header); code != http.StatusUnauthorized {
				t.Fatalf("got %d %q, want 401", code, body)
			}
		})
	}

	t.Run("answers are cached", func(t *testing.T) {
		fresh := f.serviceAccountToken(t, "scraper")
		bindRole(t, f.k8s, "metrics_reader_role.yaml", rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: "default", Name: "scraper"})
		tokenReviews, accessReviews := f.calls.get("tokenreviews"), f.calls.get("subjectaccessreviews")
		for range 3 {
			if code, body := f.get(t, http.MethodGet, "Bearer "+fresh); code != http.StatusOK {
				t.Fatalf("got %d %q, want 200", code, body)
			}
		}
		if got := f.calls.get("tokenreviews") - tokenReviews; got != 1 {
			t.Errorf("3 scrapes sent %d TokenReviews, want 1", got)
		}
		if got := f.calls.get("subjectaccessreviews") - accessReviews; got != 1 {
			t.Errorf("3 scrapes sent %d SubjectAccessReviews, want 1", got)
		}
		// A rejected token is remembered too.
		tokenReviews = f.calls.get("tokenreviews")
		for range 3 {
			if code, _ := f.get(t, http.MethodGet, "Bearer still-not-a-token"); code != http.StatusUnauthorized {
				t.Fatalf("got %d, want 401", code)
			}
		}
		if got := f.calls.get("tokenreviews") - tokenReviews; got != 1 {
			t.Errorf("3 requests with one bad token sent %d TokenReviews, want 1", got)
		}
	})
}
