package status

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const (
	wanted = "3f2a9c1b0d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef0"
	older  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

const rejectedMessage = `nginx: [emerg] unknown directive "bogus" in /var/run/nginx-gateway/stage/3f2a9c1b0d4e/http.conf:42
nginx: configuration file /var/run/nginx-gateway/stage/3f2a9c1b0d4e/nginx.conf test failed`

func testGateway(programmed metav1.ConditionStatus, reason string) gatewayv1.Gateway {
	return gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "web"},
		Status: gatewayv1.GatewayStatus{Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted"},
			{Type: "Programmed", Status: programmed, Reason: reason, Message: "1 of 3 ready replicas serve the current configuration"},
		}},
	}
}

func pod(name string, ready bool, annotated string) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "prod", Annotations: map[string]string{dataplane.AnnotationConfigHash: annotated}},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

func reportData(reports map[string]dataplane.PodReport) map[string]string {
	data := map[string]string{}
	for pod, r := range reports {
		for k, v := range r.Data(pod) {
			data[k] = v
		}
	}
	return data
}

func route(kind, ns, name string, parent gatewayv1.ParentReference, controller gatewayv1.GatewayController, accepted metav1.ConditionStatus, reason, msg string) Route {
	return Route{Kind: kind, Namespace: ns, Name: name, Parents: []gatewayv1.RouteParentStatus{{
		ParentRef: parent, ControllerName: controller,
		Conditions: []metav1.Condition{{Type: "Accepted", Status: accepted, Reason: reason, Message: msg}},
	}}}
}

// mixedInput has one pod in each state, and routes of every kind of
// parent entry, of which two are refused for prod/web by us.
func mixedInput() Input {
	web := gatewayv1.ParentReference{Name: "web"}
	webFromElsewhere := gatewayv1.ParentReference{Name: "web", Namespace: ptr.To(gatewayv1.Namespace("prod"))}
	return Input{
		Gateway:   testGateway(metav1.ConditionFalse, "Pending"),
		ConfigMap: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{dataplane.AnnotationConfigHash: wanted}}},
		Report: &corev1.ConfigMap{Data: reportData(map[string]dataplane.PodReport{
			"web-nginx-a": {AppliedHash: wanted},
			"web-nginx-b": {AppliedHash: older},
			"web-nginx-c": {AppliedHash: older, RejectedHash: wanted, RejectedMessage: rejectedMessage},
			"web-nginx-e": {AppliedHash: older},
			"gone":        {AppliedHash: older},
		})},
		Pods: []corev1.Pod{
			pod("web-nginx-c", true, wanted),
			pod("web-nginx-a", true, wanted),
			pod("web-nginx-b", true, older),
			pod("web-nginx-d", false, wanted),
			func() corev1.Pod {
				// Pointed at the wanted config 2m5s before Now, still serving the older one.
				p := pod("web-nginx-e", true, wanted)
				p.Annotations[dataplane.AnnotationConfigHashSince] = "2026-11-29T10:00:00Z"
				return p
			}(),
			func() corev1.Pod {
				p := pod("web-nginx-terminating", true, older)
				p.DeletionTimestamp = ptr.To(metav1.Now())
				return p
			}(),
		},
		Now:             time.Date(2026, 11, 29, 10, 2, 5, 0, time.UTC),
		DataPlanes:      map[string]*DataPlane{"web-nginx-a": sidecarMetrics(), "web-nginx-b": {Reloads: 3, WorkerGenerations: 1, WorkerGenerationsPeak: 1}},
		DataPlaneErrors: map[string]string{"web-nginx-d": "reading /metrics of pod prod/web-nginx-d through the API server's pod proxy: the server is currently unable to handle the request"},
		Routes: []Route{
			route("HTTPRoute", "prod", "ok", web, translate.ControllerName, metav1.ConditionTrue, "Accepted", ""),
			route("HTTPRoute", "prod", "refused", web, translate.ControllerName, metav1.ConditionFalse, "UnsupportedValue",
				"nginx rejected this route: "+rejectedMessage),
			route("HTTPRoute", "team", "not-allowed", webFromElsewhere, translate.ControllerName, metav1.ConditionFalse, "NotAllowedByListeners", "no listener allows routes from namespace team"),
			route("HTTPRoute", "team", "other-gateway-same-name", web, translate.ControllerName, metav1.ConditionFalse, "NoMatchingParent", "namespace team, not ours"),
			route("HTTPRoute", "prod", "other-controller", web, "example.com/other", metav1.ConditionFalse, "Whatever", "not ours"),
			route("GRPCRoute", "prod", "refused", web, translate.ControllerName, metav1.ConditionFalse, "Conflicted",
				"HTTPRoute prod/refused is older and claims the same hostname on listener http"),
		},
	}
}

