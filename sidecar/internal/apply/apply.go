package apply

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/metrics"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/mount"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

// Config says where things are and how long steps may take.
type Config struct {
	ConfigDir, SecretDir string // the mounts
	// LastGoodDir is the mount of the Gateway's last-good ConfigMap
	// (dataplane.LastGoodMountPath; "" for none): see Result.Fallback.
	LastGoodDir string
	// StagingDir holds one folder per config hash; LivePath is the symlink
	// nginx serves through; PidFile is nginx's pid file.
	StagingDir, LivePath, PidFile string
	// ReloadFIFO is where the exec-nginx supervisor takes reload requests
	// (nginxproc.RequestReload). Empty: the master is sent SIGHUP directly
	// (tests that run nginx without the supervisor).
	ReloadFIFO string
	// ValidateBeforeReload runs nginx -t before reloading a running nginx.
	// Off, a running nginx is reloaded straight away: the reload parses
	// the config anyway and refuses one it cannot load, keeping the old
	// one, so a separate nginx -t parses every change twice (measured in
	// BenchmarkApply: see docs/design.md, "One parse per route change").
	// A tree is always checked when no master runs, since nginx starts
	// from the live tree and must not fail to start.
	ValidateBeforeReload bool
	// WorkerProcesses is what the launcher passes nginx with -g
	// (nginxproc.Globals): nginx -t gets the same.
	WorkerProcesses int
	Nginx           string // nginx binary
	EmergLog        *nginxproc.EmergLog
	ValidateTimeout time.Duration
	ReloadTimeout   time.Duration
	Metrics         *metrics.Metrics
	Log             logr.Logger
	// Decompression bounds the ConfigMap's compressed keys; zero means
	// mount.DefaultLimits.
	Decompression mount.Limits
}

func (c Config) limits() mount.Limits {
	if c.Decompression == (mount.Limits{}) {
		return mount.DefaultLimits
	}
	return c.Decompression
}

// Result is what one Apply did.
type Result struct {
	Hash string
	// Changed is false when the mounts held the applied (or the last
	// refused) config: nothing was done and nothing needs reporting.
	Changed bool
	// Err is set when the config was refused; Message is then nginx's text
	// (or the reason when nginx was not the one refusing).
	Err     error
	Message string
	// Transient marks a failure that may pass (a reload that failed or
	// timed out, an I/O error): the same config is tried again by the next
	// Apply. Configs nginx -t refused are not tried again until they change.
	Transient bool
	// Fallback is the hash of the last-good config (Config.LastGoodDir,
	// merged with the Secret's files) applied instead of a refused one,
	// when nothing was live yet: a new or restarted pod serves the newest
	// config a replica applied rather than nothing. "" when not.
	Fallback string
	// Incomplete is set when the mounts did not go together yet (the
	// ConfigMap's dataplane.SecretsHashKey names other Secret files than
	// the Secret mount holds): nothing was done, Hash is "".
	Incomplete bool
	// Validation and Reload are the durations of nginx -t and of the
	// reload (zero when nginx was not running: it reads the tree at start).
	Validation, Reload time.Duration
}

// Applier applies configs one at a time; it is not safe for concurrent use.
type Applier struct {
	cfg      Config
	applied  string // hash nginx serves
	rejected string // hash last refused, not retried until the mounts change
}

// New returns an Applier that knows the tree LivePath already points at
// (after a container restart nginx keeps serving it).
func New(cfg Config) (*Applier, error) {
	if err := os.MkdirAll(cfg.StagingDir, 0o755); err != nil {
		return nil, err
	}
	a := &Applier{cfg: cfg}
	if target, err := filepath.EvalSymlinks(cfg.LivePath); err == nil {
		files, err := mount.Read(target)
		if err != nil {
			return nil, fmt.Errorf("reading live config %s: %w", target, err)
		}
		a.applied = dataplane.Hash(mount.Contents(files))
		cfg.Metrics.SetApplied(a.applied)
	}
	a.cleanup("")
	return a, nil
}

// Applied is the hash of the config nginx serves ("" before the first).
func (a *Applier) Applied() string { return a.applied }

// Rejected is the hash of the config last refused for good ("" when the
// newest config was not refused, or its failure may pass).
func (a *Applier) Rejected() string { return a.rejected }

