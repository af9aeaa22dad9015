// Package nspawn boots a real systemd as PID 1 in a throwaway
// systemd-nspawn container, for end-to-end tests of code that talks to
// systemd. The container's root is a copy-on-write overlay of the host's /,
// so it has whatever the host has installed and nothing it does reaches the
// host. It works on hosts whose own PID 1 is not systemd.
//
// Everything runs as root and needs systemd-nspawn, nsenter and runuser on
// the host. Each container lives in its own directory /tmp/provision-e2e-*,
// has its own cgroups and its own network namespace, so several containers
// can run at once. Close tears one down; RemoveStale cleans up after a
// process that died before it could call Close.
package nspawn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// baseDir holds the containers' directories.
	baseDir = "/tmp"
	// Prefix starts the name of every container, and of its directory
	// under /tmp, its cgroups and its overlay mount.
	Prefix = "provision-e2e-"

	// DefaultBootTimeout bounds the wait for systemd to finish booting.
	DefaultBootTimeout = 60 * time.Second
	// stopTimeout is how long Close waits for a container to power off
	// after asking it to, before killing its init.
	stopTimeout = 30 * time.Second
	// killTimeout is how long Close waits for systemd-nspawn to exit after
	// each kill.
	killTimeout = 10 * time.Second

	// searchPath is PATH for commands run inside a container.
	searchPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// DefaultMasked lists the units masked before boot: services installed on
// the host that only slow the boot down or cannot work in a container, and
// the timers of maintenance jobs that would otherwise start in the middle
// of a test. Masking a unit that is not installed is harmless.
var DefaultMasked = []string{
	"postgresql.service",
	"postgresql@.service",
	"docker.service",
	"docker.socket",
	"containerd.service",
	"redis-server.service",
	"apt-daily.timer",
	"apt-daily-upgrade.timer",
	"man-db.timer",
	"dpkg-db-backup.timer",
	"e2scrub_all.timer",
	"fstrim.timer",
	"systemd-tmpfiles-clean.timer",
}

// CloudInitUnits are cloud-init's units, masked unless Options.KeepCloudInit
// is set.
var CloudInitUnits = []string{
	"cloud-init-local.service",
	"cloud-init.service",
	"cloud-config.service",
	"cloud-final.service",
	"cloud-init-hotplugd.service",
	"cloud-init-hotplugd.socket",
}

// ErrNotBooted is returned by the methods that run commands inside a
// container that has not booted, or has been closed.
var ErrNotBooted = errors.New("container is not running")

// Options says how to set up a container.
type Options struct {
	// Name labels the container: its machine name is
	// Prefix+Name+"-"+digits (Prefix+digits when empty). Lowercase
	// letters, digits and '-', at most 32 characters. The hostname inside
	// is the host's, from the host's /etc/hostname.
	Name string
	// KeepCloudInit leaves cloud-init's units unmasked, for tests about
	// cloud-init (which also need a NoCloud seed laid in by Prepare).
	KeepCloudInit bool
	// Mask lists units to mask besides DefaultMasked and CloudInitUnits.
	Mask []string
	// Unmask lists units of DefaultMasked to leave unmasked (the demo
	// runs the host's redis-server).
	Unmask []string
	// Prepare, when set, is called with the container's root directory on
	// the host once the overlay is mounted and the units are masked,
	// before the container boots.
	Prepare func(root string) error
	// NoBoot makes New stop after mounting the overlay and Prepare: the
	// root can be used offline (e.g. by a tool run on the host against
	// Root()), and Boot boots it later.
	NoBoot bool
	// BootTimeout bounds the wait for systemd to report running or
	// degraded; DefaultBootTimeout when zero.
	BootTimeout time.Duration
}