func TestBuildStates(t *testing.T) {
	got := Build(mixedInput())
	want := map[string]State{"web-nginx-a": Synced, "web-nginx-b": Stale, "web-nginx-c": Rejected, "web-nginx-d": NotReady, "web-nginx-e": Stale}
	if len(got.Pods) != len(want) {
		t.Fatalf("pods %+v, want %v (terminating pods left out)", got.Pods, want)
	}
	for _, p := range got.Pods {
		if p.State != want[p.Name] {
			t.Errorf("pod %s: %s, want %s", p.Name, p.State, want[p.Name])
		}
	}
	// Stale for how long only when the pod was pointed at the wanted config.
	if got.Pods[1].StaleFor != "" || got.Pods[4].StaleFor != "2m5s" {
		t.Errorf("stale for %q and %q, want none for a pod never pointed at the wanted config and 2m5s", got.Pods[1].StaleFor, got.Pods[4].StaleFor)
	}
	if got.Pods[2].RejectedMessage != rejectedMessage {
		t.Errorf("rejected message %q, want nginx's full message", got.Pods[2].RejectedMessage)
	}
	if got.InSync {
		t.Error("in sync with stale, rejected and unready pods")
	}
	var refused []string
	for _, r := range got.RefusedRoutes {
		refused = append(refused, r.Kind+" "+r.Namespace+"/"+r.Name+":"+r.Reason)
	}
	if strings.Join(refused, ", ") != "GRPCRoute prod/refused:Conflicted, HTTPRoute prod/refused:UnsupportedValue, HTTPRoute team/not-allowed:NotAllowedByListeners" {
		t.Errorf("refused routes %v", refused)
	}
}

func TestBuildInSync(t *testing.T) {
	in := Input{
		Gateway:   testGateway(metav1.ConditionTrue, "Programmed"),
		ConfigMap: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{dataplane.AnnotationConfigHash: wanted}}},
		Report:    &corev1.ConfigMap{Data: reportData(map[string]dataplane.PodReport{"a": {AppliedHash: wanted}, "b": {AppliedHash: wanted}})},
		Pods:      []corev1.Pod{pod("a", true, wanted), pod("b", true, wanted)},
	}
	if got := Build(in); !got.InSync {
		t.Errorf("not in sync: %+v", got)
	}
	for name, change := range map[string]func(*Input){
		"programmed false": func(in *Input) { in.Gateway = testGateway(metav1.ConditionFalse, "Pending") },
		"no pods":          func(in *Input) { in.Pods = nil },
		"no report":        func(in *Input) { in.Report = nil },
		"no wanted hash":   func(in *Input) { in.ConfigMap = nil },
		"a pod not ready":  func(in *Input) { in.Pods[1] = pod("b", false, wanted) },
		"a rejection of the wanted config, pod still serving it": func(in *Input) {
			in.Report.Data = reportData(map[string]dataplane.PodReport{"a": {AppliedHash: wanted}, "b": {AppliedHash: wanted, RejectedHash: wanted, RejectedMessage: "x"}})
		},
	} {
		in := in
		in.Pods = append([]corev1.Pod(nil), in.Pods...)
		in.Report = in.Report.DeepCopy()
		change(&in)
		if got := Build(in); got.InSync {
			t.Errorf("%s: in sync", name)
		}
	}
}

func TestPrintGolden(t *testing.T) {
	synced := Build(Input{
		Gateway: func() gatewayv1.Gateway {
			g := testGateway(metav1.ConditionTrue, "Programmed")
			g.Name = "api"
			return g
		}(),
		ConfigMap: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{dataplane.AnnotationConfigHash: older}}},
		Report:    &corev1.ConfigMap{Data: reportData(map[string]dataplane.PodReport{"api-nginx-a": {AppliedHash: older}})},
		Pods:      []corev1.Pod{pod("api-nginx-a", true, older)},
	})
	notAccepted := Build(Input{Gateway: gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "new"},
		Status: gatewayv1.GatewayStatus{Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionFalse, Reason: "InvalidParameters", Message: "a Gateway-level GatewayParameters may not set spec.image"},
		}},
	}})
	statuses := []GatewayStatus{synced, notAccepted, Build(mixedInput())}
	for _, format := range []string{OutputTable, OutputYAML, OutputJSON} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Print(&buf, format, statuses); err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, filepath.Join("testdata", "status."+format), buf.Bytes(), *update)
		})
	}
	if err := Print(&bytes.Buffer{}, "wide", statuses); err == nil {
		t.Error("unknown format accepted")
	}
}

// sidecarMetrics is testdata/sidecar.metrics, the sidecar's /metrics after
// twelve reloads (one failed) and one nginx -t, parsed.
func sidecarMetrics() *DataPlane {
	text, err := os.ReadFile(filepath.Join("testdata", "sidecar.metrics"))
	if err != nil {
		panic(err)
	}
	d, err := ParseMetrics(text)
	if err != nil {
		panic(err)
	}
	return d
}

func TestParseMetrics(t *testing.T) {
	got := sidecarMetrics()
	at := time.Date(2026, 12, 4, 16, 0, 0, 436_000_000, time.UTC)
	validatedAt := time.Date(2026, 12, 4, 13, 13, 20, 0, time.UTC)
	want := &DataPlane{Reloads: 12, ReloadFailures: 1, LastReload: &at, LastReloadSeconds: 0.0961,
		Validations: 1, LastValidation: &validatedAt, LastValidationSeconds: 0.108, WorkerGenerations: 2, WorkerGenerationsPeak: 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed %+v (last reload %v), want %+v (%v)", got, got.LastReload, want, at)
	}
	if _, err := ParseMetrics([]byte("# not the sidecar\nup 1\n")); err == nil {
		t.Error("metrics without the sidecar's were read")
	}
}
