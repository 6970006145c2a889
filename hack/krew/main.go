// Command krew builds the kubectl plugin's release archives for every
// platform of its krew manifest and writes the filled manifest beside them
// (package krewgen):
//
//	go run ./hack/krew -version v0.1.0 -out dist/krew
//
// `make krew` runs it with v$(VERSION).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/krew/krewgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "krew:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("krew", flag.ContinueOnError)
	version := fs.String("version", "", "the release version, vMAJOR.MINOR.PATCH")
	out := fs.String("out", "dist/krew", "where the archives and the filled manifest go")
	root := fs.String("root", ".", "the repository")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := krewgen.Release(*root, *out, *version); err != nil {
		return err
	}
	fmt.Println("wrote", filepath.Join(*out, krewgen.PluginName+".yaml"), "and the archives of", krewgen.Platforms)
	return nil
}
