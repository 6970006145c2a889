package nginxproc

import (
	"fmt"
	"os"
	"strings"
)

// Generations counts the worker generations of an nginx master: after a
// reload, the old workers finish their connections (bounded by
// worker_shutdown_timeout) beside the new ones, each generation holding
// its own copy of the config in memory. nginx marks a draining worker in
// its title ("worker process is shutting down") but not which reload it
// belongs to, so Observe remembers the workers it saw together: a worker
// first seen in a later poll belongs to a later generation.
type Generations struct {
	master int
	seen   map[int]int // worker pid → generation number
	next   int
}

const (
	workerTitle   = "nginx: worker process"
	drainingTitle = "nginx: worker process is shutting down"
)

// Observe reads the master's workers and returns the generations alive:
// the serving workers count as one, and the draining ones one per
// generation they were first seen in. 0 when master is not running.
func (g *Generations) Observe(master int) int {
	if master != g.master {
		*g = Generations{master: master, seen: map[int]int{}}
	}
	kids, err := Children(master)
	if err != nil {
		return 0
	}
	g.next++
	draining := map[int]bool{}
	serving := false
	for pid := range kids {
		title, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		t := strings.TrimRight(string(title), "\x00 ")
		if !strings.HasPrefix(t, workerTitle) {
			continue // cache manager or loader
		}
		if _, ok := g.seen[pid]; !ok {
			g.seen[pid] = g.next
		}
		if t == drainingTitle {
			draining[g.seen[pid]] = true
		} else {
			serving = true
		}
	}
	for pid := range g.seen {
		if !kids[pid] {
			delete(g.seen, pid)
		}
	}
	n := len(draining)
	if serving {
		n++
	}
	return n
}
