package translate

import (
	"reflect"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

func params(ns, name string, spec v1alpha1.GatewayParametersSpec) v1alpha1.GatewayParameters {
	return v1alpha1.GatewayParameters{ObjectMeta: meta(ns, name), Spec: spec}
}

func classParamsRef(group, kind, ns, name string) *gatewayv1.ParametersReference {
	r := &gatewayv1.ParametersReference{Group: gatewayv1.Group(group), Kind: gatewayv1.Kind(kind), Name: name}
	if ns != "" {
		r.Namespace = ptr(gatewayv1.Namespace(ns))
	}
	return r
}

func TestGatewayClassStatus(t *testing.T) {
	group := v1alpha1.GroupVersion.Group
	tests := []struct {
		name       string
		ref        *gatewayv1.ParametersReference
		params     []v1alpha1.GatewayParameters
		wantStatus metav1.ConditionStatus
		wantReason string
	}{
		{"no parametersRef", nil, nil, metav1.ConditionTrue, "Accepted"},
		{"valid parametersRef", classParamsRef(group, "GatewayParameters", "ops", "p"),
			[]v1alpha1.GatewayParameters{params("ops", "p", v1alpha1.GatewayParametersSpec{})}, metav1.ConditionTrue, "Accepted"},
		{"wrong kind", classParamsRef(group, "ConfigMap", "ops", "p"),
			[]v1alpha1.GatewayParameters{params("ops", "p", v1alpha1.GatewayParametersSpec{})}, metav1.ConditionFalse, "InvalidParameters"},
		{"wrong group", classParamsRef("", "GatewayParameters", "ops", "p"),
			[]v1alpha1.GatewayParameters{params("ops", "p", v1alpha1.GatewayParametersSpec{})}, metav1.ConditionFalse, "InvalidParameters"},
		{"no namespace", classParamsRef(group, "GatewayParameters", "", "p"),
			[]v1alpha1.GatewayParameters{params("ops", "p", v1alpha1.GatewayParametersSpec{})}, metav1.ConditionFalse, "InvalidParameters"},
		{"missing object", classParamsRef(group, "GatewayParameters", "ops", "p"), nil, metav1.ConditionFalse, "InvalidParameters"},
		{"invalid values", classParamsRef(group, "GatewayParameters", "ops", "p"),
			[]v1alpha1.GatewayParameters{params("ops", "p", v1alpha1.GatewayParametersSpec{Nginx: &v1alpha1.NginxSettings{WorkerProcesses: ptr("many")}})},
			metav1.ConditionFalse, "InvalidParameters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.GatewayClasses[0].Spec.ParametersRef = tc.ref
			in.GatewayClasses[0].Generation = 7
			in.Parameters = tc.params
			out := Translate(in)
			st, ok := out.GatewayClasses["nginx"]
			if !ok {
				t.Fatal("no status for class nginx")
			}
			wantCondition(t, st.Conditions, "Accepted", tc.wantStatus, tc.wantReason)
			if st.Conditions[0].ObservedGeneration != 7 {
				t.Errorf("observedGeneration = %d, want 7", st.Conditions[0].ObservedGeneration)
			}
			g := gatewayResult(t, out, testNS, "gw")
			if tc.wantStatus == metav1.ConditionFalse {
				wantCondition(t, g.Status.Conditions, "Accepted", metav1.ConditionFalse, "InvalidParameters")
				if g.Model != nil {
					t.Error("Gateway of a class that is not accepted has a model")
				}
			} else {
				wantCondition(t, g.Status.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
			}
		})
	}
}

func TestSupportedFeatures(t *testing.T) {
	out := Translate(baseInput())
	st := out.GatewayClasses["nginx"]
	if len(st.SupportedFeatures) != len(SupportedFeatures) || len(SupportedFeatures) == 0 {
		t.Fatalf("supportedFeatures = %v", st.SupportedFeatures)
	}
	names := make([]string, len(st.SupportedFeatures))
	for i, f := range st.SupportedFeatures {
		names[i] = string(f.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("supportedFeatures not sorted: %v", names)
	}
	for _, must := range []string{"Gateway", "HTTPRoute", "ReferenceGrant"} {
		if sort.SearchStrings(names, must) == len(names) || names[sort.SearchStrings(names, must)] != must {
			t.Errorf("supportedFeatures lacks %s", must)
		}
	}
	for _, mustNot := range []string{"TLSRoute", "GRPCRoute", "GatewayHTTPListenerIsolation", "HTTPRouteRetry"} {
		i := sort.SearchStrings(names, mustNot)
		if i < len(names) && names[i] == mustNot {
			t.Errorf("supportedFeatures claims %s", mustNot)
		}
	}
}

func TestClassesAndGatewaysOfOtherControllers(t *testing.T) {
	in := baseInput()
	other := ourClass("other")
	other.Spec.ControllerName = "example.com/other"
	in.GatewayClasses = append(in.GatewayClasses, other)
	gw := gateway(testNS, "foreign", httpListener("http", 80, ""))
	gw.Spec.GatewayClassName = "other"
	orphan := gateway(testNS, "orphan", httpListener("http", 80, ""))
	orphan.Spec.GatewayClassName = "missing"
	in.Gateways = append(in.Gateways, gw, orphan)
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "foreign", ""), simpleRule("svc"))}
	out := Translate(in)
	if _, ok := out.GatewayClasses["other"]; ok {
		t.Error("status for a class of another controller")
	}
	if len(out.Gateways) != 1 || out.Gateways[0].Name != "gw" {
		t.Errorf("gateways = %+v, want only default/gw", out.Gateways)
	}
	if len(out.Routes) != 0 {
		t.Errorf("route of another controller's Gateway has status: %+v", out.Routes)
	}
}

