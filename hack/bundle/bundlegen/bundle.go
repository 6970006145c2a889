package bundlegen

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	// BundleDir holds the bundle; BundleDockerfile builds its image.
	BundleDir        = "bundle"
	BundleDockerfile = "bundle.Dockerfile"
	// CatalogDir holds the file-based catalog, one folder per package
	// (written by hack/catalog, a module of its own).
	CatalogDir = "catalog"

	manifestsDir = "manifests/"
	metadataDir  = "metadata/"
)

// Result is a generated bundle: its files (paths relative to the repository
// root) and the ClusterServiceVersion in it.
type Result struct {
	Files Files
	CSV   *v1alpha1.ClusterServiceVersion
	// CRDs are the owned CRDs shipped in the bundle.
	CRDs []apiextv1.CustomResourceDefinition
}

// Generate builds config/manifests (the base CSV and config/default) and
// config/samples, and turns them into the bundle, the way operator-sdk's
// `generate bundle` does: the operator Deployment becomes the CSV's install
// strategy, Roles and ClusterRoles bound to its ServiceAccount become
// permissions and clusterPermissions, CRDs become owned CRDs, samples of
// owned kinds become alm-examples, and every other object is a manifest of
// its own.
func Generate(o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	objs, err := Build(o.ConfigDir, "manifests", o.Images)
	if err != nil {
		return nil, err
	}
	samples, err := Build(o.ConfigDir, "samples", Images{})
	if err != nil {
		return nil, err
	}
	in, err := classify(objs)
	if err != nil {
		return nil, err
	}
	csv := in.csv
	if err := fillCSV(csv, in, samples, o); err != nil {
		return nil, err
	}

	files := Files{}
	csvYAML, err := marshalObject(csv, true)
	if err != nil {
		return nil, err
	}
	files[BundleDir+"/"+manifestsDir+o.PackageName+".clusterserviceversion.yaml"] = csvYAML
	for _, crd := range in.crds {
		b, err := marshalObject(&crd, true)
		if err != nil {
			return nil, err
		}
		files[BundleDir+"/"+manifestsDir+crd.Spec.Group+"_"+crd.Spec.Names.Plural+".yaml"] = b
	}
	for _, u := range in.others {
		if !supportedManifestKinds[u.GetKind()] {
			return nil, fmt.Errorf("%s %q cannot be shipped in a registry+v1 bundle", u.GetKind(), u.GetName())
		}
		u = u.DeepCopy()
		// OLM creates namespaced manifests in the namespace it installs into.
		u.SetNamespace("")
		b, err := marshalObject(u, false)
		if err != nil {
			return nil, err
		}
		files[BundleDir+"/"+manifestsDir+manifestFileName(u)] = b
	}
	files[BundleDir+"/"+metadataDir+"annotations.yaml"] = annotationsYAML(o)
	files[BundleDockerfile] = bundleDockerfile(o)
	return &Result{Files: files, CSV: csv, CRDs: in.crds}, nil
}

// supportedManifestKinds are the kinds, beside the CSV and CRDs, that OLM
// installs from a registry+v1 bundle.
var supportedManifestKinds = map[string]bool{
	"ClusterRole": true, "ClusterRoleBinding": true, "Role": true, "RoleBinding": true,
	"ServiceAccount": true, "Service": true, "ConfigMap": true, "Secret": true,
	"ServiceMonitor": true, "PrometheusRule": true, "PodDisruptionBudget": true,
	"PriorityClass": true, "VerticalPodAutoscaler": true,
}

// manifestFileName follows operator-sdk: <name>_<group>_<version>_<kind>.yaml,
// without the group for the core API.
func manifestFileName(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	parts := []string{u.GetName()}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, strings.ToLower(gvk.Kind))
	return strings.Join(parts, "_") + ".yaml"
}

// inputs are the objects of config/manifests sorted by their role in a bundle.
type inputs struct {
	csv                 *v1alpha1.ClusterServiceVersion
	deployments         []appsv1.Deployment
	serviceAccounts     map[string]corev1.ServiceAccount
	roles               map[string]rbacv1.Role
	clusterRoles        map[string]rbacv1.ClusterRole
	roleBindings        []rbacv1.RoleBinding
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	crds                []apiextv1.CustomResourceDefinition
	// others are shipped as manifests of their own, in input order; RBAC
	// objects not bound to the operator are added by fillPermissions.
	others []*unstructured.Unstructured
}

