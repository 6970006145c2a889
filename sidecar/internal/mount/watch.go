package mount

import (
	"context"
	"fmt"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
)

// Debounce says how a burst of file events becomes one notification.
type Debounce struct {
	// Quiet is how long no event must arrive before the burst counts as
	// settled. The kubelet's update of one volume takes a few
	// milliseconds, and the ConfigMap and Secret volumes update one after
	// the other, so ~100 ms joins them without delaying much.
	Quiet time.Duration
	// Max bounds the delay after the first event of a burst, so a folder
	// that keeps changing is still applied.
	Max time.Duration
}

// Watch watches the folders themselves (not their files: the kubelet
// replaces files by swapping `..data`, which is an event in the folder) and
// sends on the returned channel once per settled burst of events the time
// of the burst's first event (when the new files became visible). The
// channel has room for one pending notification; further ones merge into
// it, keeping the earliest time. It stops when ctx ends.
func Watch(ctx context.Context, dirs []string, d Debounce, log logr.Logger) (<-chan time.Time, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	for _, dir := range dirs {
		if err := w.Add(dir); err != nil {
			_ = w.Close()
			return nil, fmt.Errorf("watching %s: %w", dir, err)
		}
	}
	out := make(chan time.Time, 1)
	go func() {
		defer w.Close()
		var (
			timer      *time.Timer
			timerC     <-chan time.Time
			burstStart time.Time
		)
		notify := func(seen time.Time) {
			select {
			case out <- seen:
			default: // one is pending: it already carries an earlier time
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				log.V(1).Info("mount event", "name", ev.Name, "op", ev.Op.String())
				now := time.Now()
				if timerC == nil {
					burstStart = now
					timer = time.NewTimer(d.Quiet)
					timerC = timer.C
					continue
				}
				wait := min(d.Quiet, d.Max-now.Sub(burstStart))
				timer.Reset(max(wait, 0))
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflow loses events: re-read everything to be safe.
				log.Error(err, "watching mounts")
				notify(time.Now())
			case <-timerC:
				timerC = nil
				notify(burstStart)
			}
		}
	}()
	return out, nil
}
