package plugin

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// runRoot runs the plugin's root command with args, without a cluster (the
// API server address refuses connections).
func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root := NewRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out})
	root.SetArgs(append([]string{"--server", "https://127.0.0.1:1", "--request-timeout", "2s", "-n", "shop"}, args...))
	err := root.Execute()
	return out.String(), err
}

// TestOutputFlagOneRule: every command checks -o with output.Check, before
// it reads anything, with the same message; logs adds its own "raw".
func TestOutputFlagOneRule(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "web", "-o", "wide"}, `unknown output format "wide": use table, yaml or json`},
		{[]string{"config", "web", "routes", "-o", "wide"}, `unknown output format "wide": use table, yaml or json`},
		{[]string{"explain", "web", "--url", "http://x/", "-o", "wide"}, `unknown output format "wide": use table, yaml or json`},
		{[]string{"logs", "web", "-o", "wide"}, `unknown output format "wide": use table, raw, yaml or json`},
	} {
		if _, err := runRoot(t, tc.args...); err == nil || err.Error() != tc.want {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestEmptyOutputIsTable: -o "" prints what -o table prints (as kubectl
// get does), for a command that runs without a cluster.
func TestEmptyOutputIsTable(t *testing.T) {
	args := []string{"explain", "web", "-f", "explain/testdata/shop", "--url", "http://shop.example.com/items/42"}
	table, err := runRoot(t, append(args, "-o", "table")...)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := runRoot(t, append(args, "-o", "")...)
	if err != nil || empty != table || !strings.Contains(table, "Route:") {
		t.Errorf("-o \"\": %v\n%s\nwant -o table's:\n%s", err, empty, table)
	}
}