func TestGatewayConditions(t *testing.T) {
	tests := []struct {
		name           string
		mutate         func(*Input)
		acceptedStatus metav1.ConditionStatus
		acceptedReason string
		programmed     metav1.ConditionStatus
		hasModel       bool
	}{
		{"valid", func(*Input) {}, metav1.ConditionTrue, "Accepted", metav1.ConditionTrue, true},
		{"addresses", func(in *Input) {
			in.Gateways[0].Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Value: "10.1.1.1"}}
		}, metav1.ConditionFalse, "UnsupportedAddress", metav1.ConditionFalse, false},
		{"some listener invalid", func(in *Input) {
			in.Gateways[0].Spec.Listeners = append(in.Gateways[0].Spec.Listeners, gatewayv1.Listener{Name: "tcp", Port: 9000, Protocol: gatewayv1.TCPProtocolType})
		}, metav1.ConditionTrue, "ListenersNotValid", metav1.ConditionTrue, true},
		{"every listener invalid", func(in *Input) {
			in.Gateways[0].Spec.Listeners = []gatewayv1.Listener{{Name: "udp", Port: 53, Protocol: gatewayv1.UDPProtocolType}}
		}, metav1.ConditionFalse, "ListenersNotValid", metav1.ConditionFalse, false},
		{"infrastructure parametersRef missing", func(in *Input) {
			in.Gateways[0].Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{ParametersRef: &gatewayv1.LocalParametersReference{
				Group: gatewayv1.Group(v1alpha1.GroupVersion.Group), Kind: "GatewayParameters", Name: "nope"}}
		}, metav1.ConditionFalse, "InvalidParameters", metav1.ConditionFalse, false},
		{"infrastructure parametersRef wrong kind", func(in *Input) {
			in.Gateways[0].Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{ParametersRef: &gatewayv1.LocalParametersReference{
				Group: "", Kind: "ConfigMap", Name: "cm"}}
		}, metav1.ConditionFalse, "InvalidParameters", metav1.ConditionFalse, false},
		{"invalid infrastructure label", func(in *Input) {
			in.Gateways[0].Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{Labels: map[gatewayv1.LabelKey]gatewayv1.LabelValue{"bad key!": "v"}}
		}, metav1.ConditionFalse, "InvalidParameters", metav1.ConditionFalse, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Gateways[0].Generation = 3
			tc.mutate(&in)
			g := gatewayResult(t, Translate(in), testNS, "gw")
			wantCondition(t, g.Status.Conditions, "Accepted", tc.acceptedStatus, tc.acceptedReason)
			if programmable := len(g.ProgrammableListeners) > 0; programmable != (tc.programmed == metav1.ConditionTrue) {
				t.Errorf("programmable listeners %v, want Programmed %s", g.ProgrammableListeners, tc.programmed)
			}
			for _, c := range g.Status.Conditions {
				if c.ObservedGeneration != 3 {
					t.Errorf("%s observedGeneration = %d, want 3", c.Type, c.ObservedGeneration)
				}
			}
			if tc.acceptedStatus == metav1.ConditionFalse && len(g.ProgrammableListeners) > 0 {
				t.Errorf("listeners %v of a Gateway that is not accepted are programmable", g.ProgrammableListeners)
			}
			if (g.Model != nil) != tc.hasModel {
				t.Errorf("model present = %v, want %v", g.Model != nil, tc.hasModel)
			}
			if g.Generation != 3 {
				t.Errorf("Generation = %d", g.Generation)
			}
			if len(g.Status.Addresses) != 0 {
				t.Error("translation step must leave addresses to the sidecar")
			}
		})
	}
}