func classify(objs []*unstructured.Unstructured) (*inputs, error) {
	in := &inputs{
		serviceAccounts: map[string]corev1.ServiceAccount{},
		roles:           map[string]rbacv1.Role{},
		clusterRoles:    map[string]rbacv1.ClusterRole{},
	}
	for _, u := range objs {
		var err error
		switch u.GroupVersionKind().GroupKind() {
		case schema.GroupKind{Group: v1alpha1.GroupName, Kind: v1alpha1.ClusterServiceVersionKind}:
			if in.csv != nil {
				return nil, fmt.Errorf("config/manifests has more than one ClusterServiceVersion")
			}
			in.csv = &v1alpha1.ClusterServiceVersion{}
			err = fromUnstructured(u, in.csv)
		case schema.GroupKind{Kind: "Namespace"}:
			// OLM installs into a namespace chosen at install time.
		case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
			in.deployments = append(in.deployments, decode[appsv1.Deployment](u, &err))
		case schema.GroupKind{Kind: "ServiceAccount"}:
			in.serviceAccounts[u.GetName()] = decode[corev1.ServiceAccount](u, &err)
		case schema.GroupKind{Group: rbacv1.GroupName, Kind: "Role"}:
			in.roles[u.GetName()] = decode[rbacv1.Role](u, &err)
		case schema.GroupKind{Group: rbacv1.GroupName, Kind: "ClusterRole"}:
			in.clusterRoles[u.GetName()] = decode[rbacv1.ClusterRole](u, &err)
		case schema.GroupKind{Group: rbacv1.GroupName, Kind: "RoleBinding"}:
			in.roleBindings = append(in.roleBindings, decode[rbacv1.RoleBinding](u, &err))
		case schema.GroupKind{Group: rbacv1.GroupName, Kind: "ClusterRoleBinding"}:
			in.clusterRoleBindings = append(in.clusterRoleBindings, decode[rbacv1.ClusterRoleBinding](u, &err))
		case schema.GroupKind{Group: apiextv1.GroupName, Kind: "CustomResourceDefinition"}:
			in.crds = append(in.crds, decode[apiextv1.CustomResourceDefinition](u, &err))
		default:
			in.others = append(in.others, u)
		}
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", u.GetKind(), u.GetName(), err)
		}
	}
	if in.csv == nil {
		return nil, fmt.Errorf("config/manifests has no ClusterServiceVersion")
	}
	if len(in.deployments) == 0 {
		return nil, fmt.Errorf("config/manifests has no Deployment")
	}
	sort.Slice(in.roleBindings, func(i, j int) bool { return in.roleBindings[i].Name < in.roleBindings[j].Name })
	sort.Slice(in.clusterRoleBindings, func(i, j int) bool {
		return in.clusterRoleBindings[i].Name < in.clusterRoleBindings[j].Name
	})
	sort.Slice(in.crds, func(i, j int) bool { return in.crds[i].Name < in.crds[j].Name })
	return in, nil
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true)
}

// decode is u as a T; a conversion error goes to *err.
func decode[T any](u *unstructured.Unstructured, err *error) T {
	var t T
	*err = fromUnstructured(u, &t)
	return t
}