// Apply reads both mounts and applies them unless they hold the applied config.
func (a *Applier) Apply(ctx context.Context) Result {
	files, refusal, err := a.read()
	var half halfSwapped
	if errors.As(err, &half) {
		// The kubelet has swapped one volume and not yet the other: its
		// swap is an event that brings the next Apply.
		a.cfg.Log.V(1).Info("waiting for the other mount", "reason", half.Error())
		return Result{Incomplete: true}
	}
	if err != nil {
		// An unreadable mount is not a config to refuse: report nothing, retry on the next event.
		a.cfg.Log.Error(err, "reading mounts")
		return Result{}
	}
	hash := dataplane.Hash(mount.Contents(files))
	if hash == a.applied || hash == a.rejected {
		return Result{Hash: hash}
	}
	var res Result
	if refusal != nil {
		res = Result{Hash: hash, Changed: true, Err: refusal, Message: refusal.Error()}
	} else {
		res = a.apply(ctx, hash, files)
	}
	if res.Err != nil {
		a.rejected = hash
		if res.Transient {
			a.rejected = ""
		}
		a.cfg.Log.Error(res.Err, "config refused", "hash", hash, "message", res.Message)
		if a.applied == "" && !res.Transient {
			res.Fallback = a.fallback(ctx, hash)
		}
	} else {
		a.rejected = ""
		a.applied = hash
		a.cfg.Metrics.SetApplied(hash)
		a.cfg.Log.Info("config applied", "hash", hash, "validation", res.Validation, "reload", res.Reload)
	}
	return res
}

func (a *Applier) apply(ctx context.Context, hash string, files map[string]mount.File) Result {
	res := Result{Hash: hash, Changed: true}
	fail := func(err error, msg string, transient bool) Result {
		res.Err, res.Message, res.Transient = err, msg, transient
		a.cleanup("")
		return res
	}
	stage, err := a.stage(hash, files)
	if err != nil {
		return fail(err, err.Error(), true)
	}

	if _, running := nginxproc.Master(a.cfg.PidFile); a.cfg.ValidateBeforeReload || !running {
		vctx, cancel := context.WithTimeout(ctx, a.cfg.ValidateTimeout)
		start := time.Now()
		msg, err := nginxproc.Validate(vctx, a.cfg.Nginx, stage, a.cfg.WorkerProcesses)
		interrupted := vctx.Err() != nil // timed out or shutting down: not nginx's verdict
		cancel()
		res.Validation = time.Since(start)
		a.cfg.Metrics.ObserveValidation(res.Validation, err != nil && !interrupted)
		if err != nil {
			// "in /var/run/nginx-gateway/configs/<hash>/routes.conf:3" → "in routes.conf:3":
			// the names the operator rendered.
			msg = strings.ReplaceAll(msg, stage+"/", "")
			return fail(err, msg, interrupted)
		}
	}
	a.cfg.Metrics.StepAt(dataplane.StepValidated, time.Now())

	previous, _ := os.Readlink(a.cfg.LivePath)
	if err := a.pointLive(stage); err != nil {
		return fail(err, err.Error(), true)
	}
	reloadStart := time.Now()
	reloaded, err := a.reload(ctx)
	if reloaded {
		end := time.Now()
		res.Reload = end.Sub(reloadStart)
		a.cfg.Metrics.ObserveReload(res.Reload, err != nil, end)
	}
	if err != nil && ctx.Err() != nil {
		// Shutting down mid-reload: nginx has the signal and the live tree
		// passed nginx -t, so leave both; the next start compares hashes.
		res.Err, res.Message, res.Transient = err, "interrupted by shutdown", true
		return res
	}
	if err != nil {
		a.restore(previous, err)
		// nginx's reload read the tree through LivePath: "in live/routes.conf:3" → "in routes.conf:3".
		msg := strings.ReplaceAll(reloadMessage(err), a.cfg.LivePath+"/", "")
		return fail(err, msg, reloadMayPass(err))
	}
	if reloaded {
		a.cfg.Metrics.StepAt(dataplane.StepReloaded, time.Now())
	}
	a.cleanup(previous)
	return res
}