// Container is a throwaway systemd container.
//
// Command, Exec, ExecAs, CopyIn and WriteFile may be called from several
// goroutines at once; New, Boot and Close may not run concurrently with
// anything else on the same container, except that Close may be called
// again (or from another goroutine) and waits for the first call to finish.
type Container struct {
	name        string
	dir         string
	bootTimeout time.Duration

	lock    *os.File // flock held for the container's lifetime, see RemoveStale
	mounted bool
	cgroups []string // created cgroup directories

	nspawn  *exec.Cmd     // systemd-nspawn, once started
	exited  chan struct{} // closed when systemd-nspawn has exited
	waitErr error         // systemd-nspawn's exit status, set before exited closes
	logFile *os.File

	mu      sync.Mutex
	initPID int // the container's systemd as seen from the host; 0 unless running

	closeOnce sync.Once
	closeErr  error
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// New mounts a copy-on-write overlay of the host's / for a new container,
// masks the units that would slow its boot, runs opts.Prepare and, unless
// opts.NoBoot is set, boots it. ctx bounds the boot, not the container's
// life: the container runs until Close. On error, everything New set up has
// been torn down again.
//
// New must run as root. Packages the container should have must be
// installed on the host before New: changing the host's / under a mounted
// overlay is undefined.
func New(ctx context.Context, opts Options) (*Container, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("boot container: must run as root")
	}
	prefix := Prefix
	if opts.Name != "" {
		if !validName.MatchString(opts.Name) {
			return nil, fmt.Errorf("boot container: invalid name %q: want at most 32 lowercase letters, digits and '-'", opts.Name)
		}
		prefix += opts.Name + "-"
	}
	dir, err := os.MkdirTemp(baseDir, prefix)
	if err != nil {
		return nil, fmt.Errorf("boot container: %w", err)
	}
	c := &Container{
		name:        filepath.Base(dir),
		dir:         dir,
		bootTimeout: opts.BootTimeout,
	}
	if c.bootTimeout <= 0 {
		c.bootTimeout = DefaultBootTimeout
	}
	if err := c.setUp(opts); err != nil {
		return nil, errors.Join(fmt.Errorf("set up container %s: %w", c.name, err), c.Close())
	}
	if !opts.NoBoot {
		if err := c.Boot(ctx); err != nil {
			return nil, errors.Join(err, c.Close())
		}
	}
	return c, nil
}

// setUp takes the container's lock, mounts its overlay, masks units and
// runs opts.Prepare.
func (c *Container) setUp(opts Options) error {
	lock, err := createLocked(filepath.Join(c.dir, lockFile))
	if err != nil {
		return err
	}
	c.lock = lock
	if err := c.writeState(); err != nil {
		return err
	}
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.Mkdir(filepath.Join(c.dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := mountOverlay(c.dir); err != nil {
		return err
	}
	c.mounted = true

	var masked []string
	for _, u := range DefaultMasked {
		if !slices.Contains(opts.Unmask, u) {
			masked = append(masked, u)
		}
	}
	if !opts.KeepCloudInit {
		masked = append(masked, CloudInitUnits...)
	}
	masked = append(masked, opts.Mask...)
	if err := maskUnits(c.Root(), masked); err != nil {
		return err
	}
	if opts.Prepare != nil {
		if err := opts.Prepare(c.Root()); err != nil {
			return fmt.Errorf("prepare root: %w", err)
		}
	}
	return nil
}

// maskUnits links each unit to /dev/null in root's /etc/systemd/system,
// replacing a unit file or link of the same name.
func maskUnits(root string, units []string) error {
	dir := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mask units: %w", err)
	}
	for _, u := range units {
		if u == "" || strings.ContainsRune(u, '/') {
			return fmt.Errorf("mask units: invalid unit name %q", u)
		}
		p := filepath.Join(dir, u)
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mask %s: %w", u, err)
		}
		if err := os.Symlink("/dev/null", p); err != nil {
			return fmt.Errorf("mask %s: %w", u, err)
		}
	}
	return nil
}

// Name returns the container's machine name, unique among the containers
// on the host.
func (c *Container) Name() string { return c.name }

// Dir returns the host directory that holds everything of the container:
// the overlay's layers and systemd-nspawn's log.
func (c *Container) Dir() string { return c.dir }

// Root returns the container's root directory as seen from the host (the
// overlay's merged directory).
func (c *Container) Root() string { return filepath.Join(c.dir, "merged") }

// InitPID returns the host PID of the container's systemd, or 0 when the
// container is not running.
func (c *Container) InitPID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.initPID
}

