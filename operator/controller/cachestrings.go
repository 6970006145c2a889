package controller

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// sharedStrings holds one copy of the short strings the cached routes
// repeat. Each route decoded from a watch has its own copy of its namespace
// and of every string of its status entries (this controller's name, the
// parent's group, kind and name, the conditions' types, statuses, reasons
// and messages), the same for thousands of routes: ~0.9 MiB at 5,000,
// live all the time and so raising every heap goal (GOGC=50) by half as
// much. Bounded: a string longer than maxSharedString bytes, or any once
// maxSharedStrings are held, keeps its own copy.
var sharedStrings = stringTable{m: map[string]string{}}

const (
	maxSharedString  = 128
	maxSharedStrings = 4096
)

type stringTable struct {
	mu sync.Mutex
	m  map[string]string
}

// share returns the table's copy of s, equal to s.
func (t *stringTable) share(s string) string {
	if s == "" || len(s) > maxSharedString {
		return s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if kept, ok := t.m[s]; ok {
		return kept
	}
	if len(t.m) < maxSharedStrings {
		t.m[s] = s
	}
	return s
}

// shareRouteStrings puts the table's copies (sharedStrings) in place of a
// cached route's namespace and the strings of its status entries: equal
// strings, so nothing that reads the route sees a difference.
func shareRouteStrings(route client.Object, parents []gatewayv1.RouteParentStatus) {
	route.SetNamespace(sharedStrings.share(route.GetNamespace()))
	for i := range parents {
		p := &parents[i]
		p.ControllerName = gatewayv1.GatewayController(sharedStrings.share(string(p.ControllerName)))
		shareParentRef(&p.ParentRef)
		for j := range p.Conditions {
			c := &p.Conditions[j]
			c.Type = sharedStrings.share(c.Type)
			c.Status = metav1.ConditionStatus(sharedStrings.share(string(c.Status)))
			c.Reason = sharedStrings.share(c.Reason)
			c.Message = sharedStrings.share(c.Message)
		}
	}
}

// shareParentRef shares the strings of a parentRef; a pointer field keeps
// its own pointer, only the string it points to is shared.
func shareParentRef(ref *gatewayv1.ParentReference) {
	ref.Name = gatewayv1.ObjectName(sharedStrings.share(string(ref.Name)))
	if ref.Group != nil {
		*ref.Group = gatewayv1.Group(sharedStrings.share(string(*ref.Group)))
	}
	if ref.Kind != nil {
		*ref.Kind = gatewayv1.Kind(sharedStrings.share(string(*ref.Kind)))
	}
	if ref.Namespace != nil {
		*ref.Namespace = gatewayv1.Namespace(sharedStrings.share(string(*ref.Namespace)))
	}
	if ref.SectionName != nil {
		*ref.SectionName = gatewayv1.SectionName(sharedStrings.share(string(*ref.SectionName)))
	}
}