// read merges both mounts, the ConfigMap's compressed keys decompressed
// (mount.Expand). A config to refuse rather than guess at (refusal) is not
// a read error: a name in both mounts, or a compressed key that is corrupt,
// too large or shadows a plain one. An archive that cannot be decompressed
// has no decompressed hash, so such a refusal carries the hash of the files
// as mounted, which no operator-rendered config has.
// read fails with halfSwapped when the ConfigMap's dataplane.SecretsHashKey
// does not match the Secret mount.
func (a *Applier) read() (files map[string]mount.File, refusal, err error) {
	return a.readFrom(a.cfg.ConfigDir, dataplane.SecretsHashKey)
}

// halfSwapped is the error of a read that saw one volume's new version
// and the other's old one.
type halfSwapped struct{ want, got string }

func (h halfSwapped) Error() string {
	return fmt.Sprintf("the ConfigMap goes with Secret files of hash %s, the Secret mount holds %s", h.want, h.got)
}

// readFrom is read with the config files from configDir; secretsKey, when
// not "", names the key of configDir that must match the Secret's files.
func (a *Applier) readFrom(configDir, secretsKey string) (files map[string]mount.File, refusal, err error) {
	config, wantSecrets, err := mount.ReadWithKey(configDir, secretsKey)
	if err != nil {
		return nil, nil, err
	}
	secrets, err := mount.Read(a.cfg.SecretDir)
	if err != nil {
		return nil, nil, err
	}
	// Without the key (an operator from before it) the mounts are taken
	// as they are.
	if wantSecrets != nil {
		if got := dataplane.Hash(mount.Contents(secrets)); got != string(wantSecrets) {
			return nil, nil, halfSwapped{want: string(wantSecrets), got: got}
		}
	}
	if expanded, err := mount.Expand(config, a.cfg.limits()); err != nil {
		refusal = err
	} else {
		config = expanded
	}
	for name, f := range secrets {
		if _, dup := config[name]; dup {
			if refusal == nil {
				refusal = fmt.Errorf("file %q is in both the ConfigMap and the Secret", name)
			}
			continue
		}
		config[name] = f
	}
	return config, refusal, nil
}

// fallback applies the last-good config when nothing is live and the
// config of hash refused was refused, and returns its hash ("" when there
// is none, it is the refused one, or it fails too).
func (a *Applier) fallback(ctx context.Context, refused string) string {
	if entries, err := os.ReadDir(a.cfg.LastGoodDir); err != nil || len(entries) == 0 {
		return "" // none, or the ConfigMap (optional) does not exist yet
	}
	files, refusal, err := a.readFrom(a.cfg.LastGoodDir, "")
	if err != nil || refusal != nil || len(files) == 0 {
		return ""
	}
	hash := dataplane.Hash(mount.Contents(files))
	if hash == refused {
		return ""
	}
	if res := a.apply(ctx, hash, files); res.Err != nil {
		a.cfg.Log.Error(res.Err, "last-good config refused too", "hash", hash, "message", res.Message)
		return ""
	}
	a.applied = hash
	a.cfg.Metrics.SetApplied(hash)
	a.cfg.Log.Info("serving the last-good config instead", "hash", hash, "refused", refused)
	return hash
}

