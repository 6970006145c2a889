package packaging

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/operator-framework/api/pkg/validation/errors"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// targetKubeVersion is the Kubernetes version the deprecated-API and
// OperatorHub checks assume: the one the project builds and tests against.
const targetKubeVersion = "1.37"

// TestCommittedBundleValidates runs the operator-framework validators a
// catalog or OperatorHub runs on the committed bundle/; any error fails,
// warnings are logged (the report lists why each remains).
func TestCommittedBundleValidates(t *testing.T) {
	errs, warns := validateBundle(t, filepath.Join(testenv.RepoRoot(), bundlegen.BundleDir))
	for _, e := range errs {
		t.Error(e)
	}
	for _, w := range warns {
		t.Log("warning:", w)
	}
}

// TestValidatorsCatchDefects shows the validation above can fail: each case
// breaks one thing in a copy of the generated bundle.
func TestValidatorsCatchDefects(t *testing.T) {
	_, result := generated(t)
	for _, tc := range []struct {
		name      string
		breakCSV  func(*v1alpha1.ClusterServiceVersion)
		wantError string
	}{
		{"example of a kind the bundle does not own", func(csv *v1alpha1.ClusterServiceVersion) {
			csv.Annotations["alm-examples"] = `[{"apiVersion":"gateway.networking.k8s.io/v1","kind":"GatewayClass","metadata":{"name":"x"}}]`
		}, "example must have a provided API"},
		{"icon with a wrong media type", func(csv *v1alpha1.ClusterServiceVersion) {
			csv.Spec.Icon[0].MediaType = "image/bmp"
		}, "does not have a valid mediatype"},
		{"category outside the standard set", func(csv *v1alpha1.ClusterServiceVersion) {
			csv.Annotations["categories"] = "Gateways Galore"
		}, "not in the set of standard categories"},
		{"no install mode", func(csv *v1alpha1.ClusterServiceVersion) {
			csv.Spec.InstallModes = nil
		}, "install modes not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			csv := result.CSV.DeepCopy()
			tc.breakCSV(csv)
			files := bundlegen.Files{}
			for p, b := range result.Files {
				files[p] = b
			}
			b, err := yaml.Marshal(csv)
			if err != nil {
				t.Fatal(err)
			}
			for p := range files {
				if strings.HasSuffix(p, ".clusterserviceversion.yaml") {
					files[p] = b
				}
			}
			if err := files.Write(dir); err != nil {
				t.Fatal(err)
			}
			errs, _ := validateBundle(t, filepath.Join(dir, bundlegen.BundleDir))
			if !strings.Contains(strings.Join(errs, "\n"), tc.wantError) {
				t.Errorf("errors %q, want one containing %q", errs, tc.wantError)
			}
		})
	}
}

// validateBundle runs the default bundle validators, OperatorHubV2,
// StandardCapabilities, StandardCategories, GoodPractices and
// AlphaDeprecatedAPIs on the bundle in dir.
func validateBundle(t *testing.T, dir string) (errs, warns []string) {
	t.Helper()
	bundle, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		t.Fatalf("GetBundleFromDir: %v", err)
	}
	validators := append(validation.DefaultBundleValidators,
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
		validation.AlphaDeprecatedAPIsValidator,
	)
	// As operator-sdk does: the bundle, its CSV and CRDs each go to the
	// validators of their type, plus the optional values.
	objs := append(bundle.ObjectsToValidate(), map[string]string{"k8s-version": targetKubeVersion})
	results := validators.Validate(objs...)
	if len(results) == 0 {
		t.Fatal("the validators returned no result: they did not see the bundle")
	}
	for _, r := range results {
		for _, e := range r.Errors {
			errs = append(errs, r.Name+": "+describe(e))
		}
		for _, w := range r.Warnings {
			warns = append(warns, r.Name+": "+describe(w))
		}
	}
	return errs, warns
}

func describe(e errors.Error) string {
	s := string(e.Type) + ": " + e.Detail
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	return s
}

