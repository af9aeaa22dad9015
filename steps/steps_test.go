package steps

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/spec"
)

// testHost returns a Host rooted in a temporary directory that has an
// /etc/passwd and /etc/group in which every name maps to the ids of the
// user running the test, so ownership can be set without privileges.
// Its Exec edits those files the way groupadd, useradd and usermod do and
// runs visudo for real when it is installed.
func testHost(t *testing.T) (*Host, *fakeSystemd) {
	t.Helper()
	h, sd, _ := testHostShadow(t)
	return h, sd
}

// testHostShadow is testHost that also returns the fake helper commands.
func testHostShadow(t *testing.T) (*Host, *fakeSystemd, *fakeShadow) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"etc/sudoers.d", "etc/systemd/system", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	uid, gid := os.Getuid(), os.Getgid()
	writeTestFile(t, root, "etc/passwd", fmt.Sprintf("root:x:%d:%d:root:/root:/bin/bash\n", uid, gid))
	writeTestFile(t, root, "etc/group", fmt.Sprintf("root:x:%d:\n", gid))
	sd := newFakeSystemd()
	sd.root = root
	h := &Host{Root: root, Systemd: sd}
	shadow := &fakeShadow{t: t, root: root, uid: uid, gid: gid}
	h.Exec = shadow.exec
	return h, sd, shadow
}

func writeTestFile(t *testing.T, root, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeShadow stands in for shadow-utils, which need root: it appends and
// edits lines of the temporary root's passwd and group files.
type fakeShadow struct {
	t        *testing.T
	root     string
	uid, gid int
	calls    []string
	// sudoDenies lists commands the fake sudo -l refuses.
	sudoDenies []string
	// listing is what the fake sudo -ll prints.
	listing string
	// wholeRejects, when set, is what visudo -c (the whole
	// configuration) says as it fails.
	wholeRejects string
	// wrapperRejects, when set, is what visudo -c -f says as it fails
	// of a file that includes others (the run's drop-ins together).
	wrapperRejects string
	// included collects the content of the files such a wrapper
	// includes, in order.
	included []string
}

func (f *fakeShadow) exec(ctx context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if name == distro.Visudo {
		if _, err := os.Stat("/usr/sbin/visudo"); err != nil {
			return nil, nil
		}
		if !slices.Contains(args, "-f") {
			if f.wholeRejects != "" {
				return []byte(f.wholeRejects), fmt.Errorf("visudo: exit status 1")
			}
			return nil, nil // the whole host configuration is not this test's
		}
		file, _ := os.ReadFile(args[len(args)-1])
		if includes := strings.Count(string(file), "@include "); includes > 0 {
			for _, line := range strings.Split(strings.TrimSpace(string(file)), "\n") {
				data, _ := os.ReadFile(strings.TrimPrefix(line, "@include "))
				f.included = append(f.included, string(data))
			}
			if f.wrapperRejects != "" {
				return []byte(f.wrapperRejects), fmt.Errorf("visudo: exit status 1")
			}
		}
		return ExecCommand(ctx, "/usr/sbin/visudo", args...)
	}
	if name == distro.Sudo {
		if args[1] == "-ll" {
			return []byte(f.listing), nil
		}
		if slices.Contains(f.sudoDenies, strings.Join(args[4:], " ")) {
			return nil, fmt.Errorf("sudo: exit status 1")
		}
		return nil, nil
	}
	opts, target := parseShadowArgs(args)
	switch name {
	case distro.Groupadd:
		f.appendLine("etc/group", fmt.Sprintf("%s:x:%d:", target, f.gid))
	case distro.Useradd:
		if _, ok := opts["-U"]; ok {
			f.appendLine("etc/group", fmt.Sprintf("%s:x:%d:", target, f.gid))
		}
		f.appendLine("etc/passwd", fmt.Sprintf("%s:x:%d:%d::%s:%s", target, f.uid, f.gid, opts["-d"], opts["-s"]))
		f.setMembership(target, opts)
		if _, ok := opts["-m"]; ok {
			os.MkdirAll(filepath.Join(f.root, opts["-d"]), 0o755)
		}
	case distro.Userdel:
		data, _ := os.ReadFile(filepath.Join(f.root, "etc/passwd"))
		var keep []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if !strings.HasPrefix(l, target+":") {
				keep = append(keep, l)
			}
		}
		writeTestFile(f.t, f.root, "etc/passwd", strings.Join(keep, "\n")+"\n")
	case distro.Usermod:
		f.editLine("etc/passwd", target, func(fields []string) {
			if v, ok := opts["-s"]; ok {
				fields[6] = v
			}
			if v, ok := opts["-d"]; ok {
				fields[5] = v
			}
		})
		f.setMembership(target, opts)
	default:
		return nil, fmt.Errorf("unexpected command %s", name)
	}
	return nil, nil
}