// stage writes the tree into StagingDir/<hash>, complete or not at all: it
// is written under a temporary name and renamed.
func (a *Applier) stage(hash string, files map[string]mount.File) (string, error) {
	dir := filepath.Join(a.cfg.StagingDir, hash)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil // same hash, same content: an earlier config coming back
	}
	tmp, err := os.MkdirTemp(a.cfg.StagingDir, ".stage-")
	if err != nil {
		return "", err
	}
	// Chmod after creating: the umask must not decide what nginx may read.
	if err := os.Chmod(tmp, dataplane.StagedDirMode); err != nil {
		return "", err
	}
	for name, f := range files {
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, f.Data, dataplane.StagedFileMode); err != nil {
			return "", err
		}
		if err := os.Chmod(path, dataplane.StagedFileMode); err != nil {
			return "", err
		}
	}
	for _, name := range dataplane.TempDirs {
		path := filepath.Join(tmp, name)
		if err := os.Mkdir(path, dataplane.TempDirMode); err != nil {
			return "", err
		}
		if err := os.Chmod(path, dataplane.TempDirMode); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// pointLive swaps LivePath to dir with a rename, so nginx (a start or a
// reload) sees either the old tree or the new one, never none. The link is
// relative when it can be, so it resolves the same inside and outside a chroot.
func (a *Applier) pointLive(dir string) error {
	target := dir
	if rel, err := filepath.Rel(filepath.Dir(a.cfg.LivePath), dir); err == nil {
		target = rel
	}
	return swapSymlink(a.cfg.LivePath, target)
}

func swapSymlink(link, target string) error {
	tmp := fmt.Sprintf("%s.tmp-%d", link, time.Now().UnixNano())
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

// reload signals the nginx master and waits for its new workers. When no
// nginx runs yet, there is nothing to reload: it starts from LivePath.
func (a *Applier) reload(ctx context.Context) (bool, error) {
	master, ok := nginxproc.Master(a.cfg.PidFile)
	if !ok {
		if master, ok = a.waitStartingMaster(ctx); !ok {
			a.cfg.Log.Info("nginx is not running; it will start with the live config")
			return false, nil
		}
	}
	before, err := nginxproc.Children(master)
	if err != nil {
		return true, fmt.Errorf("listing nginx workers: %w", err)
	}
	offset := a.cfg.EmergLog.Offset()
	if err := a.requestReload(master); err != nil {
		return true, fmt.Errorf("reloading nginx master %d: %w", master, err)
	}
	return true, nginxproc.WaitNewGeneration(ctx, master, before, a.cfg.EmergLog, offset, a.cfg.ReloadTimeout)
}

// requestReload asks the supervisor to reload nginx, or signals the master
// when no supervisor is configured.
func (a *Applier) requestReload(master int) error {
	if a.cfg.ReloadFIFO == "" {
		return nginxproc.Signal(master, syscall.SIGHUP)
	}
	return nginxproc.RequestReload(a.cfg.ReloadFIFO)
}

// waitStartingMaster handles an nginx that started before the swap but has
// not written its pid file: it may be serving the previous tree, so it is
// reloaded too, once its pid file shows that it handles signals.
func (a *Applier) waitStartingMaster(ctx context.Context) (int, bool) {
	deadline := time.Now().Add(a.cfg.ReloadTimeout)
	for len(nginxproc.StartingMasters(a.cfg.LivePath)) > 0 && time.Now().Before(deadline) {
		if master, ok := nginxproc.Master(a.cfg.PidFile); ok {
			return master, true
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return 0, false
}

// restore points LivePath back at the previous tree. When nginx's state is
// unknown (no answer in time), it also asks nginx to load that tree again.
func (a *Applier) restore(previous string, cause error) {
	var err error
	if previous == "" {
		err = os.Remove(a.cfg.LivePath)
	} else {
		err = swapSymlink(a.cfg.LivePath, previous)
	}
	if err != nil {
		a.cfg.Log.Error(err, "restoring the previous live config")
		return
	}
	var re *nginxproc.ReloadError
	if errors.As(cause, &re) && re.Timeout {
		if master, ok := nginxproc.Master(a.cfg.PidFile); ok {
			_ = a.requestReload(master)
		}
	}
}

// cleanup removes staging folders other than the live one and previous.
func (a *Applier) cleanup(previous string) {
	keep := map[string]bool{}
	if target, err := filepath.EvalSymlinks(a.cfg.LivePath); err == nil {
		keep[filepath.Base(target)] = true
	}
	if previous != "" {
		keep[filepath.Base(previous)] = true
	}
	entries, err := os.ReadDir(a.cfg.StagingDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			if err := os.RemoveAll(filepath.Join(a.cfg.StagingDir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				a.cfg.Log.Error(err, "removing old staging folder", "name", e.Name())
			}
		}
	}
}

// reloadMayPass says whether a failed reload may succeed with the same
// tree: nginx did not answer in time, or could not bind a listening
// address (a port held by someone else may be freed). Any other refusal
// is nginx rejecting the config, as nginx -t would have: it is reported
// and not tried again until the config changes.
func reloadMayPass(err error) bool {
	var re *nginxproc.ReloadError
	if !errors.As(err, &re) {
		return true
	}
	return re.Timeout || strings.Contains(re.Message, "bind()")
}

func reloadMessage(err error) string {
	var re *nginxproc.ReloadError
	if errors.As(err, &re) {
		return re.Message
	}
	return err.Error()
}
