package bundlegen

import (
	"fmt"
	"slices"
	"testing"

	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func objects(t *testing.T, docs ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range docs {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(d), &u.Object); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

const (
	csvDoc        = "apiVersion: operators.coreos.com/v1alpha1\nkind: ClusterServiceVersion\nmetadata: {name: x}"
	deploymentDoc = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: op, namespace: ns}\nspec: {template: {spec: {serviceAccountName: op}}}"
	saDoc         = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: op, namespace: ns}"
	roleDoc       = "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: %s, namespace: ns}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get]}]"
	clusterRole   = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: %s}\nrules: [{apiGroups: [''], resources: [pods], verbs: [list]}]"
)

func binding(kind, name, roleKind, role, subjectKind, subject string) string {
	return "apiVersion: rbac.authorization.k8s.io/v1\nkind: " + kind + "\nmetadata: {name: " + name + ", namespace: ns}\n" +
		"roleRef: {apiGroup: rbac.authorization.k8s.io, kind: " + roleKind + ", name: " + role + "}\n" +
		"subjects: [{kind: " + subjectKind + ", name: " + subject + ", namespace: ns}]"
}

// TestPermissions checks which RBAC objects become CSV permissions and which
// stay manifests of their own.
func TestPermissions(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		docs                   []string
		wantPerms, wantCluster int // rules
		wantManifests          []string
	}{
		{
			name: "role and cluster role bound to the operator",
			docs: []string{fmt.Sprintf(roleDoc, "le"), fmt.Sprintf(clusterRole, "mgr"),
				binding("RoleBinding", "le-b", "Role", "le", "ServiceAccount", "op"),
				binding("ClusterRoleBinding", "mgr-b", "ClusterRole", "mgr", "ServiceAccount", "op")},
			wantPerms: 1, wantCluster: 1,
		},
		{
			name:          "unbound cluster role stays a manifest",
			docs:          []string{fmt.Sprintf(clusterRole, "reader")},
			wantManifests: []string{"ClusterRole/reader"},
		},
		{
			name: "binding of another subject stays, with its role",
			docs: []string{fmt.Sprintf(clusterRole, "view"),
				binding("ClusterRoleBinding", "view-b", "ClusterRole", "view", "Group", "people")},
			wantManifests: []string{"ClusterRoleBinding/view-b", "ClusterRole/view"},
		},
		{
			name: "cluster role bound in a namespace is a permission",
			docs: []string{fmt.Sprintf(clusterRole, "mgr"),
				binding("RoleBinding", "mgr-b", "ClusterRole", "mgr", "ServiceAccount", "op")},
			wantPerms: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := classify(objects(t, append([]string{csvDoc, deploymentDoc, saDoc}, tc.docs...)...))
			if err != nil {
				t.Fatal(err)
			}
			var s v1alpha1.StrategyDetailsDeployment
			if err := fillPermissions(&s, in); err != nil {
				t.Fatal(err)
			}
			if got := countRules(s.Permissions); got != tc.wantPerms {
				t.Errorf("%d permission rules, want %d", got, tc.wantPerms)
			}
			if got := countRules(s.ClusterPermissions); got != tc.wantCluster {
				t.Errorf("%d clusterPermission rules, want %d", got, tc.wantCluster)
			}
			var manifests []string
			for _, u := range in.others {
				manifests = append(manifests, u.GetKind()+"/"+u.GetName())
			}
			if !slices.Equal(manifests, tc.wantManifests) {
				t.Errorf("manifests %q, want %q", manifests, tc.wantManifests)
			}
		})
	}
}

func countRules(perms []v1alpha1.StrategyDeploymentPermissions) int {
	n := 0
	for _, p := range perms {
		if p.ServiceAccountName != "op" {
			return -1
		}
		n += len(p.Rules)
	}
	return n
}

func TestBindingToMissingRoleFails(t *testing.T) {
	in, err := classify(objects(t, csvDoc, deploymentDoc, saDoc,
		binding("ClusterRoleBinding", "b", "ClusterRole", "gone", "ServiceAccount", "op")))
	if err != nil {
		t.Fatal(err)
	}
	if err := fillPermissions(&v1alpha1.StrategyDetailsDeployment{}, in); err == nil {
		t.Error("a binding to a missing ClusterRole was accepted")
	}
}

func TestSplitCamelCaseAndOneLine(t *testing.T) {
	for in, want := range map[string]string{"GatewayParameters": "Gateway Parameters", "Gateway": "Gateway"} {
		if got := splitCamelCase(in); got != want {
			t.Errorf("splitCamelCase(%q) = %q, want %q", in, got, want)
		}
	}
	if got := oneLine("First line\ncontinues.\n\nSecond paragraph."); got != "First line continues." {
		t.Errorf("oneLine = %q", got)
	}
}
