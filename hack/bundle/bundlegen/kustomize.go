package bundlegen

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/pkg/util"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Images are the two images an install runs. An empty field keeps the image
// written in config/manager/kustomization.yaml.
type Images struct {
	// Operator is the operator's image (placeholder "controller").
	Operator string
	// Gateway is the image of the gateway pods, nginx plus the sidecar
	// (placeholder "gateway", passed to the operator as GATEWAY_IMG).
	Gateway string
}

const (
	// OperatorImagePlaceholder and GatewayImagePlaceholder are the image
	// names config/manager uses; its kustomization maps them to real images.
	OperatorImagePlaceholder = "controller"
	GatewayImagePlaceholder  = "gateway"

	managerKustomization = "manager/kustomization.yaml"
	memRoot              = "/config"
)

// Build runs kustomize on the kustomization dir (relative to configDir, e.g.
// "default") and returns its objects in kustomize's output order. It works on
// an in-memory copy of configDir whose config/manager images are set to
// images, as `kustomize edit set image` would, so files on disk never change.
func Build(configDir, dir string, images Images) ([]*unstructured.Unstructured, error) {
	mem := filesys.MakeFsInMemory()
	if err := copyTree(configDir, mem, memRoot); err != nil {
		return nil, err
	}
	if err := setImages(mem, path.Join(memRoot, managerKustomization), images); err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	// As `kustomize build` does: Namespaces and CRDs first, so the stream
	// applies in order.
	opts.Reorder = krusty.ReorderOptionLegacy
	resources, err := krusty.MakeKustomizer(opts).Run(mem, path.Join(memRoot, dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build config/%s: %w", dir, err)
	}
	objs := make([]*unstructured.Unstructured, 0, resources.Size())
	for _, r := range resources.Resources() {
		// Through JSON, so numbers are int64 or float64 as in any
		// unstructured object read from the API.
		b, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("kustomize build config/%s: %s: %w", dir, r.CurId(), err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("kustomize build config/%s: %s: %w", dir, r.CurId(), err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// BuildYAML is Build as one multi-document YAML stream (what `kustomize
// build` prints).
func BuildYAML(configDir, dir string, images Images) ([]byte, error) {
	objs, err := Build(configDir, dir, images)
	if err != nil {
		return nil, err
	}
	return marshalStream(objs)
}

func marshalStream(objs []*unstructured.Unstructured) ([]byte, error) {
	var out []byte
	for i, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			out = append(out, "---\n"...)
		}
		out = append(out, b...)
	}
	return out, nil
}

// copyTree copies the regular files under src on disk to dst in mem.
func copyTree(src string, mem filesys.FileSystem, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := path.Join(dst, filepath.ToSlash(rel))
		if d.IsDir() {
			return mem.MkdirAll(target)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(target, b)
	})
}

// setImages rewrites the images entries of the placeholders in the
// kustomization at file.
func setImages(mem filesys.FileSystem, file string, images Images) error {
	if images.Operator == "" && images.Gateway == "" {
		return nil
	}
	b, err := mem.ReadFile(file)
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		return fmt.Errorf("config/%s: %w", managerKustomization, err)
	}
	for placeholder, ref := range map[string]string{
		OperatorImagePlaceholder: images.Operator,
		GatewayImagePlaceholder:  images.Gateway,
	} {
		if ref == "" {
			continue
		}
		name, tag, digest := util.SplitImageName(ref)
		found := false
		for i := range k.Images {
			if k.Images[i].Name == placeholder {
				k.Images[i] = types.Image{Name: placeholder, NewName: name, NewTag: tag, Digest: digest}
				found = true
			}
		}
		if !found {
			return fmt.Errorf("config/%s has no images entry named %q", managerKustomization, placeholder)
		}
	}
	out, err := yaml.Marshal(&k)
	if err != nil {
		return err
	}
	return mem.WriteFile(file, out)
}
