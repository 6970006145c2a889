package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

func TestNewRefusals(t *testing.T) {
	accepted := func(status metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: "Accepted", Status: status, Reason: reason, Message: msg}
	}
	tests := []struct {
		name           string
		previous, next []metav1.Condition
		want           []string // reasons
	}{
		{name: "turns False", previous: []metav1.Condition{accepted("True", "Accepted", "")},
			next: []metav1.Condition{accepted("False", "NotAllowedByListeners", "m")}, want: []string{"NotAllowedByListeners"}},
		{name: "first status False", next: []metav1.Condition{accepted("False", "NoMatchingParent", "m")}, want: []string{"NoMatchingParent"}},
		{name: "stays False", previous: []metav1.Condition{accepted("False", "UnsupportedValue", "m")},
			next: []metav1.Condition{accepted("False", "UnsupportedValue", "m")}},
		{name: "another field refused", previous: []metav1.Condition{accepted("False", "UnsupportedValue", "spec.a")},
			next: []metav1.Condition{accepted("False", "UnsupportedValue", "spec.b")}, want: []string{"UnsupportedValue"}},
		{name: "True is no refusal", next: []metav1.Condition{accepted("True", "Accepted", "")}},
		{name: "Programmed False is the data plane's (Events of their own)",
			next: []metav1.Condition{{Type: "Programmed", Status: "False", Reason: "Pending"}}},
		{name: "an address that cannot be had", next: []metav1.Condition{{Type: "Programmed", Status: "False", Reason: "AddressNotUsable"}},
			want: []string{"AddressNotUsable"}},
		{name: "Conflicted True", next: []metav1.Condition{{Type: "Conflicted", Status: "True", Reason: "HostnameConflict"}},
			want: []string{"HostnameConflict"}},
		{name: "Conflicted False", next: []metav1.Condition{{Type: "Conflicted", Status: "False", Reason: "NoConflicts"}}},
	}
	for _, tt := range tests {
		var got []string
		for _, c := range newRefusals(tt.previous, tt.next) {
			got = append(got, c.Reason)
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRefusalsReachEvents creates one refused object per kind of refusal
// the translation makes and waits for the Warning Event on that object:
// the condition's reason, a note naming the field. Then it checks that a
// refusal that stays gives no second Event when the operator writes the
// object's status again.
func TestRefusalsReachEvents(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	other := newNamespace(t, nil)
	gc := newClass(t, nil)
	newTLSSecret(t, ns, "cert", "*.example.com")
	badKinds := httpListener("bad-kinds", 81, "")
	badKinds.AllowedRoutes = &gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: "TCPRoute"}}}
	newGateway(t, ns, gc.Name, "gw",
		httpListener("http", 80, "*.example.com"),
		badKinds,
		httpsListener("https-missing", 443, "missing.example.com", "", "nope"),
		httpListener("conflict-http", 8443, "a.example.com"),
		httpsListener("conflict-https", 8443, "b.example.com", "", "cert"),
	)
	newService(t, ns, "backend", 8080)
	newService(t, other, "backend", 8080)

	newRoute(t, ns, "no-parent", ns, "gw", "nope", nil, ns, "backend")
	newRoute(t, other, "other-namespace", ns, "gw", "http", nil, other, "backend")
	newRoute(t, ns, "hostname", ns, "gw", "http", []string{"foo.other.test"}, ns, "backend")
	newRoute(t, ns, "missing-backend", ns, "gw", "http", nil, ns, "nope")
	newRoute(t, ns, "cross-backend", ns, "gw", "http", nil, other, "backend")
	kind := newRoute(t, ns, "kind", ns, "gw", "http", nil, ns, "backend")
	update(t, kind, func() { kind.Spec.Rules[0].BackendRefs[0].Kind = ptr.To(gatewayv1.Kind("Bucket")) })
	regex := newRoute(t, ns, "regex", ns, "gw", "http", nil, ns, "backend")
	update(t, regex, func() {
		regex.Spec.Rules[0].Matches = []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
			Type: ptr.To(gatewayv1.PathMatchRegularExpression), Value: ptr.To("/(")}}}
	})
	newRoute(t, ns, "tls-backend", ns, "gw", "http", nil, ns, "backend")
	// No ConfigMap "ca": the policy's CA is missing.
	if err := k8s.Create(ctx, backendPolicy(ns, "no-ca")); err != nil {
		t.Fatal(err)
	}
	badClass := newClass(t, &gatewayv1.ParametersReference{
		Group: gatewayv1.Group(v1alpha1.GroupVersion.Group), Kind: v1alpha1.Kind,
		Name: "missing", Namespace: ptr.To(gatewayv1.Namespace(ns)),
	})

	tests := []struct {
		ns, regarding, reason string
		// note holds each of these: where the refusal is and the field.
		note []string
	}{
		{ns, "gw", "InvalidRouteKinds", []string{"spec.listeners (bad-kinds)", "ResolvedRefs False"}},
		{ns, "gw", "InvalidCertificateRef", []string{"spec.listeners (https-missing)", "ResolvedRefs False", "nope"}},
		{ns, "gw", "ProtocolConflict", []string{"spec.listeners (conflict-http)", "Conflicted True"}},
		{ns, "no-parent", "NoMatchingParent", []string{"spec.parentRefs (Gateway gw sectionName nope)", "Accepted False"}},
		{other, "other-namespace", "NotAllowedByListeners", []string{"spec.parentRefs (Gateway " + ns + "/gw sectionName http)", "Accepted False"}},
		{ns, "hostname", "NoMatchingListenerHostname", []string{"spec.parentRefs (Gateway gw sectionName http)", "Accepted False"}},
		{ns, "missing-backend", "BackendNotFound", []string{"ResolvedRefs False", "spec.rules[0].backendRefs[0]", "nope"}},
		{ns, "cross-backend", "RefNotPermitted", []string{"ResolvedRefs False", "spec.rules[0].backendRefs[0]", "ReferenceGrant"}},
		{ns, "kind", "InvalidKind", []string{"ResolvedRefs False", "spec.rules[0].backendRefs[0]", "Bucket"}},
		{ns, "regex", "UnsupportedValue", []string{"Accepted False", "spec.rules[0].matches[0].path"}},
		{ns, "no-ca", "NoValidCACertificate", []string{"ancestor (Gateway " + ns + "/gw", "Accepted False"}},
		{ns, "no-ca", "InvalidCACertificateRef", []string{"ResolvedRefs False", "ca"}},
		{"default", badClass.Name, "InvalidParameters", []string{"Accepted False", "missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.regarding+" "+tt.reason, func(t *testing.T) {
			e := waitRefusalEvent(t, tt.ns, tt.regarding, tt.reason, tt.note...)
			t.Logf("%s %s: %s", e.Regarding.Kind, e.Regarding.Name, e.Note)
		})
	}

	t.Run("a refusal that stays gives one Event", func(t *testing.T) {
		// A new generation: the operator writes the status again (its
		// observedGeneration), still Accepted False for the same reason.
		update(t, regex, func() { regex.Spec.Hostnames = []gatewayv1.Hostname{"again.example.com"} })
		waitParentOf(t, regex, &regex.Status.Parents, "gw", "Accepted", metav1.ConditionFalse, "UnsupportedValue")
		testenv.Eventually(t, waitTimeout, "the status at the new generation", func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(regex), regex); err != nil {
				return err
			}
			if got := regex.Status.Parents[0].Conditions[0].ObservedGeneration; got != regex.Generation {
				return fmt.Errorf("observedGeneration %d, generation %d", got, regex.Generation)
			}
			return nil
		})
		time.Sleep(time.Second) // an Event recorded at the write would be listed by now
		if n := countEvents(t, ns, "regex", "UnsupportedValue"); n != 1 {
			t.Errorf("%d UnsupportedValue events on the route, want 1", n)
		}
	})
}

