package mount

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
// sends on the returned channel the time of the first event of a burst
// (when the new files became visible):
//   - at once for the burst's first swap of `..data` (the leading edge):
//     the kubelet publishes a complete version with that one rename, so
//     nothing is gained by waiting; whether the ConfigMap and the Secret
//     go together is the reader's check (dataplane.SecretsHashKey);
//   - once more when the burst settles (Debounce), if changes came after
//     the leading notification (the trailing edge): the other volume's
//     swap, a second change. What the kubelet does after a swap (per-key
//     links, removing the old version) is no change. A folder written file
//     by file (no `..data`) only ever gets this notification.
//
// So a burst costs at most two notifications (and one more for each
// Incomplete). The channel has room for one pending notification; further
// ones merge into it, keeping the earliest time. It stops when ctx ends.
func Watch(ctx context.Context, dirs []string, d Debounce, log logr.Logger) (*Watcher, error) {
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
	incomplete := make(chan struct{}, 1)
	go func() {
		defer w.Close()
		var (
			timer      *time.Timer
			timerC     <-chan time.Time
			burstStart time.Time
			// led: the burst's leading notification went out; trailing:
			// events came after it (or there was none), the first at
			// trailStart.
			led, trailing bool
			trailStart    time.Time
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
					burstStart, led, trailing = now, false, false
					timer = time.NewTimer(d.Quiet)
					timerC = timer.C
				} else {
					wait := min(d.Quiet, d.Max-now.Sub(burstStart))
					timer.Reset(max(wait, 0))
				}
				swap := isSwap(ev)
				if !led && swap {
					led = true
					notify(burstStart)
					continue
				}
				if !swap && !isPlainChange(ev) {
					continue // the kubelet tidying up after its swap
				}
				if !trailing {
					trailing, trailStart = true, now
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflow loses events: re-read everything to be safe.
				log.Error(err, "watching mounts")
				notify(time.Now())
			case <-incomplete:
				// What the last notification brought was not the whole
				// change: what came since, or else the next swap, is
				// reported at once rather than when the burst settles.
				if trailing {
					trailing = false
					notify(trailStart)
				} else {
					led = false
				}
			case <-timerC:
				timerC = nil
				if trailing {
					notify(trailStart)
				}
			}
		}
	}()
	return &Watcher{C: out, incomplete: incomplete}, nil
}

// Watcher is a running Watch.
type Watcher struct {
	// C carries the notifications.
	C          <-chan time.Time
	incomplete chan struct{}
}

// Incomplete tells the watcher that the folders, read after its last
// notification, did not go together yet (one volume swapped, the other
// not): the next change is then reported at once too.
func (w *Watcher) Incomplete() {
	select {
	case w.incomplete <- struct{}{}:
	default:
	}
}

// isSwap reports whether ev is the kubelet publishing a new version: the
// rename of `..data_tmp` onto `..data` arrives as a Create of `..data`.
func isSwap(ev fsnotify.Event) bool {
	return ev.Has(fsnotify.Create) && filepath.Base(ev.Name) == dataLink
}

// isPlainChange reports whether ev changed a file of a folder the kubelet
// does not manage (no `..data`): in a kubelet-managed one, every name
// other than `..data` is its bookkeeping and the files are read through
// `..data`.
func isPlainChange(ev fsnotify.Event) bool {
	if strings.HasPrefix(filepath.Base(ev.Name), "..") {
		return false
	}
	_, err := os.Lstat(filepath.Join(filepath.Dir(ev.Name), dataLink))
	return err != nil
}
