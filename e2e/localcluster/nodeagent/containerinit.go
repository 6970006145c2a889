package nodeagent

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// initSpecEnv names the environment variable that turns a process started
// from the agent's own executable into the container init helper: the agent
// starts `ip netns exec <pod netns> <own executable>` with it set, so the
// helper runs in the pod's network namespace and in a fresh mount namespace
// (ip netns exec makes one), builds the container's root there, and execs
// the container's program. Every mount lives and dies with that namespace:
// nothing is left on the host when the container's processes are gone.
const initSpecEnv = "LOCALCLUSTER_CONTAINER_INIT"

// initSpec is what the helper reads from the file named by initSpecEnv.
type initSpec struct {
	// Lower is the image's root filesystem ("/" for the host's); Upper and
	// Work hold the container's own writes (overlayfs); Root is where the
	// overlay is mounted and what the program sees as /.
	Lower, Upper, Work, Root string
	// Mounts are bind mounts into the container (volumes, /etc/hosts, the
	// image rule's binaries), applied in order after chroot so that symlinks
	// in target paths resolve inside the container's root, never the host's.
	Mounts []initMount
	// Dir is the working directory inside the container.
	Dir string
	// Argv is the program and its arguments.
	Argv []string
	// Hostname is set in the container's own UTS namespace (the pod's name).
	Hostname string
	// User, when set, is who the program runs as (securityContext).
	User *initUser `json:",omitempty"`
	// Sysctls are the pod's network sysctls, /proc/sys path → value.
	Sysctls map[string]string `json:",omitempty"`
}

type initMount struct {
	Source, Target string
	ReadOnly       bool
}

// RunContainerInitIfRequested must be the first thing main (and TestMain of
// any test that starts a node agent) calls: in the helper process it builds
// the container and execs the program, never returning; elsewhere it
// returns at once.
func RunContainerInitIfRequested() {
	specPath := os.Getenv(initSpecEnv)
	if specPath == "" {
		return
	}
	err := containerInit(specPath)
	fmt.Fprintf(os.Stderr, "localcluster container init: %v\n", err)
	os.Exit(127)
}

func containerInit(specPath string) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec initSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return err
	}
	if err := os.Unsetenv(initSpecEnv); err != nil {
		return err
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting the hostname: %w", err)
		}
	}
	if err := applySysctls(spec.Sysctls); err != nil {
		return err
	}
	// ip netns exec left / as a slave: host mounts still show up here, ours
	// never propagate back. Make it private so nothing crosses either way.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", err)
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", spec.Lower, spec.Upper, spec.Work)
	if err := unix.Mount("overlay", spec.Root, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay %s: %w", opts, err)
	}
	// The host's /proc and the netns's /sys (fresh from ip netns exec).
	for _, sys := range []string{"/proc", "/sys"} {
		target := filepath.Join(spec.Root, sys)
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(sys, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("binding %s: %w", sys, err)
		}
	}
	if err := mountDev(filepath.Join(spec.Root, "dev")); err != nil {
		return err
	}
	// Open every source before chroot, mount it through /proc/self/fd after.
	sources := make([]*os.File, len(spec.Mounts))
	for i, m := range spec.Mounts {
		f, err := os.OpenFile(m.Source, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("volume source: %w", err)
		}
		sources[i] = f
	}
	if err := unix.Chroot(spec.Root); err != nil {
		return fmt.Errorf("chroot %s: %w", spec.Root, err)
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	for i, m := range spec.Mounts {
		if err := bindInside(sources[i], m); err != nil {
			return err
		}
		sources[i].Close()
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chdir(dir); err != nil {
		return err
	}
	if len(spec.Argv) == 0 {
		return fmt.Errorf("no program to run")
	}
	program := spec.Argv[0]
	if !strings.Contains(program, "/") {
		if program, err = exec.LookPath(program); err != nil {
			return err
		}
	}
	if spec.User != nil {
		if err := spec.User.become(); err != nil {
			return err
		}
	}
	return syscall.Exec(program, spec.Argv, os.Environ())
}

// bindInside bind-mounts an opened source at m.Target, creating the mount
// point (a folder, or an empty file for a file source) inside the root.
func bindInside(src *os.File, m initMount) error {
	info, err := src.Stat()
	if err != nil {
		return err
	}
	if info.IsDir() {
		if err := os.MkdirAll(m.Target, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(m.Target), 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(m.Target, os.O_CREATE|os.O_RDONLY, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	fdPath := fmt.Sprintf("/proc/self/fd/%d", src.Fd())
	if err := unix.Mount(fdPath, m.Target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s at %s: %w", m.Source, m.Target, err)
	}
	if m.ReadOnly {
		if err := unix.Mount("", m.Target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", m.Target, err)
		}
	}
	return nil
}

// mountDev gives the container a /dev of its own (a tmpfs with the usual
// device nodes bound from the host), so files a program creates there, such
// as /dev/termination-log, never land in the host's /dev.
func mountDev(dev string) error {
	if err := os.MkdirAll(dev, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID, "mode=755,size=16m"); err != nil {
		return fmt.Errorf("mounting /dev: %w", err)
	}
	for _, node := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(dev, node)
		f, err := os.OpenFile(target, os.O_CREATE|os.O_RDONLY, 0o666)
		if err != nil {
			return err
		}
		f.Close()
		if err := unix.Mount("/dev/"+node, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding /dev/%s: %w", node, err)
		}
	}
	shm := filepath.Join(dev, "shm")
	if err := os.MkdirAll(shm, 0o1777); err != nil {
		return err
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777,size=64m"); err != nil {
		return fmt.Errorf("mounting /dev/shm: %w", err)
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	return nil
}
