package translate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// gatewayState is a Gateway of ours during a translation.
type gatewayState struct {
	gw  *gatewayv1.Gateway
	key types.NamespacedName
	// accepted is the Gateway's Accepted condition; routes attach only to
	// accepted Gateways.
	accepted        bool
	acceptedReason  string
	acceptedMessage string
	// listeners are the Gateway's own, then those of its accepted
	// ListenerSets in order of precedence (listenersets.go).
	listeners []*listenerState
	// sets are the ListenerSets that name the Gateway, accepted or not.
	sets        []*listenerSetState
	attachments []attachment
	infra       model.Infrastructure
	params      []*v1alpha1.GatewayParameters
	// backendClientCert and resolvedRefs come from spec.tls.backend
	// (gatewaybackendtls.go); resolvedRefs is nil when it is not set.
	backendClientCert *corev1.Secret
	resolvedRefs      *metav1.Condition
	// insecureFrontend is the InsecureFrontendValidationMode condition
	// (frontendtls.go); nil when no port falls back.
	insecureFrontend *metav1.Condition
	// streamUpstreams names the stream upstreams of the Gateway's model,
	// shared by its TCP, UDP and TLS routes (streamroutes.go).
	streamUpstreams map[streamUpstreamKey]string
	streamNames     uniqueNames
}

// newGatewayState validates a Gateway whose class is ours and the
// ListenerSets that name it (sets, in order of precedence).
func (b *translator) newGatewayState(gw *gatewayv1.Gateway, class classResult, sets []*gatewayv1.ListenerSet) *gatewayState {
	gs := &gatewayState{gw: gw, key: types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}, accepted: true, streamUpstreams: map[streamUpstreamKey]string{}}
	reject := func(reason gatewayv1.GatewayConditionReason, msg string) {
		if gs.accepted {
			gs.accepted, gs.acceptedReason, gs.acceptedMessage = false, string(reason), msg
		}
	}
	if !class.accepted {
		reject(gatewayv1.GatewayReasonInvalidParameters, "GatewayClass is not accepted: "+class.message)
	}
	gs.params = []*v1alpha1.GatewayParameters{class.params}
	if infra := gw.Spec.Infrastructure; infra != nil {
		if ref := infra.ParametersRef; ref != nil {
			p, err := b.gatewayParameters(gw, ref)
			if err != nil {
				reject(gatewayv1.GatewayReasonInvalidParameters, err.Error())
			} else {
				gs.params = append(gs.params, p)
			}
		}
		if err := checkInfrastructureMetadata(infra); err != nil {
			reject(gatewayv1.GatewayReasonInvalidParameters, err.Error())
		}
	}
	settings, _ := resolveSettings(gs.params...)
	loadBalancerIP, err := requestedAddress(gw.Spec.Addresses, settings.ServiceType)
	if err != nil {
		reject(gatewayv1.GatewayReasonUnsupportedAddress, err.Error())
	}
	gs.listeners = buildListeners(b.ix, gw)
	b.resolveBackendClientCertificate(gs)
	b.applyFrontendValidation(gs)
	usable := 0
	for _, l := range gs.listeners {
		if l.accepted && l.conflictReason == "" {
			usable++
		}
	}
	if usable == 0 {
		reject(gatewayv1.GatewayReasonListenersNotValid, "no listener is valid")
	}
	b.attachListenerSets(gs, sets)
	if gs.accepted {
		gs.infra, _ = resolveSettings(gs.params...)
	} else {
		gs.infra, _ = resolveSettings(class.params)
	}
	gs.infra.LoadBalancerIP = loadBalancerIP
	if infra := gw.Spec.Infrastructure; infra != nil {
		gs.infra.Labels = copyMap(infra.Labels)
		gs.infra.Annotations = copyMap(infra.Annotations)
	}
	return gs
}

func (b *translator) gatewayParameters(gw *gatewayv1.Gateway, ref *gatewayv1.LocalParametersReference) (*v1alpha1.GatewayParameters, error) {
	if string(ref.Group) != v1alpha1.GroupVersion.Group || string(ref.Kind) != v1alpha1.Kind {
		return nil, fmt.Errorf("spec.infrastructure.parametersRef: must name group %s kind %s, not %s/%s",
			v1alpha1.GroupVersion.Group, v1alpha1.Kind, ref.Group, ref.Kind)
	}
	p, ok := b.ix.params[types.NamespacedName{Namespace: gw.Namespace, Name: ref.Name}]
	if !ok {
		return nil, fmt.Errorf("spec.infrastructure.parametersRef: %s %s/%s not found", v1alpha1.Kind, gw.Namespace, ref.Name)
	}
	if err := validateParameters(p); err != nil {
		return nil, err
	}
	// The Gateway's own parameters live in the app team's namespace; the
	// image runs in every gateway pod, so only the platform team's layers
	// (the operator's configuration and the class's parameters) choose it.
	if p.Spec.Image != nil {
		return nil, fmt.Errorf("spec.infrastructure.parametersRef: %s %s/%s: spec.image may only be set in the GatewayClass's parameters",
			v1alpha1.Kind, p.Namespace, p.Name)
	}
	return p, nil
}