func parseShadowArgs(args []string) (map[string]string, string) {
	opts := map[string]string{}
	for i := 0; i < len(args)-1; i++ {
		switch args[i] {
		case "-g", "-G", "-s", "-d", "--root":
			opts[args[i]] = args[i+1]
			i++
		default:
			opts[args[i]] = ""
		}
	}
	return opts, args[len(args)-1]
}

func (f *fakeShadow) setMembership(user string, opts map[string]string) {
	want, ok := opts["-G"]
	if !ok {
		return
	}
	groups := strings.Split(want, ",")
	data, _ := os.ReadFile(filepath.Join(f.root, "etc/group"))
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		fields := strings.Split(line, ":")
		var members []string
		for _, m := range strings.Split(fields[3], ",") {
			if m != "" && m != user {
				members = append(members, m)
			}
		}
		if slices.Contains(groups, fields[0]) {
			members = append(members, user)
		}
		fields[3] = strings.Join(members, ",")
		out = append(out, strings.Join(fields, ":"))
	}
	writeTestFile(f.t, f.root, "etc/group", strings.Join(out, "\n")+"\n")
}

func (f *fakeShadow) appendLine(name, line string) {
	data, _ := os.ReadFile(filepath.Join(f.root, name))
	writeTestFile(f.t, f.root, name, string(data)+line+"\n")
}

func (f *fakeShadow) editLine(name, key string, edit func([]string)) {
	data, _ := os.ReadFile(filepath.Join(f.root, name))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for i, l := range lines {
		fields := strings.Split(l, ":")
		if fields[0] == key {
			edit(fields)
			lines[i] = strings.Join(fields, ":")
		}
	}
	writeTestFile(f.t, f.root, name, strings.Join(lines, "\n")+"\n")
}

// fakeSystemd records calls and keeps unit states in memory.
type fakeSystemd struct {
	states map[string]UnitState
	// pids are the main process ids of running units: a start or restart
	// gives a new one.
	pids map[string]int
	// mu guards calls: settle windows are watched concurrently.
	mu    sync.Mutex
	calls []string
	// startErr, when set, is returned by Start.
	startErr error
	// system is what SystemState reports; "" means running.
	system SystemState
	// crashes lists units that do not stay up after a start (see Watch).
	crashes map[string]bool
	// oneshot units go inactive again once started, having run.
	oneshot map[string]bool
	ran     map[string]bool
	// root is the tree whose unit files Config reads; edit, when set,
	// changes what Config reports, as a drop-in or a bad setting would.
	root string
	edit func(unit string, c *UnitConfig)
}

func newFakeSystemd() *fakeSystemd {
	return &fakeSystemd{states: map[string]UnitState{}, pids: map[string]int{}, oneshot: map[string]bool{}, ran: map[string]bool{}, crashes: map[string]bool{}}
}

