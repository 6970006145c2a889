package product

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// Build compiles the operator and the sidecar of this checkout into binDir
// (the names Images maps), so a test runs the code it is part of rather
// than whatever bin/ holds.
func Build(ctx context.Context, binDir string) error {
	for _, prog := range []string{"operator", "sidecar"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, prog), "./"+prog)
		cmd.Dir = testenv.RepoRoot()
		cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %v\n%s", prog, err, out)
		}
	}
	return nil
}
