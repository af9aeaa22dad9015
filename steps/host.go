package steps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/provision-dev/provision/internal/crash"
	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/internal/rootfs"
)

// Host is the machine (or directory tree) being converged. It holds no
// memory of runs: Run keeps what one run learns in state of its own.
type Host struct {
	// Root is the host's root directory: "/" online, the tree with --root.
	Root string
	// Systemd is the running service manager; nil when Offline.
	Systemd Systemd
	// Offline is true with --root: users are made with --root, [Install]
	// links are made as systemctl --root makes them, and nothing is
	// reloaded, started or stopped.
	Offline bool
	// Exec runs a helper command (useradd, visudo, ...) and returns its
	// combined output; tests replace it.
	Exec func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Settle is how long a service with Restart= is watched after a start
	// or restart that systemd reported done, to fail one that does not
	// stay up (see ensureService); 0 does not watch.
	Settle time.Duration
	// Connected, when set, waits until Systemd can be used and returns
	// the error that stops it: online, the connection to systemd is
	// still being made while the first steps check their files (see Run).
	Connected func() error
}

// NewHost returns a Host for root ("/" for the running system) that runs
// helper commands with ExecCommand. sd nil means an offline tree.
func NewHost(root string, sd Systemd) *Host {
	return &Host{Root: root, Systemd: sd, Offline: sd == nil, Exec: ExecCommand}
}

// ErrInterrupted is wrapped by the error of a step, or of a helper
// command, stopped because the run was interrupted (SIGINT, SIGTERM: its
// context was canceled).
var ErrInterrupted = errors.New("interrupted")

// helperGrace is how long a helper command has to exit after it was told
// to stop (SIGTERM), before it is killed.
const helperGrace = 5 * time.Second

// ExecCommand runs name with args, in a clean environment (PATH set to
// distro.Path, LC_ALL=C) and in a process group of its own, and returns
// its combined output. A non-zero exit is an error that carries the
// output. When ctx is canceled (the run is interrupted), the helper's
// process group gets SIGTERM, and SIGKILL if the helper has not exited
// helperGrace later; the error then wraps ErrInterrupted, whatever the
// helper printed, and no helper is left running.
func ExecCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=" + distro.Path, "LC_ALL=C"}
	if env, ok := ctx.Value(helperEnvKey{}).([]string); ok {
		cmd.Env = append(cmd.Env, env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = helperGrace
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		// Whatever is left of the group (a grandchild) goes with it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		return out, fmt.Errorf("%s: %w", name, ErrInterrupted)
	}
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		return out, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return out, nil
}

// runState is what one Run learns of the host, shared by its steps: caches
// that a step which changes the underlying thing clears.
type runState struct {
	host *Host
	// accounts and groups cache /etc/passwd and /etc/group until a helper
	// command runs.
	accounts map[string]account
	groups   map[string]group
	// states caches unit states until a step changes systemd.
	states map[string]UnitState
	// links caches the [Install] links under /etc/systemd/system; the
	// step that changes one updates it.
	links *installLinks
	// system caches the system state for the run's starts.
	system SystemState
	// dirs keeps the directories the run's file operations opened (see
	// rootfs.Dirs); Run closes them.
	dirs *rootfs.Dirs
	// sudoers holds what the run did with each sudoers batch.
	sudoers map[*sudoersBatch]*sudoersRun
	// configs holds what systemd loaded for the units the run's reload
	// touched, read right after it (see readConfigs).
	configs map[string]configRead
	// reloading is closed when the reload under way in the background
	// is done; nil when there is none (see daemonReload).
	reloading chan struct{}
	// syncs makes the run's changes of directories durable in groups
	// (see syncDirLater); nil with crash points armed, which need each
	// fsync in its place.
	syncs *rootfs.DirSyncs
}

// fs is the host's file system, with its root-safe operations.
func (e *Env) fs() rootfs.FS {
	fs := rootfs.FS{Root: e.Host.Root, Dirs: e.run.dirs}
	if e.converging && e.run.syncs != nil {
		fs.SyncDir = e.syncDirLater
	}
	return fs
}

// syncDirLater is rootfs.FS.SyncDir while a step converges: the
// directory's fsync is one of the run's grouped ones (rootfs.DirSyncs),
// and the step's result waits for it (see deferred). A hundred unit files
// cost a few fsyncs of /etc/systemd/system instead of a hundred.
func (e *Env) syncDirLater(dirfd int, dir string) error {
	ready, wait, err := e.run.syncs.Request(dirfd, dir)
	if err != nil {
		return err
	}
	e.later(deferred{ready: ready, wait: wait})
	return nil
}

func (e *Env) root() string {
	if e.Host.Root == "" {
		return "/"
	}
	return e.Host.Root
}

