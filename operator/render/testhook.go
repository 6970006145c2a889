package render

import (
	"sync/atomic"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// testDirective is a test's way past every validation: a raw line written,
// unquoted, into the location that answers a rule's requests, to see what
// the operator does when nginx rejects a config. Only a test binary can set
// it (SetTestDirective), so no object a user writes can reach it.
var testDirective atomic.Pointer[func(model.RouteRef) string]

// SetTestDirective makes every render add directive(rule's route), when not
// empty, verbatim to the location answering that rule, until restore is
// called. It panics outside a test binary.
func SetTestDirective(directive func(model.RouteRef) string) (restore func()) {
	if !testing.Testing() {
		panic("render.SetTestDirective called outside a test")
	}
	testDirective.Store(&directive)
	return func() { testDirective.Store(nil) }
}

// testDirectiveFor is the test's raw line for route, "" when none.
func testDirectiveFor(route model.RouteRef) string {
	if f := testDirective.Load(); f != nil {
		return (*f)(route)
	}
	return ""
}
