package translate

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/consts"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// SupportedFeatures are the Gateway API features the translation step and the
// renderer implement together, written into GatewayClass
// status.supportedFeatures (sorted). The conformance suite reads this list
// to pick its tests, so it names only what really works: no session
// persistence, no BackendTLSPolicySANValidation (nginx checks one name).
// HTTPRouteRetry (and its BackendTimeout and ConnectionError) are claimed
// only with the experimental HTTPRoute CRD (experimentalFeatures).
var SupportedFeatures = sortedFeatures(
	features.SupportGateway,
	features.SupportGatewayPort8080,
	features.SupportHTTPRoute,
	features.SupportGRPCRoute,
	features.SupportGRPCRouteNamedRouteRule,
	features.SupportReferenceGrant,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRouteBackendRequestHeaderModification,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRouteRequestMirror,
	features.SupportHTTPRouteRequestMultipleMirrors,
	features.SupportHTTPRouteRequestPercentageMirror,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteBackendTimeout,
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRouteBackendProtocolH2C,
	features.SupportHTTPRouteBackendProtocolWebSocket,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportHTTPRouteCORS,
	features.SupportHTTPRoute303RedirectStatusCode,
	features.SupportHTTPRoute307RedirectStatusCode,
	features.SupportHTTPRoute308RedirectStatusCode,
	features.SupportBackendTLSPolicy,
	features.SupportGatewayBackendClientCertificate,
	features.SupportGatewayFrontendClientCertificateValidation,
	features.SupportGatewayFrontendClientCertificateValidationInsecureFallback,
	features.SupportGatewayInfrastructure,
	features.SupportGatewayStaticAddresses,
	features.SupportGatewayAddressEmpty,
	features.SupportTCPRoute,
	features.SupportUDPRoute,
	features.SupportTLSRoute,
	features.SupportTLSRouteModeTerminate,
	features.SupportTLSRouteModeMixed,
	features.SupportGatewayHTTPSListenerDetectMisdirectedRequests,
	features.SupportGatewayHTTPListenerIsolation,
	features.SupportHTTPRouteDestinationPortMatching,
	features.SupportListenerSet,
)

func sortedFeatures(names ...features.FeatureName) []gatewayv1.FeatureName {
	out := make([]gatewayv1.FeatureName, len(names))
	for i, n := range names {
		out[i] = gatewayv1.FeatureName(n)
	}
	slices.Sort(out)
	return out
}

// Defaults of GatewayParameters (documented in api/v1alpha1).
const (
	defaultReplicas                     = 1
	defaultWorkerConnections            = 8192
	defaultWorkerShutdownTimeoutSeconds = 60
	defaultAccessLogFormat              = string(v1alpha1.AccessLogJSON)
)

// classResult is what the translation step decided for one GatewayClass of ours.
type classResult struct {
	accepted bool
	message  string
	params   *v1alpha1.GatewayParameters
}

// buildGatewayClass computes the status of a GatewayClass whose
// controllerName is ours, and resolves its parametersRef.
func buildGatewayClass(ix *index, gc *gatewayv1.GatewayClass, crdVersions, crdChannels map[string]string) (gatewayv1.GatewayClassStatus, classResult) {
	res := classResult{accepted: true}
	if ref := gc.Spec.ParametersRef; ref != nil {
		params, err := resolveClassParameters(ix, ref)
		if err == nil {
			err = validateParameters(params)
		}
		if err != nil {
			res.accepted = false
			res.message = err.Error()
		} else {
			res.params = params
		}
	}
	reason, msg := string(gatewayv1.GatewayClassReasonAccepted), "GatewayClass is accepted"
	if !res.accepted {
		reason, msg = string(gatewayv1.GatewayClassReasonInvalidParameters), res.message
	}
	status := gatewayv1.GatewayClassStatus{
		Conditions: []metav1.Condition{
			condition(string(gatewayv1.GatewayClassConditionStatusAccepted), res.accepted, reason, msg, gc.Generation),
		},
	}
	if crdVersions != nil {
		ok, msg := supportedVersion(crdVersions)
		reason := gatewayv1.GatewayClassReasonSupportedVersion
		if !ok {
			reason = gatewayv1.GatewayClassReasonUnsupportedVersion
		}
		status.Conditions = append(status.Conditions, condition(string(gatewayv1.GatewayClassConditionStatusSupportedVersion), ok, string(reason), msg, gc.Generation))
	}
	claimed := SupportedFeatures
	for crd, fs := range experimentalFeatures {
		if crdChannels[crd] == "experimental" {
			claimed = append(slices.Clone(claimed), fs...)
		}
	}
	slices.Sort(claimed)
	status.SupportedFeatures = make([]gatewayv1.SupportedFeature, len(claimed))
	for i, f := range claimed {
		status.SupportedFeatures[i] = gatewayv1.SupportedFeature{Name: f}
	}
	return status, res
}

