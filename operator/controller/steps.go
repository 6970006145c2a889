package controller

import (
	"sync/atomic"
	"time"
)

// stepObserver, when set (BenchmarkRouteToConfigMap sets it), is told how
// long each step of a reconcile took, so the reconcile around the pipeline
// can be measured on a real API server without print lines. Nil in the
// operator: timing a step then costs one atomic load.
var stepObserver atomic.Pointer[func(step string, took time.Duration)]

// timeStep tells the stepObserver, if any, that step ran from since to now.
func timeStep(step string, since time.Time) {
	if f := stepObserver.Load(); f != nil {
		(*f)(step, time.Since(since))
	}
}
