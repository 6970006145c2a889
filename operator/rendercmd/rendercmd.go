package rendercmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// Main runs the command with its arguments (after "render") and returns
// the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var inputs stringList
	fs.Var(&inputs, "f", "YAML file, or folder of *.yaml / *.yml files, with the objects to build (repeatable)")
	outDir := fs.String("o", "", "folder to write each accepted Gateway's nginx files to, as DIR/<namespace>/<gateway>/")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: operator render -f FILE_OR_DIR [-f ...] [-o DIR]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(inputs) == 0 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if err := Run(inputs, *outDir, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "render:", err)
		return 1
	}
	return 0
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Run reads the objects in paths, builds and renders them, prints the
// statuses as YAML to stdout, and writes the files under outDir when set.
// Objects of other kinds are skipped with a note on stderr.
func Run(paths []string, outDir string, stdout, stderr io.Writer) error {
	in, skipped, err := ReadInput(paths)
	if err != nil {
		return err
	}
	for _, s := range skipped {
		fmt.Fprintln(stderr, "skipped:", s)
	}
	piped := pipeline.Run(in)
	out := piped.Output

	var renderErrs []error
	for _, gw := range out.Gateways {
		if gw.Model == nil || outDir == "" {
			continue
		}
		if err := piped.Errors[gw.NamespacedName]; err != nil {
			renderErrs = append(renderErrs, fmt.Errorf("rendering Gateway %s: %w", gw.NamespacedName, err))
			continue
		}
		if err := writeTree(filepath.Join(outDir, gw.Namespace, gw.Name), piped.Files[gw.NamespacedName]); err != nil {
			return err
		}
	}
	report, err := marshalReport(newReport(out))
	if err != nil {
		return err
	}
	if _, err := stdout.Write(report); err != nil {
		return err
	}
	return errors.Join(renderErrs...)
}

// writeTree writes a Gateway's files into dir, replacing what was there so
// that files of an earlier run do not linger.
func writeTree(dir string, files render.Files) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, group := range []struct {
		files map[string][]byte
		mode  os.FileMode
	}{{files.Config, 0o644}, {files.Secret, 0o600}} {
		for name, content := range group.files {
			// Names are flat by contract; refuse anything that would leave dir.
			if name != filepath.Base(name) || name == "." || name == ".." {
				return fmt.Errorf("rendered file name %q is not a flat name", name)
			}
			if err := os.WriteFile(filepath.Join(dir, name), content, group.mode); err != nil {
				return err
			}
		}
	}
	return nil
}