func fillCSV(csv *v1alpha1.ClusterServiceVersion, in *inputs, samples []*unstructured.Unstructured, o Options) error {
	v, err := semver.Parse(o.Version)
	if err != nil {
		return err
	}
	csv.Name = o.CSVName()
	csv.Namespace = ""
	csv.Spec.Version = version.OperatorVersion{Version: v}

	strategy := v1alpha1.StrategyDetailsDeployment{}
	for _, d := range in.deployments {
		strategy.DeploymentSpecs = append(strategy.DeploymentSpecs, v1alpha1.StrategyDeploymentSpec{
			Name: d.Name, Spec: d.Spec, Label: d.Labels,
		})
	}
	if err := fillPermissions(&strategy, in); err != nil {
		return err
	}
	csv.Spec.InstallStrategy = v1alpha1.NamedInstallStrategy{
		StrategyName: v1alpha1.InstallStrategyNameDeployment,
		StrategySpec: strategy,
	}

	csv.Spec.CustomResourceDefinitions.Owned = ownedCRDs(csv.Spec.CustomResourceDefinitions.Owned, in.crds)
	examples, err := almExamples(samples, in.crds)
	if err != nil {
		return err
	}
	if csv.Annotations == nil {
		csv.Annotations = map[string]string{}
	}
	csv.Annotations["alm-examples"] = examples
	csv.Annotations["containerImage"] = o.Images.Operator
	csv.Spec.RelatedImages = []v1alpha1.RelatedImage{
		{Name: "nginx-gateway-operator", Image: o.Images.Operator},
		{Name: "nginx-gateway", Image: o.Images.Gateway},
	}
	return nil
}

// fillPermissions turns the RBAC objects bound to the Deployments'
// ServiceAccounts into permissions (RoleBindings) and clusterPermissions
// (ClusterRoleBindings); OLM then creates the ServiceAccount, roles and
// bindings itself. Everything else in RBAC stays a manifest of its own.
func fillPermissions(strategy *v1alpha1.StrategyDetailsDeployment, in *inputs) error {
	operatorSAs := map[string]bool{}
	for _, d := range in.deployments {
		sa := d.Spec.Template.Spec.ServiceAccountName
		if sa == "" {
			return fmt.Errorf("Deployment %q sets no serviceAccountName", d.Name)
		}
		operatorSAs[sa] = true
	}
	usedRoles, keptRoles := map[string]bool{}, map[string]bool{}
	usedClusterRoles, keptClusterRoles := map[string]bool{}, map[string]bool{}
	perms, clusterPerms := map[string][]rbacv1.PolicyRule{}, map[string][]rbacv1.PolicyRule{}

	rulesOf := func(ref rbacv1.RoleRef) ([]rbacv1.PolicyRule, error) {
		switch ref.Kind {
		case "Role":
			r, ok := in.roles[ref.Name]
			if !ok {
				return nil, fmt.Errorf("binding refers to missing Role %q", ref.Name)
			}
			return r.Rules, nil
		case "ClusterRole":
			r, ok := in.clusterRoles[ref.Name]
			if !ok {
				return nil, fmt.Errorf("binding refers to missing ClusterRole %q", ref.Name)
			}
			return r.Rules, nil
		}
		return nil, fmt.Errorf("binding refers to a %s", ref.Kind)
	}
	mark := func(ref rbacv1.RoleRef, used bool) {
		roles, clusterRoles := keptRoles, keptClusterRoles
		if used {
			roles, clusterRoles = usedRoles, usedClusterRoles
		}
		if ref.Kind == "Role" {
			roles[ref.Name] = true
		} else {
			clusterRoles[ref.Name] = true
		}
	}

	// bind turns a binding of one of the operator's ServiceAccounts into
	// rules of perms; any other binding stays a manifest of its own.
	bind := func(obj runtime.Object, kind, name string, subjects []rbacv1.Subject, ref rbacv1.RoleRef,
		perms map[string][]rbacv1.PolicyRule) error {
		sa, ok := onlyServiceAccount(subjects, operatorSAs)
		if !ok {
			mark(ref, false)
			in.others = append(in.others, toUnstructured(obj, rbacv1.SchemeGroupVersion.WithKind(kind)))
			return nil
		}
		rules, err := rulesOf(ref)
		if err != nil {
			return fmt.Errorf("%s %q: %w", kind, name, err)
		}
		perms[sa] = append(perms[sa], rules...)
		mark(ref, true)
		return nil
	}
	for i := range in.roleBindings {
		b := &in.roleBindings[i]
		if err := bind(b, "RoleBinding", b.Name, b.Subjects, b.RoleRef, perms); err != nil {
			return err
		}
	}
	for i := range in.clusterRoleBindings {
		b := &in.clusterRoleBindings[i]
		if err := bind(b, "ClusterRoleBinding", b.Name, b.Subjects, b.RoleRef, clusterPerms); err != nil {
			return err
		}
	}

	for _, name := range sortedKeys(in.roles) {
		if !usedRoles[name] || keptRoles[name] {
			r := in.roles[name]
			in.others = append(in.others, toUnstructured(&r, rbacv1.SchemeGroupVersion.WithKind("Role")))
		}
	}
	for _, name := range sortedKeys(in.clusterRoles) {
		if !usedClusterRoles[name] || keptClusterRoles[name] {
			r := in.clusterRoles[name]
			in.others = append(in.others, toUnstructured(&r, rbacv1.SchemeGroupVersion.WithKind("ClusterRole")))
		}
	}
	for _, name := range sortedKeys(in.serviceAccounts) {
		if !operatorSAs[name] {
			sa := in.serviceAccounts[name]
			in.others = append(in.others, toUnstructured(&sa, corev1.SchemeGroupVersion.WithKind("ServiceAccount")))
		}
	}
	for _, sa := range sortedKeys(perms) {
		strategy.Permissions = append(strategy.Permissions,
			v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: perms[sa]})
	}
	for _, sa := range sortedKeys(clusterPerms) {
		strategy.ClusterPermissions = append(strategy.ClusterPermissions,
			v1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: clusterPerms[sa]})
	}
	return nil
}