// experimentalFeatures are features whose fields only the experimental
// channel's CRD has (the standard CRD drops them), by CRD: claimed only
// when that CRD is installed from the experimental channel, since on the
// standard one nobody can ask for them and the suite's tests would fail.
var experimentalFeatures = map[string][]gatewayv1.FeatureName{
	"httproutes.gateway.networking.k8s.io": {
		gatewayv1.FeatureName(features.SupportHTTPRouteRetry),
		// A try without answer is retried whatever the codes
		// (operator/render/retry.go).
		gatewayv1.FeatureName(features.SupportHTTPRouteRetryBackendTimeout),
		gatewayv1.FeatureName(features.SupportHTTPRouteRetryConnectionError),
	},
}

// supportedVersion checks the bundle-version of the installed Gateway API
// CRDs: we support the minor version we are built with (any patch). An
// unknown version keeps the class Accepted (best effort) but makes
// SupportedVersion False, as the spec allows.
func supportedVersion(crdVersions map[string]string) (bool, string) {
	want := minorVersion(consts.BundleVersion)
	names := make([]string, 0, len(crdVersions))
	for name := range crdVersions {
		names = append(names, name)
	}
	slices.Sort(names)
	var bad []string
	for _, name := range names {
		if v := crdVersions[name]; minorVersion(v) != want || v == "" {
			bad = append(bad, fmt.Sprintf("%s (%q)", name, v))
		}
	}
	if len(bad) > 0 {
		return false, fmt.Sprintf("Gateway API CRDs of an unsupported bundle version (want %s.x): %s", want, strings.Join(bad, ", "))
	}
	return true, fmt.Sprintf("Gateway API CRD bundle version %s.x is supported", want)
}

