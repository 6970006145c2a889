package nodeagent

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
)

// initUser is who the container's program runs as: the kubelet's
// runAsUser, runAsGroup, and fsGroup plus supplementalGroups as extra groups.
type initUser struct {
	UID, GID uint32
	Groups   []uint32
	// NoNewPrivs is allowPrivilegeEscalation: false (set-uid binaries and
	// file capabilities grant nothing).
	NoNewPrivs bool
}

// containerUser resolves the image's USER, the pod's and the container's
// securityContext as the kubelet does (the container's fields win, then the
// pod's, then the image's). Nil means root. A container that asks for
// runAsNonRoot and would run as root is refused, as the kubelet refuses it.
func containerUser(pod *corev1.Pod, c *corev1.Container, image *ImageUser) (*initUser, error) {
	var uid, gid *int64
	var nonRoot *bool
	var groups []uint32
	if image != nil {
		uid, gid = &image.UID, &image.GID
	}
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsUser != nil {
			uid = psc.RunAsUser
		}
		if psc.RunAsGroup != nil {
			gid = psc.RunAsGroup
		}
		nonRoot = psc.RunAsNonRoot
		if psc.FSGroup != nil {
			groups = append(groups, uint32(*psc.FSGroup))
		}
		for _, g := range psc.SupplementalGroups {
			groups = append(groups, uint32(g))
		}
	}
	noNewPrivs := false
	if csc := c.SecurityContext; csc != nil {
		if csc.RunAsUser != nil {
			uid = csc.RunAsUser
		}
		if csc.RunAsGroup != nil {
			gid = csc.RunAsGroup
		}
		if csc.RunAsNonRoot != nil {
			nonRoot = csc.RunAsNonRoot
		}
		noNewPrivs = csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation
	}
	if nonRoot != nil && *nonRoot && (uid == nil || *uid == 0) {
		return nil, fmt.Errorf("container has runAsNonRoot and image will run as root")
	}
	if uid == nil && gid == nil && len(groups) == 0 && !noNewPrivs {
		return nil, nil
	}
	u := &initUser{Groups: groups, NoNewPrivs: noNewPrivs}
	if uid != nil {
		u.UID = uint32(*uid)
	}
	if gid != nil {
		u.GID = uint32(*gid)
	}
	return u, nil
}

// become switches the container init to u just before it execs the
// program. The syscall package's set*id calls change every thread of the
// process; leaving uid 0 drops every capability (no keep-caps).
func (u *initUser) become() error {
	if u.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("no_new_privs: %w", err)
		}
	}
	groups := make([]int, len(u.Groups))
	for i, g := range u.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups %v: %w", groups, err)
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("setresgid %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("setresuid %d: %w", u.UID, err)
	}
	return nil
}

// sysctlName is a namespaced network sysctl, the only kind a pod may set
// here (the pod has a network namespace of its own; every other namespace
// the kubelet would isolate, the agent shares with the host).
var sysctlName = regexp.MustCompile(`^net\.[a-z0-9_]+(\.[a-z0-9_-]+)+$`)

// podSysctls returns the pod's sysctls as /proc/sys paths and values, or an
// error naming one the agent cannot set.
func podSysctls(pod *corev1.Pod) (map[string]string, error) {
	psc := pod.Spec.SecurityContext
	if psc == nil || len(psc.Sysctls) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, s := range psc.Sysctls {
		if !sysctlName.MatchString(s.Name) {
			return nil, fmt.Errorf("sysctl %q: the node agent sets only net.* sysctls (the pod's network namespace)", s.Name)
		}
		out["/proc/sys/"+strings.ReplaceAll(s.Name, ".", "/")] = s.Value
	}
	return out, nil
}

// applySysctls writes them from inside the pod's network namespace, where
// /proc/sys/net shows that namespace's values.
func applySysctls(sysctls map[string]string) error {
	for path, value := range sysctls {
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("sysctl %s=%s: %w", path, value, err)
		}
	}
	return nil
}

// Volume ownership with fsGroup, as the kubelet's SetVolumeOwnership does:
// every file and folder of the volume gets group fsGroup and the group
// bits below; folders also get set-group-id so new files inherit the group.
const (
	readWriteGroupBits = fs.FileMode(0o660)
	readOnlyGroupBits  = fs.FileMode(0o440)
	folderGroupBits    = fs.FileMode(0o110) | fs.ModeSetgid
)

// applyFSGroup gives the volume at dir to the pod's fsGroup. readOnly
// volumes (configMap, secret, downwardAPI, projected) get read bits only.
// Symlinks (the atomic writer's ..data and per-key links) keep their mode.
func applyFSGroup(pod *corev1.Pod, dir string, readOnly bool) error {
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.FSGroup == nil {
		return nil
	}
	gid := int(*psc.FSGroup)
	bits := readWriteGroupBits
	if readOnly {
		bits = readOnlyGroupBits
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := info.Mode() | bits
		if d.IsDir() {
			mode |= folderGroupBits
		}
		if mode == info.Mode() {
			return nil
		}
		return os.Chmod(path, mode)
	})
}
