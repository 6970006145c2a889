package testenv

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// NginxInstructions is what `nginx -t` of one config executed, counted by
// valgrind: machine instructions in total and per function (nginx's
// exported functions by name; its static ones, which valgrind cannot name in
// a stripped binary, as "???"), and the branches a simulated predictor
// guessed wrong (conditional and indirect), each of which costs a real CPU
// some 15-20 cycles that no instruction count shows.
type NginxInstructions struct {
	Total        int64
	ByFunction   map[string]int64
	Mispredicted int64
}

// Sum is the instructions of the named functions.
func (n NginxInstructions) Sum(functions ...string) int64 {
	var sum int64
	for _, f := range functions {
		sum += n.ByFunction[f]
	}
	return sum
}

// NginxTestInstructions runs `nginx -t` on a config tree as NginxTest does,
// under valgrind's cachegrind with its branch predictor simulation, and
// returns the instructions it executed: a figure that, unlike the check's wall or CPU
// time, does not move with what else runs on the machine (two runs of one
// tree differ by a few instructions). Valgrind is the host's: its launcher
// and tool are copied into the staged folder and run in the root filesystem
// with chroot, in a mount namespace of their own that has /proc (valgrind
// reads /proc/self/maps), so the shared root filesystem gains no mount.
// Needs root, unshare(1) and valgrind.
func NginxTestInstructions(dir string) (NginxInstructions, error) {
	rootfs, err := NginxRootfs()
	if err != nil {
		return NginxInstructions{}, err
	}
	launcher, toolDir, err := valgrindFiles()
	if err != nil {
		return NginxInstructions{}, err
	}
	stage, inside, err := stageNginxTree(rootfs, dir)
	if err != nil {
		return NginxInstructions{}, err
	}
	defer os.RemoveAll(stage)
	vg := filepath.Join(stage, ".valgrind")
	if err := os.Mkdir(vg, 0o755); err != nil {
		return NginxInstructions{}, err
	}
	tool := "cachegrind-" + valgrindArch() + "-linux"
	for from, to := range map[string]string{
		launcher:                     "valgrind",
		filepath.Join(toolDir, tool): tool,
		filepath.Join(toolDir, "vgpreload_core-"+valgrindArch()+"-linux.so"): "vgpreload_core-" + valgrindArch() + "-linux.so",
		filepath.Join(toolDir, "default.supp"):                               "default.supp",
	} {
		if err := copyExecutable(from, filepath.Join(vg, to)); err != nil {
			return NginxInstructions{}, err
		}
	}
	script := `mount -t proc proc "$1/proc" && VALGRIND_LIB="$2.valgrind" exec chroot "$1" "$2.valgrind/valgrind" -q ` +
		`--tool=cachegrind --cache-sim=no --branch-sim=yes --cachegrind-out-file="$2.valgrind/out" nginx -t -q -p "$2" -c nginx.conf`
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", script, "sh", rootfs, inside).CombinedOutput()
	if err != nil {
		return NginxInstructions{}, fmt.Errorf("nginx -t under valgrind: %v: %s", err, strings.ReplaceAll(string(out), inside, "<prefix>/"))
	}
	f, err := os.Open(filepath.Join(vg, "out"))
	if err != nil {
		return NginxInstructions{}, err
	}
	defer f.Close()
	return parseCachegrind(f)
}

// parseCachegrind reads a cachegrind output file: "events:" names the
// columns (Ir, and with branch simulation Bc Bcm Bi Bim), "fn=" lines name
// the function the "<line> <counts…>" lines after them belong to,
// "summary:" has the totals.
func parseCachegrind(r io.Reader) (NginxInstructions, error) {
	counts := NginxInstructions{ByFunction: map[string]int64{}}
	var events []string
	fn := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "events:"):
			events = strings.Fields(strings.TrimPrefix(line, "events:"))
		case strings.HasPrefix(line, "fn="):
			fn = strings.TrimPrefix(line, "fn=")
		case strings.HasPrefix(line, "summary:"):
			total, err := eventCounts(events, strings.Fields(strings.TrimPrefix(line, "summary:")))
			if err != nil {
				return counts, fmt.Errorf("cachegrind summary %q: %w", line, err)
			}
			counts.Total, counts.Mispredicted = total["Ir"], total["Bcm"]+total["Bim"]
		case line != "" && line[0] >= '0' && line[0] <= '9':
			c, err := eventCounts(events, strings.Fields(line)[1:])
			if err != nil {
				return counts, fmt.Errorf("cachegrind line %q: %w", line, err)
			}
			counts.ByFunction[fn] += c["Ir"]
		}
	}
	if err := sc.Err(); err != nil {
		return counts, err
	}
	if counts.Total == 0 {
		return counts, fmt.Errorf("cachegrind output without a summary")
	}
	return counts, nil
}

// eventCounts pairs a cachegrind line's counts with the events' names (a
// line may leave out trailing zero counts).
func eventCounts(events, fields []string) (map[string]int64, error) {
	if len(fields) > len(events) {
		return nil, fmt.Errorf("%d counts for %d events", len(fields), len(events))
	}
	c := make(map[string]int64, len(fields))
	for i, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, err
		}
		c[events[i]] = n
	}
	return c, nil
}

// valgrindFiles finds the host's valgrind executable (Debian's
// /usr/bin/valgrind is a shell script that runs valgrind.bin beside it) and
// the folder of its tools.
func valgrindFiles() (launcher, toolDir string, err error) {
	launcher, err = exec.LookPath("valgrind")
	if err != nil {
		return "", "", fmt.Errorf("counting nginx's instructions needs valgrind: %w", err)
	}
	if _, err := os.Stat(launcher + ".bin"); err == nil {
		launcher += ".bin"
	}
	for _, dir := range []string{"/usr/libexec/valgrind", "/usr/lib/valgrind", "/usr/lib/" + runtime.GOARCH + "-linux-gnu/valgrind",
		"/usr/local/libexec/valgrind", "/usr/local/lib/valgrind"} {
		if _, err := os.Stat(filepath.Join(dir, "cachegrind-"+valgrindArch()+"-linux")); err == nil {
			return launcher, dir, nil
		}
	}
	return "", "", fmt.Errorf("valgrind's cachegrind tool not found beside %s", launcher)
}

// valgrindArch is valgrind's name for this machine's architecture.
func valgrindArch() string {
	if runtime.GOARCH == "386" {
		return "x86"
	}
	return runtime.GOARCH
}

func copyExecutable(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}