func TestInfrastructureDefaultsAndParameters(t *testing.T) {
	group := v1alpha1.GroupVersion.Group
	nodePort := corev1.ServiceTypeNodePort
	clusterIP := corev1.ServiceTypeClusterIP
	cluster := corev1.ServiceExternalTrafficPolicyCluster
	jsonLog := v1alpha1.AccessLogJSON
	tests := []struct {
		name         string
		classParams  *v1alpha1.GatewayParametersSpec
		gwParams     *v1alpha1.GatewayParametersSpec
		wantInfra    model.Infrastructure
		wantSettings model.Settings
	}{
		{
			name:         "defaults",
			wantInfra:    model.Infrastructure{Replicas: 1, ServiceType: corev1.ServiceTypeLoadBalancer, ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal},
			wantSettings: model.Settings{WorkerProcesses: "auto", WorkerConnections: 8192, AccessLogFormat: "default", WorkerShutdownTimeoutSeconds: 60},
		},
		{
			name: "class parameters",
			classParams: &v1alpha1.GatewayParametersSpec{
				Replicas: ptr(int32(3)), Image: ptr("example/nginx:1"),
				Service: &v1alpha1.ServiceSettings{Type: &nodePort, Annotations: map[string]string{"a": "b"}},
				Nginx:   &v1alpha1.NginxSettings{WorkerProcesses: ptr("4"), WorkerConnections: ptr(int32(1024)), WorkerShutdownTimeoutSeconds: ptr(int32(5)), AccessLog: &jsonLog},
			},
			wantInfra: model.Infrastructure{Replicas: 3, Image: "example/nginx:1", ServiceType: corev1.ServiceTypeNodePort,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster, ServiceAnnotations: map[string]string{"a": "b"}},
			wantSettings: model.Settings{WorkerProcesses: "4", WorkerConnections: 1024, AccessLogFormat: "json", WorkerShutdownTimeoutSeconds: 5},
		},
		{
			name:        "gateway parameters override the class's",
			classParams: &v1alpha1.GatewayParametersSpec{Replicas: ptr(int32(3)), Service: &v1alpha1.ServiceSettings{ExternalTrafficPolicy: &cluster}},
			gwParams:    &v1alpha1.GatewayParametersSpec{Replicas: ptr(int32(5))},
			wantInfra: model.Infrastructure{Replicas: 5, ServiceType: corev1.ServiceTypeLoadBalancer,
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster},
			wantSettings: model.Settings{WorkerProcesses: "auto", WorkerConnections: 8192, AccessLogFormat: "default", WorkerShutdownTimeoutSeconds: 60},
		},
		{
			name:         "ClusterIP has no external traffic policy",
			classParams:  &v1alpha1.GatewayParametersSpec{Service: &v1alpha1.ServiceSettings{Type: &clusterIP, ExternalTrafficPolicy: &cluster}},
			wantInfra:    model.Infrastructure{Replicas: 1, ServiceType: corev1.ServiceTypeClusterIP},
			wantSettings: model.Settings{WorkerProcesses: "auto", WorkerConnections: 8192, AccessLogFormat: "default", WorkerShutdownTimeoutSeconds: 60},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			if tc.classParams != nil {
				in.Parameters = append(in.Parameters, params("ops", "class", *tc.classParams))
				in.GatewayClasses[0].Spec.ParametersRef = classParamsRef(group, "GatewayParameters", "ops", "class")
			}
			if tc.gwParams != nil {
				in.Parameters = append(in.Parameters, params(testNS, "mine", *tc.gwParams))
				in.Gateways[0].Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{ParametersRef: &gatewayv1.LocalParametersReference{
					Group: gatewayv1.Group(group), Kind: "GatewayParameters", Name: "mine"}}
			}
			g := gatewayResult(t, Translate(in), testNS, "gw")
			got := g.Infrastructure
			got.Ports = nil
			if !reflect.DeepEqual(got, tc.wantInfra) {
				t.Errorf("infrastructure = %+v\nwant %+v", got, tc.wantInfra)
			}
			if g.Model == nil || g.Model.Settings != tc.wantSettings {
				t.Errorf("settings = %+v, want %+v", g.Model, tc.wantSettings)
			}
		})
	}
}