func (f *fakeSystemd) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeSystemd) Reload(ctx context.Context) error {
	f.record("reload")
	for name, st := range f.states {
		st.NeedDaemonReload = false
		if st.LoadState == LoadUnloaded || st.LoadState == LoadNotFound {
			st.LoadState = LoadLoaded
		}
		f.states[name] = st
	}
	return nil
}

func (f *fakeSystemd) set(unit string, fn func(*UnitState)) {
	st := f.state(unit)
	fn(&st)
	f.states[unit] = st
}

func (f *fakeSystemd) state(unit string) UnitState {
	st, ok := f.states[unit]
	if !ok {
		st = UnitState{Name: unit, LoadState: LoadNotFound, ActiveState: ActiveInactive, SubState: "dead"}
	}
	return st
}

// run marks unit running with a new main process.
func (f *fakeSystemd) run(unit string) {
	f.set(unit, func(s *UnitState) {
		s.LoadState, s.ActiveState, s.SubState, s.Job = LoadLoaded, ActiveActive, "running", JobNone
	})
	f.pids[unit] += 100
}

func (f *fakeSystemd) Start(ctx context.Context, unit string) error {
	f.record("start " + unit)
	if f.startErr != nil {
		return f.startErr
	}
	f.run(unit)
	if f.oneshot[unit] {
		f.set(unit, func(s *UnitState) { s.ActiveState, s.SubState = ActiveInactive, "dead" })
		f.ran[unit] = true
	}
	return nil
}

// Config loads the unit's file from the tree as systemd would, in a
// simple model of its own: the last value of each setting, %% read as %,
// Environment= and ExecStart= split into words.
func (f *fakeSystemd) Config(ctx context.Context, unit string) (UnitConfig, error) {
	f.record("config " + unit)
	file, instance := unit, ""
	if at := strings.IndexByte(unit, '@'); at >= 0 {
		file = unit[:at+1] + ".service"
		instance = strings.TrimSuffix(unit[at+1:], ".service")
	}
	p := "/etc/systemd/system/" + file
	data, err := os.ReadFile(filepath.Join(f.root, p))
	if err != nil {
		return UnitConfig{LoadState: LoadNotFound}, nil
	}
	opts := spec.Service{Name: unit, Unit: string(data)}.Settings()
	un := func(v string) string {
		return strings.NewReplacer("%%", "%", "%i", instance, "%I", instance).Replace(v)
	}
	c := UnitConfig{LoadState: LoadLoaded, FragmentPath: p, Description: unit, Type: "simple", Restart: "no", RestartUSec: 100000}
	for _, o := range opts {
		switch o.Name {
		case "Description":
			c.Description = un(o.Value)
		case "Type":
			c.Type = o.Value
		case "User":
			c.User = o.Value
		case "Group":
			c.Group = o.Value
		case "WorkingDirectory":
			c.WorkingDirectory = un(o.Value)
		case "Restart":
			c.Restart = o.Value
		case "SyslogIdentifier":
			c.SyslogIdentifier = un(o.Value)
		case "RestartSec":
			c.RestartUSec, _ = spec.ParseTimeSpan(o.Value)
		case "EnvironmentFile":
			c.EnvironmentFiles = append(c.EnvironmentFiles, un(o.Value))
		case "Environment":
			words, _ := spec.SplitWords(o.Value)
			for _, w := range words {
				c.Environment = append(c.Environment, un(w))
			}
		case "ExecStart":
			_, words, _, _ := spec.SplitExec(o.Value)
			for i := range words {
				words[i] = un(words[i])
			}
			c.ExecStart = append(c.ExecStart, words)
		case "WantedBy":
			c.WantedBy = append(c.WantedBy, strings.Fields(o.Value)...)
		}
	}
	if f.edit != nil {
		f.edit(unit, &c)
	}
	return c, nil
}

func (f *fakeSystemd) Watch(ctx context.Context, verb, unit string, window time.Duration) error {
	f.record("watch " + unit)
	if f.crashes[unit] {
		return fmt.Errorf("%s %s: done, but the unit did not stay up", verb, unit)
	}
	return nil
}