// waitRefusalEvent waits for a Warning Event of reason on the object named
// regarding (in ns; "default" for a cluster-scoped object) whose note
// holds every part, and returns it.
func waitRefusalEvent(t *testing.T, ns, regarding, reason string, parts ...string) eventsv1.Event {
	t.Helper()
	var found eventsv1.Event
	testenv.Eventually(t, waitTimeout, reason+" event on "+regarding, func() error {
		var events eventsv1.EventList
		if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		var notes []string
		for _, e := range events.Items {
			if e.Reason != reason || e.Regarding.Name != regarding || e.Type != "Warning" || e.Action != refusalAction {
				continue
			}
			notes = append(notes, e.Note)
			if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(e.Note, p) }) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("%d events in %s, none %s on %s with %q; notes of that reason: %q", len(events.Items), ns, reason,
			regarding, parts, notes)
	})
	return found
}

// countEvents counts the Events of reason on regarding, each with its
// series (an Event repeated is one object with a series count).
func countEvents(t *testing.T, ns, regarding, reason string) int {
	t.Helper()
	var events eventsv1.EventList
	if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events.Items {
		if e.Reason == reason && e.Regarding.Name == regarding {
			n++
			if e.Series != nil {
				n += int(e.Series.Count) - 1
			}
		}
	}
	return n
}

func TestEventNote(t *testing.T) {
	if got := eventNote("short"); got != "short" {
		t.Errorf("short note: %q", got)
	}
	long := strings.Repeat("é", maxEventNote) // 2 bytes each
	got := eventNote(long)
	if len(got) > maxEventNote || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("cut note: %d bytes, valid UTF-8 %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-6:])
	}
}