// Boot starts systemd-nspawn in the background and waits until systemd in
// the container reports running or degraded, ctx is done, or the boot
// timeout passes. On error the container is left for Close to tear down,
// and the error includes the tail of systemd-nspawn's log and the pending
// jobs.
func (c *Container) Boot(ctx context.Context) error {
	if c.nspawn != nil {
		return fmt.Errorf("boot %s: already booted", c.name)
	}
	if !c.mounted {
		return fmt.Errorf("boot %s: %w", c.name, ErrNotBooted)
	}
	if err := c.start(); err != nil {
		return fmt.Errorf("boot %s: %w", c.name, err)
	}
	if err := c.waitRunning(ctx); err != nil {
		return fmt.Errorf("boot %s: %w", c.name, err)
	}
	return nil
}

// start creates the container's cgroups and starts systemd-nspawn from a
// shell that has moved itself into them.
func (c *Container) start() error {
	hs, err := cgroupHierarchies()
	if err != nil {
		return err
	}
	var procs []string
	for _, h := range hs {
		d := h.child(c.name)
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		c.cgroups = append(c.cgroups, d)
		procs = append(procs, filepath.Join(d, "cgroup.procs"))
	}
	if err := c.writeState(); err != nil {
		return err
	}

	log, err := os.Create(c.logPath())
	if err != nil {
		return err
	}
	c.logFile = log
	// The shell writes its own PID into each cgroup.procs given before
	// "--", then becomes systemd-nspawn, so that nspawn and the container
	// start inside the container's own cgroups.
	const script = `while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"`
	args := append([]string{"-c", script, "sh"}, procs...)
	args = append(args, "--", "systemd-nspawn",
		"-D", c.Root(),
		"-M", c.name,
		"--register=no",
		"--link-journal=no",
		"--keep-unit",
		"--private-network",
		"--console=read-only",
		"-b")
	cmd := exec.Command("sh", args...)
	cmd.Stdout = log
	cmd.Stderr = log
	// The container's console goes to the log file: no colours in it.
	cmd.Env = append(os.Environ(), "TERM=dumb")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Out of the caller's process group, so that a Ctrl-C in a
		// terminal reaches the caller, which tears the container down
		// in order, and not systemd-nspawn.
		Setpgid: true,
		// Should the caller die without calling Close, the container
		// powers off; RemoveStale removes what is left.
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start systemd-nspawn: %w", err)
	}
	c.nspawn = cmd
	c.exited = make(chan struct{})
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c.writeState()
}

// waitRunning polls systemd in the container until it reports running or
// degraded.
func (c *Container) waitRunning(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.bootTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var initPID int
	state := "not started"
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("systemd-nspawn exited (%v) while booting\n%s", c.waitErr, c.logTail(40))
		case <-ctx.Done():
			return fmt.Errorf("wait for systemd (state %q): %w\n%s", state, ctx.Err(), c.diagnose(initPID))
		case <-tick.C:
		}
		if initPID == 0 {
			pid, err := findChild(c.nspawn.Process.Pid, "systemd")
			if err != nil {
				return err
			}
			if pid == 0 {
				continue
			}
			initPID = pid
			state = "started"
		}
		qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
		out, _ := nsenterCommand(qctx, initPID, "systemctl", "is-system-running").Output()
		qcancel()
		if s := strings.TrimSpace(string(out)); s != "" {
			state = s
		}
		switch state {
		case "running", "degraded":
			c.mu.Lock()
			c.initPID = initPID
			c.mu.Unlock()
			return c.writeState()
		case "maintenance", "stopping":
			return fmt.Errorf("systemd is %s instead of booting\n%s", state, c.diagnose(initPID))
		}
	}
}

// diagnose describes why a boot is stuck: the tail of systemd-nspawn's log
// and systemd's pending jobs.
func (c *Container) diagnose(initPID int) string {
	var b strings.Builder
	b.WriteString(c.logTail(40))
	if initPID != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out, err := nsenterCommand(ctx, initPID, "systemctl", "list-jobs", "--no-pager").CombinedOutput()
		fmt.Fprintf(&b, "\n--- systemctl list-jobs (%v) ---\n%s", err, out)
	}
	return b.String()
}

