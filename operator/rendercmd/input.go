package rendercmd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// scheme knows every kind the command reads.
func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, gatewayv1.Install, gatewayv1beta1.Install, v1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

// ReadInput reads every object from the files and folders in paths into a
// build input. It returns a description of each document it skipped.
func ReadInput(paths []string) (translate.Input, []string, error) {
	var in translate.Input
	var skipped []string
	decoder := serializer.NewCodecFactory(scheme()).UniversalDeserializer()
	files, err := expand(paths)
	if err != nil {
		return in, nil, err
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return in, nil, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for i := 0; ; i++ {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return in, nil, fmt.Errorf("%s: document %d: %w", file, i, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 || isOnlyComments(doc) {
				continue
			}
			obj, gvk, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				if runtime.IsNotRegisteredError(err) {
					// The decoder returns no kind with this error: read it from
					// the document.
					var tm metav1.TypeMeta
					_ = yaml.Unmarshal(doc, &tm)
					skipped = append(skipped, fmt.Sprintf("%s: document %d: %s", file, i, tm.Kind))
					continue
				}
				return in, nil, fmt.Errorf("%s: document %d: %w", file, i, err)
			}
			defaultNamespace(obj)
			if !add(&in, obj) {
				skipped = append(skipped, fmt.Sprintf("%s: document %d: %s", file, i, gvk.Kind))
			}
		}
	}
	WithNamespaces(&in)
	return in, skipped, nil
}

// defaultNamespace puts namespaced objects without a namespace into
// "default", as kubectl apply would.
func defaultNamespace(obj runtime.Object) {
	switch obj.(type) {
	case *gatewayv1.GatewayClass, *corev1.Namespace:
		return
	}
	if o, ok := obj.(interface {
		GetNamespace() string
		SetNamespace(string)
	}); ok && o.GetNamespace() == "" {
		o.SetNamespace(metav1.NamespaceDefault)
	}
}

func add(in *translate.Input, obj runtime.Object) bool {
	switch o := obj.(type) {
	case *gatewayv1.GatewayClass:
		in.GatewayClasses = append(in.GatewayClasses, *o)
	case *gatewayv1.Gateway:
		in.Gateways = append(in.Gateways, *o)
	case *gatewayv1.HTTPRoute:
		in.HTTPRoutes = append(in.HTTPRoutes, o)
	case *gatewayv1.GRPCRoute:
		in.GRPCRoutes = append(in.GRPCRoutes, o)
	case *gatewayv1.TCPRoute:
		in.TCPRoutes = append(in.TCPRoutes, o)
	case *gatewayv1.UDPRoute:
		in.UDPRoutes = append(in.UDPRoutes, o)
	case *gatewayv1.TLSRoute:
		in.TLSRoutes = append(in.TLSRoutes, o)
	case *gatewayv1.ListenerSet:
		in.ListenerSets = append(in.ListenerSets, *o)
	case *gatewayv1beta1.ReferenceGrant:
		in.ReferenceGrants = append(in.ReferenceGrants, *o)
	case *gatewayv1.ReferenceGrant:
		in.ReferenceGrants = append(in.ReferenceGrants, gatewayv1beta1.ReferenceGrant(*o))
	case *corev1.Namespace:
		in.Namespaces = append(in.Namespaces, *o)
	case *corev1.Service:
		in.Services = append(in.Services, *o)
	case *discoveryv1.EndpointSlice:
		in.EndpointSlices = append(in.EndpointSlices, *o)
	case *corev1.Secret:
		in.Secrets = append(in.Secrets, secretWithData(*o))
	case *v1alpha1.GatewayParameters:
		in.Parameters = append(in.Parameters, *o)
	case *gatewayv1.BackendTLSPolicy:
		in.BackendTLSPolicies = append(in.BackendTLSPolicies, *o)
	case *corev1.ConfigMap:
		in.ConfigMaps = append(in.ConfigMaps, *o)
	default:
		return false
	}
	return true
}

// secretWithData moves stringData into data, as the API server does.
func secretWithData(s corev1.Secret) corev1.Secret {
	if len(s.StringData) == 0 {
		return s
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	return s
}

func isOnlyComments(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}

// kustomizeFiles are kustomize's build instructions, not objects: a folder
// such as config/samples holds one beside the objects it lists.
var kustomizeFiles = map[string]bool{"kustomization.yaml": true, "kustomization.yml": true}

// expand turns folders into their *.yaml and *.yml files, sorted, leaving
// out kustomization files. Files named explicitly are always read.
func expand(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && !kustomizeFiles[e.Name()] && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
				names = append(names, filepath.Join(p, e.Name()))
			}
		}
		slices.Sort(names)
		out = append(out, names...)
	}
	return out, nil
}

// WithNamespaces gives the translation step a Namespace object for every
// namespace the objects live in, labelled as the API server labels them
// (kubernetes.io/metadata.name), so allowedRoutes selectors work offline.
func WithNamespaces(in *translate.Input) {
	have := map[string]int{}
	for i := range in.Namespaces {
		ns := &in.Namespaces[i]
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
		have[ns.Name] = i
	}
	var used []string
	note := func(ns string) {
		if ns == "" {
			return
		}
		if _, ok := have[ns]; !ok {
			have[ns] = -1
			used = append(used, ns)
		}
	}
	for _, o := range in.Gateways {
		note(o.Namespace)
	}
	for _, o := range in.HTTPRoutes {
		note(o.Namespace)
	}
	for _, o := range in.GRPCRoutes {
		note(o.Namespace)
	}
	for _, o := range in.TCPRoutes {
		note(o.Namespace)
	}
	for _, o := range in.UDPRoutes {
		note(o.Namespace)
	}
	for _, o := range in.TLSRoutes {
		note(o.Namespace)
	}
	for _, o := range in.ReferenceGrants {
		note(o.Namespace)
	}
	for _, o := range in.Services {
		note(o.Namespace)
	}
	for _, o := range in.EndpointSlices {
		note(o.Namespace)
	}
	for _, o := range in.Secrets {
		note(o.Namespace)
	}
	for _, o := range in.Parameters {
		note(o.Namespace)
	}
	slices.Sort(used)
	for _, ns := range used {
		in.Namespaces = append(in.Namespaces, corev1.Namespace{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
			ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{corev1.LabelMetadataName: ns}},
		})
	}
}
