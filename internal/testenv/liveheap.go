package testenv

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
)

// LiveHeapWatch records the live heap the garbage collector marks at each
// collection while it watches: the largest is what a run held at its
// busiest, and what the collector sizes its next heap goal from (GOGC).
// A heap profile or a HeapAlloc read after the run shows only what the
// run kept. Collections must happen during the run for it to see anything:
// a benchmark lowers GOGC (debug.SetGCPercent) while it watches.
type LiveHeapWatch struct {
	mu      sync.Mutex
	stopped bool
	largest uint64
	samples int
}

// liveHeapMetric is the heap marked live by the last collection.
const liveHeapMetric = "/gc/heap/live:bytes"

// gcSentinel is an object nothing references: its cleanup runs after the
// collection that found it unreachable. It holds a pointer so that it is
// not one of the tiny allocations the runtime packs together (those are
// freed, and cleaned up, only with their neighbours).
type gcSentinel struct {
	p   *int
	pad [2]uintptr
}

// WatchLiveHeap starts watching; Stop ends it.
func WatchLiveHeap() *LiveHeapWatch {
	w := &LiveHeapWatch{}
	w.arm()
	return w
}

// arm asks for a call of sample after the next collection.
func (w *LiveHeapWatch) arm() {
	runtime.AddCleanup(&gcSentinel{}, func(w *LiveHeapWatch) { w.sample() }, w)
}

func (w *LiveHeapWatch) sample() {
	s := []metrics.Sample{{Name: liveHeapMetric}}
	metrics.Read(s)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.samples++
	w.largest = max(w.largest, s[0].Value.Uint64())
	w.arm()
}

// Stop ends the watch and returns the largest live heap seen in bytes,
// and how many collections it saw (cleanups run on their own goroutine,
// so one right before Stop may be missed).
func (w *LiveHeapWatch) Stop() (largest uint64, collections int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	return w.largest, w.samples
}

// LiveHeap collects and returns the live heap in bytes.
func LiveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: liveHeapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// LiveHeapPeak is, over a benchmark's runs of one step, the largest live
// heap a collection found during the step less what was live before it,
// and the collections per run. NewLiveHeapPeak sets GOGC to 5 until the
// benchmark ends, so that collections run often within a step.
type LiveHeapPeak struct {
	peak, collections uint64
	runs              int
}

// NewLiveHeapPeak starts measuring for b.
func NewLiveHeapPeak(b *testing.B) *LiveHeapPeak {
	old := debug.SetGCPercent(5)
	b.Cleanup(func() { debug.SetGCPercent(old) })
	return &LiveHeapPeak{}
}

// Measure runs step once, watched.
func (p *LiveHeapPeak) Measure(step func()) {
	before := LiveHeap()
	watch := WatchLiveHeap()
	step()
	largest, seen := watch.Stop()
	if largest > before {
		p.peak = max(p.peak, largest-before)
	}
	p.collections += uint64(seen)
	p.runs++
}

// Report reports peak-live-MB and collections/op.
func (p *LiveHeapPeak) Report(b *testing.B) {
	b.ReportMetric(float64(p.peak)/(1<<20), "peak-live-MB")
	b.ReportMetric(float64(p.collections)/float64(max(p.runs, 1)), "collections/op")
}
