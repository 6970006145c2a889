// Command catalog writes the file-based catalog (catalog/) of the bundle
// `make bundle` generates from config/, built from operator-registry's
// declarative-config types. It is a module of its own so operator-registry
// and its dependencies stay out of the product's go.mod.
//
//	cd hack/catalog && go run . [-root ../..] [-check] -- FLAGS
//
// FLAGS are the bundle generator's (`make print-bundle-flags`). With -check
// it writes nothing and lists, failing, what differs from the files under
// -root (the packaging drift test runs it so).
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "catalog:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	root := fs.String("root", "../..", "repository root; -config is relative to it")
	check := fs.Bool("check", false, "write nothing; fail on any difference with the files under -root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.Chdir(*root); err != nil {
		return err
	}
	opts, err := bundlegen.ParseFlags("catalog", fs.Args())
	if err != nil {
		return err
	}
	result, err := bundlegen.Generate(opts)
	if err != nil {
		return err
	}
	files, err := catalog(opts, result)
	if err != nil {
		return err
	}
	if !*check {
		return files.Write(".", bundlegen.CatalogDir)
	}
	diffs := files.Diff(".", bundlegen.CatalogDir)
	for _, d := range diffs {
		fmt.Fprintln(os.Stderr, d)
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%d files differ; run `make catalog`", len(diffs))
	}
	return nil
}
