package main

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestReleaseMemoryWhenIdle: after a burst of allocation that leaves
// nothing live, releaseMemoryWhenIdle gives the pages back to the system
// within a few of its intervals. Without it nothing collects the burst (no
// allocation follows) and the heap stays as large as it grew.
func TestReleaseMemoryWhenIdle(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go releaseMemoryWhenIdle(ctx)

	const burst = 128 << 20
	retainedAfterBurst := allocate(burst)

	deadline := time.Now().Add(5 * idleCheckEvery)
	for retained() > retainedAfterBurst-burst/2 {
		if time.Now().After(deadline) {
			t.Fatalf("heap still retains %d MiB (%d MiB after the burst)", retained()>>20, retainedAfterBurst>>20)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allocate allocates n bytes that are garbage once it returns, and
// returns what the heap retains at its end.
func allocate(n int) uint64 {
	var sink [][]byte
	for range n >> 20 {
		sink = append(sink, make([]byte, 1<<20))
	}
	runtime.KeepAlive(sink)
	return retained()
}

// retained is the heap memory the process holds from the system.
func retained() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapSys - m.HeapReleased
}