// onlyServiceAccount is the name of the binding's single subject when it is
// one of the operator's ServiceAccounts: the only kind of binding a CSV can
// express.
func onlyServiceAccount(subjects []rbacv1.Subject, operatorSAs map[string]bool) (string, bool) {
	if len(subjects) != 1 || subjects[0].Kind != rbacv1.ServiceAccountKind || !operatorSAs[subjects[0].Name] {
		return "", false
	}
	return subjects[0].Name, true
}

// toUnstructured turns a typed object back into the manifest it was read
// from (the converter drops apiVersion and kind of typed objects).
func toUnstructured(obj runtime.Object, gvk schema.GroupVersionKind) *unstructured.Unstructured {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		panic(err) // typed API objects always convert
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ownedCRDs describes each served version of each CRD, keeping what the base
// CSV already says about it (display name, description, descriptors).
func ownedCRDs(base []v1alpha1.CRDDescription, crds []apiextv1.CustomResourceDefinition) []v1alpha1.CRDDescription {
	byKey := map[string]v1alpha1.CRDDescription{}
	for _, d := range base {
		byKey[d.Name+"/"+d.Version] = d
	}
	var out []v1alpha1.CRDDescription
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			d, ok := byKey[crd.Name+"/"+v.Name]
			if !ok {
				d = v1alpha1.CRDDescription{Name: crd.Name, Version: v.Name}
			}
			d.Kind = crd.Spec.Names.Kind
			if d.DisplayName == "" {
				d.DisplayName = splitCamelCase(crd.Spec.Names.Kind)
			}
			if d.Description == "" && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
				d.Description = oneLine(v.Schema.OpenAPIV3Schema.Description)
			}
			out = append(out, d)
		}
	}
	return out
}

// splitCamelCase turns "GatewayParameters" into "Gateway Parameters".
func splitCamelCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// oneLine is the first paragraph of a Go doc comment, on one line.
func oneLine(s string) string {
	para, _, _ := strings.Cut(strings.TrimSpace(s), "\n\n")
	return strings.Join(strings.Fields(para), " ")
}

// almExamples is the JSON array of the samples whose kind is an owned CRD's;
// without a namespace, so the console creates them where the user is.
func almExamples(samples []*unstructured.Unstructured, crds []apiextv1.CustomResourceDefinition) (string, error) {
	owned := map[schema.GroupVersionKind]bool{}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			owned[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = true
		}
	}
	examples := []map[string]any{}
	for _, s := range samples {
		if !owned[s.GroupVersionKind()] {
			continue
		}
		s = s.DeepCopy()
		s.SetNamespace("")
		examples = append(examples, s.Object)
	}
	b, err := json.MarshalIndent(examples, "", "  ")
	return string(b), err
}
