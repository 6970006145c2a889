package main

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
)

// throttle spaces reloads. Every reload starts a new generation of nginx
// workers while the old ones drain their connections (up to
// worker_shutdown_timeout), each generation holding the whole config in
// memory, so a stream of route changes must not pile generations up:
//   - minInterval: a change that arrives sooner after the last reload
//     waits, and changes arriving meanwhile are applied together (the
//     mounts are read after the wait, so the newest state wins);
//   - maxGenerations: while that many generations are alive (long-lived
//     connections: WebSockets, gRPC streams, slow downloads), the next
//     reload waits until one has drained. nginx ends a draining generation
//     after worker_shutdown_timeout at the latest, so the wait is bounded
//     by it.
type throttle struct {
	minInterval    time.Duration
	maxGenerations int
	generations    atomic.Int64 // alive now, kept current by watchGenerations
	lastReload     time.Time
	log            logr.Logger
}

// wait returns when a reload may start, or when ctx ends.
func (t *throttle) wait(ctx context.Context) {
	if d := t.minInterval - time.Since(t.lastReload); !t.lastReload.IsZero() && d > 0 {
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
	if t.maxGenerations <= 0 {
		return
	}
	logged := false
	for int(t.generations.Load()) >= t.maxGenerations {
		if !logged {
			t.log.Info("waiting for old nginx worker generations to drain before reloading", "alive", t.generations.Load(), "max", t.maxGenerations)
			logged = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(generationsPoll):
		}
	}
}

// reloaded records that a reload just finished.
func (t *throttle) reloaded() { t.lastReload = time.Now() }