func (c *Container) logPath() string { return filepath.Join(c.dir, "nspawn.log") }

// LogTail returns the last n lines systemd-nspawn wrote: the container's
// console, which shows the units systemd started and stopped.
func (c *Container) LogTail(n int) string {
	data, err := os.ReadFile(c.logPath())
	if err != nil {
		return fmt.Sprintf("(no systemd-nspawn log: %v)", err)
	}
	// The console is a pseudo-terminal: lines end in "\r\r\n".
	text := strings.ReplaceAll(string(data), "\r", "")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (c *Container) logTail(n int) string {
	return "--- systemd-nspawn log, last lines ---\n" + c.LogTail(n)
}

// Close tears the container down: it asks systemd-nspawn (by the PID it was
// started with) to power the container off, kills the container's init if
// that takes longer than 30 s, unmounts the overlay (lazily as a last
// resort), removes the cgroups, the container's directory and
// /run/systemd/nspawn/propagate/NAME. It kills no other process. Close is
// idempotent: later calls return the first call's result.
func (c *Container) Close() error {
	c.closeOnce.Do(func() { c.closeErr = c.teardown() })
	return c.closeErr
}

func (c *Container) teardown() error {
	var errs []error
	if err := c.stop(); err != nil {
		errs = append(errs, err)
	}
	if c.logFile != nil {
		c.logFile.Close()
	}
	if err := c.removeLeftovers(); err != nil {
		errs = append(errs, err)
	}
	c.mounted = false
	if c.lock != nil {
		c.lock.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tear down container %s: %w", c.name, err)
	}
	return nil
}

// stop makes systemd-nspawn exit: SIGTERM (the container powers off), then
// SIGKILL to the container's init, then SIGKILL to systemd-nspawn.
func (c *Container) stop() error {
	c.mu.Lock()
	initPID := c.initPID
	c.initPID = 0
	c.mu.Unlock()
	if c.nspawn == nil {
		return nil
	}
	// systemd-nspawn is this process's child and is reaped only by the
	// goroutine that closes c.exited, so its PID cannot be reused before.
	pid := c.nspawn.Process.Pid
	select {
	case <-c.exited:
		return nil
	default:
	}
	if err := c.nspawn.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop systemd-nspawn %d: %w", pid, err)
	}
	if c.waitExit(stopTimeout) {
		return nil
	}
	if initPID == 0 {
		initPID, _ = findChild(pid, "systemd")
	} else if p, _ := findChild(pid, "systemd"); p != initPID {
		initPID = 0 // not (or no longer) nspawn's child: not ours to kill
	}
	if initPID != 0 {
		// Killing a PID namespace's init kills every process in it.
		syscall.Kill(initPID, syscall.SIGKILL)
		if c.waitExit(killTimeout) {
			return fmt.Errorf("container did not power off within %v; killed its init %d", stopTimeout, initPID)
		}
	}
	c.nspawn.Process.Kill()
	if c.waitExit(killTimeout) {
		return fmt.Errorf("container did not power off within %v; killed systemd-nspawn %d", stopTimeout, pid)
	}
	return fmt.Errorf("systemd-nspawn %d did not exit after SIGKILL", pid)
}

func (c *Container) waitExit(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.exited:
		return true
	case <-t.C:
		return false
	}
}

// removeLeftovers unmounts the overlay and removes the cgroups, the
// propagation directory and the container's directory. It is shared with
// RemoveStale and relies only on the container's recorded state.
func (c *Container) removeLeftovers() error {
	var errs []error
	if err := unmountOverlay(c.Root()); err != nil {
		errs = append(errs, err)
	}
	for i := len(c.cgroups) - 1; i >= 0; i-- {
		if err := removeCgroup(c.cgroups[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join("/run/systemd/nspawn/propagate", c.name)); err != nil {
		errs = append(errs, err)
	}
	// Never remove the directory while the overlay of the host's / might
	// still be mounted in it.
	if mounted, err := isMountpoint(c.Root()); err != nil {
		errs = append(errs, err)
	} else if mounted {
		errs = append(errs, fmt.Errorf("keep %s: %s is still mounted", c.dir, c.Root()))
	} else if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
