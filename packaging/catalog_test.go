package packaging

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// TestCatalogIsConsistent reads the committed file-based catalog and checks
// what opm would reject or resolve wrongly: one olm.package whose default
// channel exists, channels whose entries are bundles of the catalog, and a
// bundle whose image, version and owned APIs are the generated bundle's.
func TestCatalogIsConsistent(t *testing.T) {
	opts, result := generated(t)
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), bundlegen.CatalogDir, opts.PackageName, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type property struct {
		Type  string         `json:"type"`
		Value map[string]any `json:"value"`
	}
	type blob struct {
		Schema         string `json:"schema"`
		Name           string `json:"name"`
		Package        string `json:"package"`
		DefaultChannel string `json:"defaultChannel"`
		Image          string `json:"image"`
		Entries        []struct {
			Name string `json:"name"`
		} `json:"entries"`
		Properties []property `json:"properties"`
	}
	var packages, channels, bundles []blob
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	for {
		var bl blob
		if err := dec.Decode(&bl); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch bl.Schema {
		case "olm.package":
			packages = append(packages, bl)
		case "olm.channel":
			channels = append(channels, bl)
		case "olm.bundle":
			bundles = append(bundles, bl)
		default:
			t.Errorf("unexpected blob schema %q", bl.Schema)
		}
	}
	if len(packages) != 1 || packages[0].Name != opts.PackageName {
		t.Fatalf("olm.package blobs %+v, want one named %s", packages, opts.PackageName)
	}
	bundleNames := map[string]blob{}
	for _, bl := range bundles {
		bundleNames[bl.Name] = bl
	}
	channelNames := map[string]bool{}
	for _, ch := range channels {
		channelNames[ch.Name] = true
		if ch.Package != opts.PackageName || len(ch.Entries) == 0 {
			t.Errorf("channel %+v", ch)
		}
		for _, e := range ch.Entries {
			if _, ok := bundleNames[e.Name]; !ok {
				t.Errorf("channel %s lists %s, which is not a bundle of the catalog", ch.Name, e.Name)
			}
		}
	}
	if !channelNames[packages[0].DefaultChannel] {
		t.Errorf("default channel %q is not among the channels %v", packages[0].DefaultChannel, channelNames)
	}
	bl, ok := bundleNames[result.CSV.Name]
	if !ok {
		t.Fatalf("no olm.bundle named %s", result.CSV.Name)
	}
	if bl.Image != opts.BundleImage || bl.Package != opts.PackageName {
		t.Errorf("bundle image %q package %q, want %q %q", bl.Image, bl.Package, opts.BundleImage, opts.PackageName)
	}
	gvks := 0
	for _, p := range bl.Properties {
		switch p.Type {
		case "olm.package":
			if p.Value["version"] != result.CSV.Spec.Version.String() {
				t.Errorf("olm.package version %v, want %s", p.Value["version"], result.CSV.Spec.Version)
			}
		case "olm.gvk":
			gvks++
		}
	}
	if gvks != len(result.CSV.Spec.CustomResourceDefinitions.Owned) {
		t.Errorf("%d olm.gvk properties, %d owned CRDs", gvks, len(result.CSV.Spec.CustomResourceDefinitions.Owned))
	}
}
