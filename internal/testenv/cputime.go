package testenv

import (
	"syscall"
	"time"
)

// CPUTime is the CPU time this process has used (user and system): what
// benchmarks report as cpu-ms/op, since a machine shared with other work
// changes it less than the wall time.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
