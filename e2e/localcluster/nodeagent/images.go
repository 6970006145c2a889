package nodeagent

import (
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ImageRule maps container images to local programs: there is no image
// registry and no image store, so each image a test uses names a root
// filesystem and, optionally, a host binary as its entrypoint.
type ImageRule struct {
	// Contains matches images whose name (the last path element of the
	// repository, without registry, tag or digest: "nginx-gateway" for
	// "ghcr.io/org/nginx-gateway:v1") contains this text. Rules are tried in
	// order; the first match wins.
	Contains string
	// Rootfs is the folder the container sees as /, through an overlay so
	// the container's writes stay its own. Empty means the host's /.
	Rootfs string
	// Entrypoint, when set, is a host binary that stands for the image's
	// entrypoint: it replaces command[0], or runs with the container's args
	// when the Pod sets no command. It appears inside the container at
	// /.localcluster/bin/<its base name>.
	Entrypoint string
	// Binds are host files or folders bind-mounted into the container,
	// container path → host path (e.g. the sidecar binary into the gateway
	// image's root filesystem).
	Binds map[string]string
	// Env is the image's own environment (a Dockerfile's ENV): set before
	// the container's env, which wins.
	Env map[string]string
	// User is the image's USER (uid and gid); nil is root. A securityContext's
	// runAsUser and runAsGroup win over it.
	User *ImageUser
}

// ImageUser is a Dockerfile's `USER uid:gid`.
type ImageUser struct{ UID, GID int64 }

// entrypointDir is where an ImageRule's Entrypoint appears in the container.
const entrypointDir = "/.localcluster/bin"

func matchImage(rules []ImageRule, image string) (ImageRule, bool) {
	name := imageName(image)
	for _, r := range rules {
		if strings.Contains(name, r.Contains) {
			return r, true
		}
	}
	return ImageRule{}, false
}

// containerArgv is the argv the container runs: the image's entrypoint (the
// rule's, or command[0]) and its arguments, after $(VAR) expansion as the
// kubelet does it.
func containerArgv(rule ImageRule, c *corev1.Container, env map[string]string) ([]string, error) {
	var argv []string
	switch {
	case rule.Entrypoint != "":
		argv = append(argv, path.Join(entrypointDir, path.Base(rule.Entrypoint)))
		if len(c.Command) > 1 {
			argv = append(argv, c.Command[1:]...)
		}
	case len(c.Command) > 0:
		argv = append(argv, c.Command...)
	default:
		return nil, fmt.Errorf("image %q has no entrypoint in the image mapping and the container sets no command", c.Image)
	}
	argv = append(argv, c.Args...)
	for i := range argv {
		argv[i] = expandVars(argv[i], env)
	}
	return argv, nil
}

// expandVars replaces $(NAME) with env's value when NAME is defined and
// $$ with $, leaving anything else as written (the kubelet's rules).
func expandVars(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := env[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// imageName is the last path element of an image reference's repository.
func imageName(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndexByte(image, '/'); i >= 0 {
		image = image[i+1:]
	}
	name, _, _ := strings.Cut(image, ":")
	return name
}

// ruleFiles are the host files a rule needs.
func ruleFiles(r ImageRule) []string {
	var files []string
	if r.Rootfs != "" {
		files = append(files, r.Rootfs)
	}
	if r.Entrypoint != "" {
		files = append(files, r.Entrypoint)
	}
	for _, src := range r.Binds {
		files = append(files, src)
	}
	return files
}