// exec runs a helper command. Crash points sit before and after it.
func (e *Env) exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	if crash.Enabled {
		cmd := strings.Join(append([]string{name}, args...), " ")
		crash.Point("run", cmd, "about to start")
		defer crash.Point("run", cmd, "exited")
	}
	// A helper may have changed the account databases, and directories
	// (useradd -m, userdel -r): read them again.
	e.run.accounts, e.run.groups = nil, nil
	defer e.run.dirs.Forget()
	if e.run.reloading != nil {
		select {
		case <-e.run.reloading:
		default:
			// systemd does not answer while it reloads: a helper
			// that looks up a name the account files lack (useradd
			// making it) would wait for its userdb until the reload
			// is over. Dynamic users (DynamicUser=) are left out of
			// its lookups meanwhile.
			ctx = withHelperEnv(ctx, "SYSTEMD_BYPASS_USERDB=io.systemd.DynamicUser")
		}
	}
	return e.Host.Exec(ctx, name, args...)
}

type helperEnvKey struct{}

// withHelperEnv returns ctx with NAME=VALUE added to the environment
// ExecCommand gives helpers.
func withHelperEnv(ctx context.Context, kv string) context.Context {
	env, _ := ctx.Value(helperEnvKey{}).([]string)
	return context.WithValue(ctx, helperEnvKey{}, append(slices.Clip(env), kv))
}

// account is a line of /etc/passwd.
type account struct {
	name  string
	uid   int
	gid   int
	home  string
	shell string
}

// group is a line of /etc/group.
type group struct {
	name    string
	gid     int
	members []string
}

// accounts reads the host's /etc/passwd. Only local accounts count:
// provision creates them with useradd, which writes this file.
func (e *Env) accounts() (map[string]account, error) {
	if e.run.accounts != nil {
		return e.run.accounts, nil
	}
	m := map[string]account{}
	err := readColonFile(e.fs().HostPath("/etc/passwd"), 7, func(f []string) {
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			m[f[0]] = account{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]}
		}
	})
	if err == nil {
		e.run.accounts = m
	}
	return m, err
}

// groups reads the host's /etc/group.
func (e *Env) groups() (map[string]group, error) {
	if e.run.groups != nil {
		return e.run.groups, nil
	}
	m := map[string]group{}
	err := readColonFile(e.fs().HostPath("/etc/group"), 4, func(f []string) {
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		m[f[0]] = group{name: f[0], gid: gid, members: members}
	})
	if err == nil {
		e.run.groups = m
	}
	return m, err
}

func readColonFile(path string, fields int, fn func([]string)) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < fields {
			continue
		}
		fn(f)
	}
	return sc.Err()
}

// owner resolves user and group names to ids on the host. ok is false
// when either does not exist (yet).
func (e *Env) owner(user, grp string) (uid, gid int, ok bool, err error) {
	accts, err := e.accounts()
	if err != nil {
		return 0, 0, false, err
	}
	grps, err := e.groups()
	if err != nil {
		return 0, 0, false, err
	}
	a, okU := accts[user]
	g, okG := grps[grp]
	return a.uid, g.gid, okU && okG, nil
}

// ownerNames names uid and gid for a diff, by number when unknown.
func (e *Env) ownerNames(uid, gid int) string {
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	if accts, err := e.accounts(); err == nil {
		for _, a := range accts {
			if a.uid == uid {
				u = a.name
				break
			}
		}
	}
	if grps, err := e.groups(); err == nil {
		for _, gr := range grps {
			if gr.gid == gid {
				g = gr.name
				break
			}
		}
	}
	return u + ":" + g
}

// states returns the state of units, from this run's cache when no step
// has changed systemd since it was read.
func (e *Env) states(ctx context.Context, units ...string) ([]UnitState, error) {
	if e.Host.Systemd == nil {
		return nil, errors.New("no service manager")
	}
	out := make([]UnitState, len(units))
	var missing []string
	for i, u := range units {
		st, ok := e.run.states[u]
		if !ok {
			missing = append(missing, u)
			continue
		}
		out[i] = st
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := e.Host.Systemd.States(ctx, missing...)
	if err != nil {
		return nil, err
	}
	if e.run.states == nil {
		e.run.states = map[string]UnitState{}
	}
	for _, st := range got {
		e.run.states[st.Name] = st
	}
	for i, u := range units {
		st, ok := e.run.states[u]
		if !ok {
			return nil, fmt.Errorf("systemd did not report the state of %s", u)
		}
		out[i] = st
	}
	return out, nil
}

// forgetStates drops the cached unit states, after a change to systemd.
func (e *Env) forgetStates() { e.run.states = nil }