func TestInfrastructureMetadataAndPorts(t *testing.T) {
	in := baseInput()
	in.Secrets = append(in.Secrets, tlsSecret(t, testNS, "cert"))
	in.Gateways[0].Spec.Listeners = append(in.Gateways[0].Spec.Listeners,
		httpListener("http-b", 80, "b.example.com"),
		httpsListener("https", 443, "", secretRef("", "cert")),
		httpsListener("broken", 8443, "", secretRef("", "missing")),
	)
	in.Gateways[0].Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{
		Labels:      map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "a"},
		Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{"example.com/note": "x y"},
	}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	if !reflect.DeepEqual(g.Infrastructure.Labels, map[string]string{"team": "a"}) ||
		!reflect.DeepEqual(g.Infrastructure.Annotations, map[string]string{"example.com/note": "x y"}) {
		t.Errorf("labels/annotations = %v %v", g.Infrastructure.Labels, g.Infrastructure.Annotations)
	}
	want := []model.ServicePort{{Name: "http-80", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "https-443", Port: 443, Protocol: corev1.ProtocolTCP}}
	if !reflect.DeepEqual(g.Infrastructure.Ports, want) {
		t.Errorf("ports = %+v, want %+v", g.Infrastructure.Ports, want)
	}
}

func TestGatewayClassSupportedVersion(t *testing.T) {
	tests := []struct {
		name     string
		versions map[string]string
		want     string // "" = no condition
	}{
		{"unknown", nil, ""},
		{"same version", map[string]string{"gateways.gateway.networking.k8s.io": "v1.6.3", "httproutes.gateway.networking.k8s.io": "v1.6.3"}, "True/SupportedVersion"},
		{"other patch", map[string]string{"gateways.gateway.networking.k8s.io": "v1.6.0"}, "True/SupportedVersion"},
		{"other minor", map[string]string{"gateways.gateway.networking.k8s.io": "v1.6.3", "httproutes.gateway.networking.k8s.io": "v1.5.0"}, "False/UnsupportedVersion"},
		{"missing annotation", map[string]string{"gateways.gateway.networking.k8s.io": ""}, "False/UnsupportedVersion"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.GatewayAPICRDVersions = tc.versions
			st := Translate(in).GatewayClasses["nginx"]
			wantCondition(t, st.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
			var got string
			for _, c := range st.Conditions {
				if c.Type == "SupportedVersion" {
					got = condString(c)
				}
			}
			if got != tc.want {
				t.Errorf("SupportedVersion = %q, want %q", got, tc.want)
			}
		})
	}
}
