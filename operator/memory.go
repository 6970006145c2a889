package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Thresholds of releaseMemoryWhenIdle.
const (
	// idleCheckEvery is how often the allocation counter is read.
	idleCheckEvery = 2 * time.Second
	// idleBelow is what the process may allocate in one interval and
	// still count as idle: one reconcile at 1,000 routes allocates more
	// than this, the informers' background work far less.
	idleBelow = 4 << 20
	// releaseAfter is how much must have been allocated since the last
	// release for another to be worth a full collection.
	releaseAfter = 32 << 20
)

// releaseMemoryWhenIdle collects and returns the heap's free pages to the
// operating system once a burst of work (reconciles after a change) is
// over. Without it the process keeps the heap its busiest moment needed:
// the collector sizes its next goal from what was live at the last
// collection, which ran in the middle of a translation (every route's
// model, files and encodings at once, ~1.5x the steady heap at 5,000
// routes), and the background scavenger returns pages only down to that
// goal. One forced collection after the burst costs one collection of the
// steady heap (tens of ms at 5,000 routes), at most once per interval and
// only after releaseAfter bytes of work, and leaves the next burst a goal
// computed from the steady heap.
func releaseMemoryWhenIdle(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	last := allocated()
	released := last
	tick := time.NewTicker(idleCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := allocated()
		if now-last < idleBelow && now-released >= releaseAfter {
			debug.FreeOSMemory()
			now = allocated()
			released = now
		}
		last = now
	}
}