// minorVersion returns "v1.6" for "v1.6.3".
func minorVersion(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

func resolveClassParameters(ix *index, ref *gatewayv1.ParametersReference) (*v1alpha1.GatewayParameters, error) {
	if string(ref.Group) != v1alpha1.GroupVersion.Group || string(ref.Kind) != v1alpha1.Kind {
		return nil, fmt.Errorf("spec.parametersRef: must name group %s kind %s, not %s/%s",
			v1alpha1.GroupVersion.Group, v1alpha1.Kind, ref.Group, ref.Kind)
	}
	if ref.Namespace == nil || *ref.Namespace == "" {
		return nil, fmt.Errorf("spec.parametersRef.namespace: required for %s", v1alpha1.Kind)
	}
	key := types.NamespacedName{Namespace: string(*ref.Namespace), Name: ref.Name}
	p, ok := ix.params[key]
	if !ok {
		return nil, fmt.Errorf("spec.parametersRef: %s %s not found", v1alpha1.Kind, key)
	}
	return p, nil
}

var workerProcessesPattern = regexp.MustCompile(`^(auto|[1-9][0-9]{0,2})$`)

// validateParameters repeats the CRD's validation: objects read from YAML
// files by the render command never went through the API server.
func validateParameters(p *v1alpha1.GatewayParameters) error {
	s := p.Spec
	if s.Replicas != nil && *s.Replicas < 0 {
		return fmt.Errorf("%s %s/%s: spec.replicas must not be negative", v1alpha1.Kind, p.Namespace, p.Name)
	}
	if s.Service != nil {
		if t := s.Service.Type; t != nil {
			switch *t {
			case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
			default:
				return fmt.Errorf("%s %s/%s: spec.service.type %q is not supported", v1alpha1.Kind, p.Namespace, p.Name, *t)
			}
		}
		if e := s.Service.ExternalTrafficPolicy; e != nil {
			switch *e {
			case corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal:
			default:
				return fmt.Errorf("%s %s/%s: spec.service.externalTrafficPolicy %q is not supported", v1alpha1.Kind, p.Namespace, p.Name, *e)
			}
		}
	}
	if n := s.Nginx; n != nil {
		if n.WorkerProcesses != nil && !workerProcessesPattern.MatchString(*n.WorkerProcesses) {
			return fmt.Errorf("%s %s/%s: spec.nginx.workerProcesses %q must be \"auto\" or 1-999", v1alpha1.Kind, p.Namespace, p.Name, *n.WorkerProcesses)
		}
		if c := n.WorkerConnections; c != nil && (*c < 64 || *c > 1048576) {
			return fmt.Errorf("%s %s/%s: spec.nginx.workerConnections must be within 64..1048576", v1alpha1.Kind, p.Namespace, p.Name)
		}
		if t := n.WorkerShutdownTimeoutSeconds; t != nil && (*t < 1 || *t > 86400) {
			return fmt.Errorf("%s %s/%s: spec.nginx.workerShutdownTimeoutSeconds must be within 1..86400", v1alpha1.Kind, p.Namespace, p.Name)
		}
		if a := n.AccessLog; a != nil {
			switch *a {
			case v1alpha1.AccessLogJSON, v1alpha1.AccessLogText, v1alpha1.AccessLogDefault, v1alpha1.AccessLogOff:
			default:
				return fmt.Errorf("%s %s/%s: spec.nginx.accessLog %q is not supported", v1alpha1.Kind, p.Namespace, p.Name, *a)
			}
		}
	}
	if s.Image != nil {
		if err := checkNoControl("spec.image", *s.Image); err != nil {
			return fmt.Errorf("%s %s/%s: %v", v1alpha1.Kind, p.Namespace, p.Name, err)
		}
	}
	return nil
}

// resolveSettings merges parameter layers (class first, then the
// Gateway's own) over the defaults.
func resolveSettings(layers ...*v1alpha1.GatewayParameters) (model.Infrastructure, model.Settings) {
	infra := model.Infrastructure{
		Replicas:    defaultReplicas,
		ServiceType: corev1.ServiceTypeLoadBalancer,
	}
	settings := model.Settings{
		WorkerConnections:            defaultWorkerConnections,
		AccessLogFormat:              defaultAccessLogFormat,
		WorkerShutdownTimeoutSeconds: defaultWorkerShutdownTimeoutSeconds,
	}
	var etp *corev1.ServiceExternalTrafficPolicy
	for _, p := range layers {
		if p == nil {
			continue
		}
		s := p.Spec
		if s.Replicas != nil {
			infra.Replicas = *s.Replicas
		}
		if s.Image != nil {
			infra.Image = *s.Image
		}
		if s.Resources != nil {
			infra.Resources = *s.Resources.DeepCopy()
		}
		if svc := s.Service; svc != nil {
			if svc.Type != nil {
				infra.ServiceType = *svc.Type
			}
			if svc.ExternalTrafficPolicy != nil {
				etp = svc.ExternalTrafficPolicy
			}
			if len(svc.Annotations) > 0 {
				if infra.ServiceAnnotations == nil {
					infra.ServiceAnnotations = map[string]string{}
				}
				for k, v := range svc.Annotations {
					infra.ServiceAnnotations[k] = v
				}
			}
		}
		if n := s.Nginx; n != nil {
			if n.WorkerProcesses != nil {
				// Validated against workerProcessesPattern: "auto" or 1-999.
				w, _ := strconv.Atoi(*n.WorkerProcesses)
				infra.WorkerProcesses = int32(w)
			}
			if n.WorkerConnections != nil {
				settings.WorkerConnections = *n.WorkerConnections
			}
			if n.WorkerShutdownTimeoutSeconds != nil {
				settings.WorkerShutdownTimeoutSeconds = *n.WorkerShutdownTimeoutSeconds
			}
			if n.AccessLog != nil {
				settings.AccessLogFormat = string(*n.AccessLog)
				if *n.AccessLog == v1alpha1.AccessLogDefault {
					settings.AccessLogFormat = string(v1alpha1.AccessLogText) // the old name
				}
			}
		}
	}
	// The API server refuses externalTrafficPolicy on ClusterIP Services;
	// Local is our default for LoadBalancer, Kubernetes' Cluster for NodePort.
	switch infra.ServiceType {
	case corev1.ServiceTypeLoadBalancer:
		infra.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	case corev1.ServiceTypeNodePort:
		infra.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if etp != nil && infra.ServiceType != corev1.ServiceTypeClusterIP {
		infra.ExternalTrafficPolicy = *etp
	}
	return infra, settings
}
