package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TestHTTPUpstreamRefs: 20,000 upstreams get 20,000 distinct nginx names,
// whatever their order, and two names whose short forms collide both get
// upstreamRef's long form, the others a short one.
func TestHTTPUpstreamRefs(t *testing.T) {
	var ups []model.Upstream
	for i := range 20000 {
		ups = append(ups, upstream(fmt.Sprintf("ns%d_svc%d_80", i%7, i)))
	}
	refs := httpUpstreamRefs(ups)
	reversed := httpUpstreamRefs(reverse(ups))
	if !maps.Equal(refs, reversed) {
		t.Error("the names depend on the upstreams' order")
	}
	seen := map[string]string{}
	long := 0
	for name, ref := range refs {
		if other, dup := seen[ref]; dup {
			t.Errorf("%s and %s are both %s", name, other, ref)
		}
		seen[ref] = name
		if strings.Contains(ref, "_") {
			long++
			if ref != upstreamRef(name) {
				t.Errorf("%s: %s, want the long form %s", name, ref, upstreamRef(name))
			}
		} else if len(ref) < 7 || len(ref) > 14 {
			t.Errorf("%s: %s, want u and 6 to 13 hex digits", name, ref)
		}
	}
	if long != 0 {
		t.Logf("%d of %d upstreams have the long form", long, len(refs))
	}

	// Two names whose short forms collide get the long form, a third not.
	first := map[string]string{}
	var a, b string
	for i := 0; a == ""; i++ {
		name := fmt.Sprintf("default_svc%d_80", i)
		short := shortUpstreamRef(name)
		if other, ok := first[short]; ok {
			a, b = other, name
		}
		first[short] = name
	}
	refs = httpUpstreamRefs([]model.Upstream{upstream(a), upstream("default_other_80"), upstream(b)})
	if refs[a] != upstreamRef(a) || refs[b] != upstreamRef(b) || refs["default_other_80"] != shortUpstreamRef("default_other_80") {
		t.Errorf("%s and %s collide (%s): got %v", a, b, shortUpstreamRef(a), refs)
	}
}

func reverse(ups []model.Upstream) []model.Upstream {
	out := slices.Clone(ups)
	slices.Reverse(out)
	return out
}
