package product

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// TestImageUsersMatchDockerfiles: the local cluster runs the operator and
// gateway images as the users their Dockerfiles name, so a pod that works
// there works with the real images.
func TestImageUsersMatchDockerfiles(t *testing.T) {
	user := regexp.MustCompile(`(?m)^USER\s+(\d+):(\d+)\s*$`)
	for file, want := range map[string]*nodeagent.ImageUser{
		"Dockerfile":         OperatorImageUser,
		"Dockerfile.gateway": GatewayImageUser,
	} {
		raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), file))
		if err != nil {
			t.Fatal(err)
		}
		m := user.FindAllStringSubmatch(string(raw), -1)
		if len(m) != 1 {
			t.Errorf("%s: want one `USER uid:gid` line, found %d", file, len(m))
			continue
		}
		if got := fmt.Sprintf("%s:%s", m[0][1], m[0][2]); got != fmt.Sprintf("%d:%d", want.UID, want.GID) {
			t.Errorf("%s says USER %s, the local cluster runs it as %d:%d", file, got, want.UID, want.GID)
		}
	}
}
