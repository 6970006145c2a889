package packaging

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// instruction is one Dockerfile instruction: its keyword and arguments.
type instruction struct {
	cmd  string
	args []string
	raw  string
}

// parseDockerfile reads the instructions of a Dockerfile (no line
// continuations are used in ours; comments and blank lines are skipped).
func parseDockerfile(t *testing.T, name string) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			t.Fatalf("%s: line continuations are not supported by this check: %q", name, line)
		}
		fields := strings.Fields(line)
		rest := strings.TrimSpace(strings.TrimPrefix(line, fields[0]))
		out = append(out, instruction{cmd: strings.ToUpper(fields[0]), args: fields[1:], raw: rest})
	}
	return out
}

// copies are the (sources, destination) of the COPY and ADD instructions.
func copies(ins []instruction) (sources []string, dests []string) {
	for _, in := range ins {
		if in.cmd != "COPY" && in.cmd != "ADD" {
			continue
		}
		var args []string
		for _, a := range in.args {
			if !strings.HasPrefix(a, "--") {
				args = append(args, a)
			}
		}
		sources = append(sources, args[:len(args)-1]...)
		dests = append(dests, args[len(args)-1])
	}
	return sources, dests
}

func last(ins []instruction, cmd string) (instruction, bool) {
	for i := len(ins) - 1; i >= 0; i-- {
		if ins[i].cmd == cmd {
			return ins[i], true
		}
	}
	return instruction{}, false
}

// TestImageDockerfiles checks the two product images without a container
// engine: their bases, non-root users, entrypoints, and that what they COPY
// is exactly what `make build` produces at the paths the code expects.
func TestImageDockerfiles(t *testing.T) {
	for _, tc := range []struct {
		file, wantFrom, source, dest string
	}{
		{"Dockerfile", "gcr.io/distroless/static-debian12:nonroot", "bin/operator", operatorCommand(t)},
		{"Dockerfile.gateway", "nginx:1.30", "bin/sidecar", dataplane.SidecarBinary},
	} {
		t.Run(tc.file, func(t *testing.T) {
			ins := parseDockerfile(t, tc.file)
			if from, _ := last(ins, "FROM"); len(from.args) == 0 || from.args[0] != tc.wantFrom {
				t.Errorf("FROM %q, want %q", from.args, tc.wantFrom)
			}
			sources, dests := copies(ins)
			if !slices.Equal(sources, []string{tc.source}) || !slices.Equal(dests, []string{tc.dest}) {
				t.Errorf("COPY %q → %q, want %s → %s", sources, dests, tc.source, tc.dest)
			}
			user, ok := last(ins, "USER")
			if !ok || !regexp.MustCompile(`^[1-9][0-9]*(:[1-9][0-9]*)?$`).MatchString(user.raw) {
				t.Errorf("USER %q, want a numeric non-root uid (runAsNonRoot needs one)", user.raw)
			}
			entry, ok := last(ins, "ENTRYPOINT")
			var argv []string
			if !ok || json.Unmarshal([]byte(entry.raw), &argv) != nil || len(argv) == 0 || argv[0] != tc.dest {
				t.Errorf("ENTRYPOINT %q, want the copied binary %s in exec form", entry.raw, tc.dest)
			}
		})
	}
}

// operatorCommand is the command of the operator container in config/manager.
func operatorCommand(t *testing.T) string {
	t.Helper()
	objs, err := bundlegen.Build(configDir(), "manager", bundlegen.Images{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			var d appsv1.Deployment
			mustConvert(t, o.Object, &d)
			if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 && len(cs[0].Command) > 0 {
				return cs[0].Command[0]
			}
		}
	}
	t.Fatal("config/manager has no Deployment with a command")
	return ""
}

// TestMakeBuildMakesWhatImagesCopy runs `make build` in a copy of the
// repository and checks every file the Dockerfiles COPY is there, as a
// static executable (distroless has no libc; the nginx image's differs).
func TestMakeBuildMakesWhatImagesCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the operator and the sidecar")
	}
	dir := t.TempDir()
	if err := copyRepo(testenv.RepoRoot(), dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "build")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	var sources []string
	for _, file := range []string{"Dockerfile", "Dockerfile.gateway"} {
		s, _ := copies(parseDockerfile(t, file))
		sources = append(sources, s...)
	}
	for _, src := range sources {
		f, err := elf.Open(filepath.Join(dir, src))
		if err != nil {
			t.Errorf("%s after make build: %v", src, err)
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked; the images need a static binary (CGO_ENABLED=0)", src)
			}
		}
		f.Close()
		if info, err := os.Stat(filepath.Join(dir, src)); err == nil && info.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable", src)
		}
	}
}

// TestOLMDockerfiles checks bundle.Dockerfile and catalog/Dockerfile: what
// they copy exists, and the bundle image's labels are its annotations.
func TestOLMDockerfiles(t *testing.T) {
	bundleIns := parseDockerfile(t, bundlegen.BundleDockerfile)
	catalogIns := parseDockerfile(t, bundlegen.CatalogDir+"/Dockerfile")
	for _, ins := range [][]instruction{bundleIns, catalogIns} {
		sources, _ := copies(ins)
		if len(sources) == 0 {
			t.Error("a Dockerfile copies nothing")
		}
		for _, src := range sources {
			if info, err := os.Stat(filepath.Join(testenv.RepoRoot(), src)); err != nil || !info.IsDir() {
				t.Errorf("copies %s: %v", src, err)
			}
		}
	}
	labels := map[string]string{}
	for _, in := range bundleIns {
		if in.cmd == "LABEL" {
			k, v, _ := strings.Cut(in.raw, "=")
			labels[k] = v
		}
	}
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), bundlegen.BundleDir, "metadata", "annotations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if len(meta.Annotations) == 0 || !maps.Equal(labels, meta.Annotations) {
		t.Errorf("bundle.Dockerfile labels %v differ from metadata/annotations.yaml %v", labels, meta.Annotations)
	}
}
