package nodeagent

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// Sweep removes what an earlier agent with this network config left behind
// (a crash, a SIGKILL, a test binary killed by its timeout): it kills every
// process in the agent's network namespaces, deletes those namespaces and
// every link whose name starts with the prefix. It returns what it removed.
func Sweep(n NetworkConfig) []string {
	var removed []string
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], n.Prefix+"-") {
			continue
		}
		ns := fields[0]
		killNetNSProcesses(ns)
		if runIP("netns", "del", ns) == nil {
			removed = append(removed, "netns "+ns)
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		// "12: lcluv1a2b3c4d@if2: <BROADCAST,…"
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		if !strings.HasPrefix(name, n.Prefix) {
			continue
		}
		if runIP("link", "del", name) == nil {
			removed = append(removed, "link "+name)
		}
	}
	return removed
}

// killNetNSProcesses SIGKILLs every process inside a network namespace.
func killNetNSProcesses(ns string) {
	for range 3 {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}

// NetNSPids lists the processes inside the agent's network namespaces, for
// tests that check nothing is left running.
func NetNSPids(n NetworkConfig) []int {
	var pids []int
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], n.Prefix+"-") {
			continue
		}
		pout, _ := exec.Command("ip", "netns", "pids", fields[0]).Output()
		for _, p := range strings.Fields(string(pout)) {
			if pid, err := strconv.Atoi(p); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
