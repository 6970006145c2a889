// Command bundle writes the OLM bundle (bundle/, bundle.Dockerfile) or the
// file-based catalog (catalog/) generated from config/ by package bundlegen.
//
//	go run ./hack/bundle bundle  -version 0.1.0 -img ... -gateway-img ... -bundle-img ... -channels c -default-channel c
//	go run ./hack/bundle catalog (same flags)
//
// `make bundle` and `make catalog` pass the flags `make print-bundle-flags` prints.
package main

import (
	"fmt"
	"os"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bundle:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || (args[0] != "bundle" && args[0] != "catalog") {
		return fmt.Errorf("usage: bundle (bundle|catalog) FLAGS")
	}
	opts, err := bundlegen.ParseFlags(args[0], args[1:])
	if err != nil {
		return err
	}
	result, err := bundlegen.Generate(opts)
	if err != nil {
		return err
	}
	if args[0] == "bundle" {
		return result.Files.Write(".", bundlegen.BundleDir)
	}
	files, err := bundlegen.Catalog(opts, result)
	if err != nil {
		return err
	}
	return files.Write(".", bundlegen.CatalogDir)
}