func (f *fakeSystemd) ResetFailed(ctx context.Context, unit string) error {
	f.record("reset-failed " + unit)
	if st, ok := f.states[unit]; ok && st.ActiveState == ActiveFailed {
		delete(f.states, unit)
	}
	return nil
}

func (f *fakeSystemd) Ran(ctx context.Context, unit string) (bool, error) {
	f.record("ran " + unit)
	return f.ran[unit], nil
}

// StartNoWait queues a start job that stays queued, as one ordered after
// a boot job that is still running does.
func (f *fakeSystemd) StartNoWait(ctx context.Context, unit string) error {
	f.record("start-no-wait " + unit)
	f.set(unit, func(s *UnitState) { s.Job = JobStart })
	return nil
}

// RestartNoWait queues a restart job that stays queued, like StartNoWait.
func (f *fakeSystemd) RestartNoWait(ctx context.Context, unit string) error {
	f.record("restart-no-wait " + unit)
	f.set(unit, func(s *UnitState) { s.Job = JobRestart })
	return nil
}

func (f *fakeSystemd) SystemState(ctx context.Context) (SystemState, error) {
	f.record("system-state")
	if f.system == "" {
		return SystemRunning, nil
	}
	return f.system, nil
}

func (f *fakeSystemd) Stop(ctx context.Context, unit string) error {
	f.record("stop " + unit)
	f.set(unit, func(s *UnitState) { s.ActiveState, s.SubState, s.Job = ActiveInactive, "dead", JobNone })
	return nil
}

func (f *fakeSystemd) Restart(ctx context.Context, unit string) error {
	f.record("restart " + unit)
	f.run(unit)
	return nil
}

func (f *fakeSystemd) States(ctx context.Context, units ...string) ([]UnitState, error) {
	f.record("states")
	out := make([]UnitState, len(units))
	for i, u := range units {
		out[i] = f.state(u)
	}
	return out, nil
}

func (f *fakeSystemd) Loaded(ctx context.Context, pattern string) ([]UnitState, error) {
	f.record("loaded " + pattern)
	var out []UnitState
	for name, st := range f.states {
		if ok, _ := path.Match(pattern, name); ok && st.LoadState != LoadNotFound {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b UnitState) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// testEnv returns an Env for calling a step's helpers directly, outside a
// Run.
func testEnv(h *Host, apply bool) *Env {
	return &Env{Host: h, Apply: apply, run: &runState{host: h}}
}

// graphOf makes a graph of steps, in order, with no edges.
func graphOf(steps ...Step) *Graph {
	g := &Graph{}
	for _, s := range steps {
		g.Add(s)
	}
	return g
}

// applyTwice applies steps, expecting changes and no failure, then applies
// them again, expecting every step ok and no file modified.
func applyTwice(t *testing.T, h *Host, steps *Graph) []Result {
	t.Helper()
	first, err := Run(context.Background(), h, steps, ModeApply, nil)
	if err != nil {
		t.Fatalf("first apply: %v", err)
	}
	if Counts(first)[StatusChanged] == 0 {
		t.Fatalf("first apply changed nothing: %+v", first)
	}
	before := snapshot(t, h.Root)
	time.Sleep(10 * time.Millisecond)
	second, err := Run(context.Background(), h, steps, ModeApply, nil)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	for _, r := range second {
		if r.Status != StatusOK {
			t.Errorf("second apply: %s is %s: %+v", r.ID, r.Status, r.Changes)
		}
	}
	if after := snapshot(t, h.Root); !slices.Equal(before, after) {
		t.Errorf("second apply touched files:\nbefore %v\nafter  %v", before, after)
	}
	return first
}

// snapshot lists every path under root with its mode, size and mtime.
func snapshot(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p+" "+fi.Mode().String()+" "+strconv.FormatInt(fi.Size(), 10)+" "+fi.ModTime().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var _ = spec.DefaultPath