// TestBundleCSV checks what the CSV promises beyond the validators: the
// install mode, images, the Gateway API as a prerequisite only, examples,
// and RBAC identical to config/rbac.
func TestBundleCSV(t *testing.T) {
	opts, result := generated(t)
	csv := result.CSV

	supported := map[v1alpha1.InstallModeType]bool{}
	for _, m := range csv.Spec.InstallModes {
		supported[m.Type] = m.Supported
	}
	if !supported[v1alpha1.InstallModeTypeAllNamespaces] {
		t.Error("AllNamespaces install mode is not supported")
	}

	related := map[string]string{}
	for _, ri := range csv.Spec.RelatedImages {
		related[ri.Image] = ri.Name
	}
	for _, img := range []string{opts.Images.Operator, opts.Images.Gateway} {
		if _, ok := related[img]; !ok {
			t.Errorf("relatedImages %v lack %s", csv.Spec.RelatedImages, img)
		}
	}
	deployments := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deployments) != 1 {
		t.Fatalf("%d deployments in the install strategy, want the operator's only", len(deployments))
	}
	c := deployments[0].Spec.Template.Spec.Containers[0]
	if c.Image != opts.Images.Operator || csv.Annotations["containerImage"] != opts.Images.Operator {
		t.Errorf("operator image %q, containerImage %q; want %q", c.Image, csv.Annotations["containerImage"], opts.Images.Operator)
	}
	if env := envValue(c.Env, "GATEWAY_IMG"); env != opts.Images.Gateway {
		t.Errorf("GATEWAY_IMG = %q, want %q", env, opts.Images.Gateway)
	}

	for _, crd := range append(csv.Spec.CustomResourceDefinitions.Owned, csv.Spec.CustomResourceDefinitions.Required...) {
		if strings.HasSuffix(crd.Name, ".gateway.networking.k8s.io") {
			t.Errorf("Gateway API CRD %s is owned or required; it is a documented prerequisite", crd.Name)
		}
	}
	if len(csv.Spec.CustomResourceDefinitions.Owned) != 1 || csv.Spec.CustomResourceDefinitions.Owned[0].Kind != "GatewayParameters" ||
		csv.Spec.CustomResourceDefinitions.Owned[0].Description == "" {
		t.Errorf("owned CRDs %+v, want GatewayParameters with a description", csv.Spec.CustomResourceDefinitions.Owned)
	}
	for _, f := range result.Files.Paths() {
		if strings.Contains(f, "gateway.networking.k8s.io_") {
			t.Errorf("bundle ships %s: Gateway API CRDs are a prerequisite, not part of the bundle", f)
		}
	}
	if !strings.Contains(csv.Spec.Description, "Gateway API CRDs") {
		t.Error("the CSV description does not document the Gateway API CRDs prerequisite")
	}

	var examples []map[string]any
	if err := json.Unmarshal([]byte(csv.Annotations["alm-examples"]), &examples); err != nil || len(examples) == 0 {
		t.Errorf("alm-examples %q: %v", csv.Annotations["alm-examples"], err)
	}

	wantPerms, wantClusterPerms := rbacOfServiceAccount(t, opts)
	strategy := csv.Spec.InstallStrategy.StrategySpec
	if got := rulesOf(strategy.Permissions); !reflect.DeepEqual(got, wantPerms) {
		t.Errorf("permissions:\n got %+v\nwant %+v", got, wantPerms)
	}
	if got := rulesOf(strategy.ClusterPermissions); !reflect.DeepEqual(got, wantClusterPerms) {
		t.Errorf("clusterPermissions:\n got %+v\nwant %+v", got, wantClusterPerms)
	}
}

func rulesOf(perms []v1alpha1.StrategyDeploymentPermissions) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, p := range perms {
		rules = append(rules, p.Rules...)
	}
	return rules
}

// rbacOfServiceAccount reads config/default as installed with kustomize and
// collects the rules bound to the operator's ServiceAccount, by RoleBinding
// and by ClusterRoleBinding, in binding-name order.
func rbacOfServiceAccount(t *testing.T, opts bundlegen.Options) (namespaced, cluster []rbacv1.PolicyRule) {
	t.Helper()
	objs, err := bundlegen.Build(opts.ConfigDir, "default", opts.Images)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string][]rbacv1.PolicyRule{}
	type binding struct {
		name, role string
		cluster    bool
	}
	var bindings []binding
	sa := ""
	for _, u := range objs {
		switch u.GetKind() {
		case "Role", "ClusterRole":
			var r rbacv1.ClusterRole // same rules field as Role
			mustConvert(t, u.Object, &r)
			roles[u.GetKind()+"/"+r.Name] = r.Rules
		case "RoleBinding", "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			mustConvert(t, u.Object, &b)
			if len(b.Subjects) == 1 && b.Subjects[0].Kind == rbacv1.ServiceAccountKind {
				bindings = append(bindings, binding{b.Name, b.RoleRef.Kind + "/" + b.RoleRef.Name, u.GetKind() == "ClusterRoleBinding"})
			}
		case "Deployment":
			sa, _, _ = unstructured.NestedString(u.Object, "spec", "template", "spec", "serviceAccountName")
		}
	}
	if sa == "" {
		t.Fatal("config/default has no Deployment with a serviceAccountName")
	}
	sort.Slice(bindings, func(i, j int) bool { return bindings[i].name < bindings[j].name })
	for _, b := range bindings {
		if b.cluster {
			cluster = append(cluster, roles[b.role]...)
		} else {
			namespaced = append(namespaced, roles[b.role]...)
		}
	}
	if len(cluster) == 0 || len(namespaced) == 0 {
		t.Fatalf("config/default binds no Role or no ClusterRole to %s", sa)
	}
	return namespaced, cluster
}

func mustConvert(t *testing.T, obj map[string]any, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, into); err != nil {
		t.Fatal(err)
	}
}
