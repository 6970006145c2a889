// Command bundle writes the OLM bundle (bundle/, bundle.Dockerfile)
// generated from config/ by package bundlegen.
//
//	go run ./hack/bundle -version 0.1.0 -img ... -gateway-img ... -bundle-img ... -channels c -default-channel c
//
// `make bundle` passes the flags `make print-bundle-flags` prints. The
// file-based catalog is written by hack/catalog, a module of its own.
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
	opts, err := bundlegen.ParseFlags("bundle", args)
	if err != nil {
		return err
	}
	result, err := bundlegen.Generate(opts)
	if err != nil {
		return err
	}
	return result.Files.Write(".", bundlegen.BundleDir)
}
