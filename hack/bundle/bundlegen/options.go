package bundlegen

import (
	"flag"
	"fmt"
	"strings"

	"github.com/blang/semver/v4"
)

// Options say what to generate. `make print-bundle-flags` prints the flags
// the Makefile passes, so tests generate with exactly the same options.
type Options struct {
	// ConfigDir is the kustomize tree (config/).
	ConfigDir string
	// PackageName is the OLM package, also the CSV name's prefix.
	PackageName string
	// Version is the operator's semantic version, without a leading "v".
	Version string
	// Images are the operator and gateway images the bundle installs.
	Images Images
	// BundleImage is the image built from bundle.Dockerfile; the catalog
	// points at it.
	BundleImage string
	// Channels the bundle is in; DefaultChannel is the package's default.
	Channels       []string
	DefaultChannel string
}

// ParseFlags reads Options from command-line flags.
func ParseFlags(name string, args []string) (Options, error) {
	var o Options
	var channels string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.ConfigDir, "config", "config", "kustomize tree")
	fs.StringVar(&o.PackageName, "package", "nginx-gateway-operator", "OLM package name")
	fs.StringVar(&o.Version, "version", "", "operator version (semver, no leading v)")
	fs.StringVar(&o.Images.Operator, "img", "", "operator image")
	fs.StringVar(&o.Images.Gateway, "gateway-img", "", "gateway (nginx + sidecar) image")
	fs.StringVar(&o.BundleImage, "bundle-img", "", "bundle image")
	fs.StringVar(&channels, "channels", "", "comma-separated channels")
	fs.StringVar(&o.DefaultChannel, "default-channel", "", "default channel")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, c := range strings.Split(channels, ",") {
		if c = strings.TrimSpace(c); c != "" {
			o.Channels = append(o.Channels, c)
		}
	}
	return o, o.validate()
}

func (o Options) validate() error {
	if _, err := semver.Parse(o.Version); err != nil {
		return fmt.Errorf("-version %q: %w", o.Version, err)
	}
	if o.Images.Operator == "" || o.Images.Gateway == "" || o.BundleImage == "" {
		return fmt.Errorf("-img, -gateway-img and -bundle-img are required")
	}
	if len(o.Channels) == 0 {
		return fmt.Errorf("-channels is required")
	}
	for _, c := range o.Channels {
		if c == o.DefaultChannel {
			return nil
		}
	}
	return fmt.Errorf("-default-channel %q is not one of -channels %q", o.DefaultChannel, o.Channels)
}

// CSVName is the ClusterServiceVersion's name: <package>.v<version>.
func (o Options) CSVName() string { return o.PackageName + ".v" + o.Version }