// checkInfrastructureMetadata refuses labels and annotations the API server
// would refuse on the owned objects, and keys under our own prefix
// (dataplane.KeyPrefix): the pods' annotations under it are what the
// operator and the sidecar read as the served config's hashes. Keys are
// checked in sorted order so the message names the same key every time.
func checkInfrastructureMetadata(infra *gatewayv1.GatewayInfrastructure) error {
	for _, k := range slices.Sorted(maps.Keys(infra.Labels)) {
		if errs := validation.IsQualifiedName(string(k)); len(errs) > 0 {
			return fmt.Errorf("spec.infrastructure.labels: key %q: %s", k, strings.Join(errs, "; "))
		}
		if reservedKey(string(k)) {
			return fmt.Errorf("spec.infrastructure.labels: key %q: the prefix %s is reserved for the operator", k, dataplane.KeyPrefix)
		}
		if errs := validation.IsValidLabelValue(string(infra.Labels[k])); len(errs) > 0 {
			return fmt.Errorf("spec.infrastructure.labels[%s]: %s", k, strings.Join(errs, "; "))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(infra.Annotations)) {
		if errs := validation.IsQualifiedName(string(k)); len(errs) > 0 {
			return fmt.Errorf("spec.infrastructure.annotations: key %q: %s", k, strings.Join(errs, "; "))
		}
		if reservedKey(string(k)) {
			return fmt.Errorf("spec.infrastructure.annotations: key %q: the prefix %s is reserved for the operator", k, dataplane.KeyPrefix)
		}
	}
	return nil
}

// reservedKey reports whether a label or annotation key's prefix is ours
// (dataplane.KeyPrefix) or a subdomain of it, compared case-insensitively
// (DNS names are; the API server accepts only lower case anyway).
func reservedKey(k string) bool {
	prefix, _, ok := strings.Cut(strings.ToLower(k), "/")
	if !ok {
		return false
	}
	ours := strings.TrimSuffix(dataplane.KeyPrefix, "/")
	return prefix == ours || strings.HasSuffix(prefix, "."+ours)
}

func copyMap[K, V ~string](m map[K]V) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// status renders what the translation step decides of the Gateway's
// status: Accepted, and each listener's Accepted, Conflicted and
// ResolvedRefs. Programmed is not among them: whether the data plane serves
// the config is known only from the gateway pods, so the controller
// composes Programmed from programmable() and what the pods report.
func (gs *gatewayState) status() gatewayv1.GatewayStatus {
	gen := gs.gw.Generation
	var st gatewayv1.GatewayStatus
	invalid := []string{}
	for _, l := range gs.ownListeners() {
		st.Listeners = append(st.Listeners, listenerStatus(l, gen))
		if !l.programmed() {
			invalid = append(invalid, l.name)
		}
	}
	var accepted metav1.Condition
	switch {
	case !gs.accepted:
		accepted = condition(string(gatewayv1.GatewayConditionAccepted), false, gs.acceptedReason, gs.acceptedMessage, gen)
	case len(invalid) > 0:
		accepted = condition(string(gatewayv1.GatewayConditionAccepted), true, string(gatewayv1.GatewayReasonListenersNotValid),
			"Gateway is accepted; listeners not served: "+strings.Join(invalid, ", "), gen)
	default:
		accepted = condition(string(gatewayv1.GatewayConditionAccepted), true, string(gatewayv1.GatewayReasonAccepted), "Gateway is accepted", gen)
	}
	st.Conditions = []metav1.Condition{accepted}
	st.AttachedListenerSets = gs.attachedListenerSets()
	if gs.resolvedRefs != nil {
		st.Conditions = append(st.Conditions, *gs.resolvedRefs)
	}
	st.Conditions = append(st.Conditions, gs.insecureFrontendCondition()...)
	return st
}

// programmableListeners names, in spec order, the listeners the data plane
// serves once it accepts the config: none when the Gateway is not accepted.
// Its ListenerSets' listeners are theirs (ListenerSetResult).
func (gs *gatewayState) programmableListeners() []string {
	var out []string
	for _, l := range gs.ownListeners() {
		if gs.accepted && l.programmed() {
			out = append(out, l.name)
		}
	}
	return out
}
