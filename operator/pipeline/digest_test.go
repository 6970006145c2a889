package pipeline

import (
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TestModelDigestFollowsContent: equal models have one digest whatever
// their pointers; a change anywhere inside (a nested field, nil against
// empty, an element moved) gives another.
func TestModelDigestFollowsContent(t *testing.T) {
	build := func() *model.Gateway {
		res := Run(manyRoutes(3))
		return res.Output.Gateways[0].Model
	}
	a, b := build(), build()
	da, ok := modelDigest(a)
	if !ok {
		t.Fatal("a model cannot be digested")
	}
	if db, _ := modelDigest(b); da != db {
		t.Fatal("two equal models have different digests")
	}
	changes := map[string]func(gw *model.Gateway){
		"nested string": func(gw *model.Gateway) { gw.HTTPServers[0].Locations[0].Path += "x" },
		"nil slice":     func(gw *model.Gateway) { gw.Certificates = []model.Certificate{} },
		"order":         func(gw *model.Gateway) { u := gw.Upstreams; u[0], u[1] = u[1], u[0] },
		"number":        func(gw *model.Gateway) { gw.Upstreams[0].ServicePort++ },
	}
	for name, change := range changes {
		c := build()
		change(c)
		if dc, _ := modelDigest(c); dc == da {
			t.Errorf("%s: same digest after a change", name)
		}
	}
}
