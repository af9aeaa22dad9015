//go:build systemd

// These tests drive the real systemd of the machine they run on: they write
// unit files named dbusctl-test-*.service under /etc/systemd/system, start
// and stop them, and remove them afterwards. They run only as root where
// systemd is PID 1; build them with -tags systemd, e.g. as a test binary
// (go test -c -tags systemd ./dbusctl) run inside a throwaway container.
package dbusctl_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/internal/distro"
)

const unitDir = "/etc/systemd/system"

// sleeper runs until stopped, says when its trap is set and logs the
// SIGTSTP it receives. Repeated restarts do not run into systemd's start
// limit.
const sleeper = `[Unit]
Description=dbusctl test sleeper
StartLimitIntervalSec=0

[Service]
ExecStart=/bin/sh -c 'trap "echo caught TSTP" TSTP; echo trap set; while :; do sleep 0.1; done'

[Install]
WantedBy=multi-user.target
`

// connect skips the test unless systemd runs as PID 1 and the test as root,
// and returns a connection closed at the end of the test.
func connect(t *testing.T) *dbusctl.Conn {
	t.Helper()
	if _, err := os.Stat("/run/systemd/system"); err != nil {
		t.Skip("systemd is not running as PID 1")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	c, err := dbusctl.Connect(context.Background())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// writeUnits writes unit files and reloads systemd. At the end of the test
// the units are stopped and disabled, their files removed and systemd
// reloaded again.
func writeUnits(t *testing.T, c *dbusctl.Conn, units map[string]string) {
	t.Helper()
	ctx := context.Background()
	names := make([]string, 0, len(units))
	for name, body := range units {
		names = append(names, name)
		if err := os.WriteFile(filepath.Join(unitDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, name := range names {
			_ = c.Stop(ctx, name)
			_ = os.Remove(filepath.Join(unitDir, name))
			// A failed unit stays loaded until its failure is reset.
			_ = exec.Command("systemctl", "reset-failed", name).Run()
		}
		if err := c.Reload(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
}

func state(t *testing.T, c *dbusctl.Conn, unit string) dbusctl.UnitState {
	t.Helper()
	s, err := c.State(context.Background(), unit)
	if err != nil {
		t.Fatalf("State(%s): %v", unit, err)
	}
	return s
}

// journal returns what the journal holds for unit.
func journal(t *testing.T, unit string) string {
	t.Helper()
	out, err := exec.Command(distro.Journalctl, "-u", unit, "--no-pager", "-o", "cat").CombinedOutput()
	if err != nil {
		t.Fatalf("journalctl -u %s: %v\n%s", unit, err, out)
	}
	return string(out)
}

// waitJournal waits up to 10 s for unit's journal to hold text more than
// seen times.
func waitJournal(t *testing.T, unit, text string, seen int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(journal(t, unit), text) <= seen {
		if time.Now().After(deadline) {
			t.Fatalf("no new %q in the journal of %s:\n%s", text, unit, journal(t, unit))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSystemdLifecycle(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	const demo = "dbusctl-test-demo.service"
	writeUnits(t, c, map[string]string{demo: sleeper})

	s := state(t, c, demo)
	if s.Name != demo || (s.LoadState != "loaded" && s.LoadState != "") || s.ActiveState != "inactive" || s.UnitFileState != "disabled" || s.MainPID != 0 {
		t.Fatalf("fresh unit: %+v", s)
	}

	if err := c.Start(ctx, demo); err != nil {
		t.Fatalf("Start: %v", err)
	}
	s = state(t, c, demo)
	if !s.Active() || s.SubState != "running" || s.MainPID == 0 {
		t.Fatalf("after Start: %+v", s)
	}
	firstPID := s.MainPID

	traps := strings.Count(journal(t, demo), "trap set")
	if err := c.Restart(ctx, demo); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	s = state(t, c, demo)
	if !s.Active() || s.MainPID == 0 || s.MainPID == firstPID {
		t.Fatalf("after Restart: %+v, first MainPID %d", s, firstPID)
	}

	// SIGTSTP's default action would be dropped: a service's process group
	// is orphaned. The shell catches it, as Sidekiq does, once it has set
	// its trap: a Type=simple start is done before the shell runs it.
	waitJournal(t, demo, "trap set", traps)
	caught := strings.Count(journal(t, demo), "caught TSTP")
	if err := c.Kill(ctx, demo, syscall.SIGTSTP); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	waitJournal(t, demo, "caught TSTP", caught)

	if err := c.Stop(ctx, demo); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if s := state(t, c, demo); s.Active() || s.MainPID != 0 {
		t.Fatalf("after Stop: %+v", s)
	}

	// TryRestart leaves a stopped unit stopped.
	if err := c.TryRestart(ctx, demo); err != nil {
		t.Fatalf("TryRestart of a stopped unit: %v", err)
	}
	if s := state(t, c, demo); s.Active() {
		t.Fatalf("TryRestart started a stopped unit: %+v", s)
	}
	// and restarts a running one.
	if err := c.Start(ctx, demo); err != nil {
		t.Fatal(err)
	}
	before := state(t, c, demo).MainPID
	if err := c.TryRestart(ctx, demo); err != nil {
		t.Fatalf("TryRestart: %v", err)
	}
	if s := state(t, c, demo); !s.Active() || s.MainPID == before {
		t.Fatalf("after TryRestart: %+v, MainPID before %d", s, before)
	}

	// Killing a unit that is not running is an error systemd words as
	// "not loaded".
	if err := c.Stop(ctx, demo); err != nil {
		t.Fatal(err)
	}
	if err := c.Kill(ctx, demo, syscall.SIGTSTP); err == nil {
		t.Error("Kill of a stopped unit succeeded")
	} else {
		t.Logf("Kill of a stopped unit: %v", err)
	}
}

func TestSystemdStartFailure(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	const (
		execUnit   = "dbusctl-test-exec.service"
		simpleUnit = "dbusctl-test-simple.service"
	)
	writeUnits(t, c, map[string]string{
		execUnit:   "[Service]\nType=exec\nExecStart=/nonexistent\n",
		simpleUnit: "[Service]\nExecStart=/nonexistent\n",
	})

	for _, op := range []struct {
		name string
		run  func(context.Context, string) error
	}{{"Start", c.Start}, {"Restart", c.Restart}} {
		err := op.run(ctx, execUnit)
		var jerr *dbusctl.JobError
		if !errors.As(err, &jerr) || !errors.Is(err, dbusctl.ErrJobFailed) {
			t.Fatalf("%s of a unit whose binary is missing = %v, want a JobError for a failed job", op.name, err)
		}
		if jerr.Unit != execUnit || jerr.Result != dbusctl.ResultFailed {
			t.Errorf("%s: JobError %+v", op.name, jerr)
		}
		msg := err.Error()
		if !strings.Contains(msg, "\nlast journal lines:\n    ") || !strings.Contains(msg, "/nonexistent") {
			t.Errorf("%s error does not carry the journal:\n%s", op.name, msg)
		}
		t.Logf("%s error:\n%s", op.name, msg)
	}

	// With Type=simple systemd reports the start job done once the process
	// is forked; Start watches the unit until ExecStart= has run, so the
	// missing binary is a failed start all the same (see Conn.Start).
	err := c.Start(ctx, simpleUnit)
	var jerr *dbusctl.JobError
	if !errors.As(err, &jerr) || !errors.Is(err, dbusctl.ErrJobFailed) || jerr.Unit != simpleUnit {
		t.Fatalf("Start of a Type=simple unit whose binary is missing = %v, want a JobError for a failed job", err)
	}
	if s := state(t, c, simpleUnit); s.ActiveState != "failed" {
		t.Errorf("Type=simple unit with a missing binary: %+v, want failed", s)
	}
}

// Loaded lists the loaded units matching a pattern, and loads none.
func TestSystemdLoaded(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	const tmpl = "dbusctl-test-tmpl@.service"
	writeUnits(t, c, map[string]string{tmpl: sleeper})
	for _, u := range []string{"dbusctl-test-tmpl@1.service", "dbusctl-test-tmpl@2.service"} {
		if err := c.Start(ctx, u); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Stop(ctx, u) })
	}
	got, err := c.Loaded(ctx, "dbusctl-test-tmpl@*.service")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		if s.ActiveState != "active" {
			t.Errorf("%s: %+v, want active", s.Name, s)
		}
		names = append(names, s.Name)
	}
	if want := []string{"dbusctl-test-tmpl@1.service", "dbusctl-test-tmpl@2.service"}; !slices.Equal(names, want) {
		t.Errorf("Loaded = %q, want %q", names, want)
	}
	if got, err := c.Loaded(ctx, "dbusctl-test-tmpl@3*.service"); err != nil || len(got) != 0 {
		t.Errorf("Loaded of an instance that never ran = %+v, %v; want none", got, err)
	}
}

func TestSystemdNoSuchUnit(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	const missing = "dbusctl-test-missing.service"

	if err := c.Start(ctx, missing); !errors.Is(err, dbusctl.ErrNoSuchUnit) {
		t.Errorf("Start of a missing unit = %v, want ErrNoSuchUnit", err)
	}
	states, err := c.States(ctx, missing, "dbus.service")
	if err != nil {
		t.Fatalf("States with a missing unit: %v", err)
	}
	if s := states[0]; s.Name != missing || s.LoadState != "not-found" || s.UnitFileState != "" || s.NeedDaemonReload || s.MainPID != 0 {
		t.Errorf("missing unit: %+v", s)
	}
	if s := states[1]; s.Name != "dbus.service" || s.LoadState != "loaded" {
		t.Errorf("dbus.service after a missing unit: %+v", s)
	}
}

func TestSystemdNeedDaemonReload(t *testing.T) {
	c := connect(t)
	const demo = "dbusctl-test-reload.service"
	writeUnits(t, c, map[string]string{demo: sleeper})
	// systemd drops units that are inactive and unreferenced, and loads them
	// afresh from disk the next time they are asked for: only a unit that
	// stays loaded can be out of date.
	if err := c.Start(context.Background(), demo); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, demo); s.NeedDaemonReload {
		t.Fatalf("fresh unit needs a reload: %+v", s)
	}
	// Make sure the new mtime differs from the loaded one.
	later := time.Now().Add(2 * time.Second)
	path := filepath.Join(unitDir, demo)
	if err := os.WriteFile(path, []byte(strings.Replace(sleeper, "sleeper", "sleeper, changed", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, demo); !s.NeedDaemonReload {
		t.Fatalf("changed unit file: %+v, want NeedDaemonReload", s)
	}
	if err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := state(t, c, demo); s.NeedDaemonReload {
		t.Fatalf("after Reload: %+v", s)
	}
}

func TestSystemdJobWait(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	// Type=notify without anything notifying: the start job stays queued
	// until TimeoutStartSec.
	const never = "dbusctl-test-never-ready.service"
	writeUnits(t, c, map[string]string{never: "[Service]\nType=notify\nExecStart=/bin/sleep infinity\nTimeoutStartSec=60\n"})

	c.JobTimeout = 300 * time.Millisecond
	start := time.Now()
	err := c.Start(ctx, never)
	var jerr *dbusctl.JobError
	if !errors.As(err, &jerr) || !errors.Is(err, dbusctl.ErrJobTimeout) || jerr.Waited != c.JobTimeout {
		t.Fatalf("Start of a unit that never gets ready = %v, want a JobError after %s", err, c.JobTimeout)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Start returned after %s, JobTimeout is %s", d, c.JobTimeout)
	}
	if s := state(t, c, never); s.ActiveState != "activating" {
		t.Errorf("after giving up waiting: %+v, want activating", s)
	}
	t.Logf("JobTimeout error: %v", err)

	// The caller's deadline ends the wait too, with the context's error.
	c.JobTimeout = time.Minute
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	err = c.Restart(short, never)
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &jerr) {
		t.Fatalf("Restart with a short context = %v, want context.DeadlineExceeded", err)
	}

	// The abandoned jobs end later ("canceled" by the stop job); their
	// results must not wedge the connection.
	if err := c.Stop(ctx, never); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := c.Stop(ctx, never); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if s := state(t, c, never); s.Active() {
		t.Fatalf("after Stop: %+v", s)
	}
}

func TestSystemdStartNoWait(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	const never = "dbusctl-test-nowait.service"
	writeUnits(t, c, map[string]string{never: "[Service]\nType=notify\nExecStart=/bin/sleep infinity\nTimeoutStartSec=60\n"})
	start := time.Now()
	if err := c.StartNoWait(ctx, never); err != nil {
		t.Fatalf("StartNoWait: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("StartNoWait took %s", d)
	}
	if s := state(t, c, never); s.ActiveState != "activating" && s.Job != "start" {
		t.Errorf("after StartNoWait: %+v, want a start job or activating", s)
	}
}

// TestSystemdSystemBus connects through the D-Bus daemon instead of the
// private socket, and checks that job results arrive there too.
func TestSystemdSystemBus(t *testing.T) {
	connect(t)
	if _, err := os.Stat("/run/dbus/system_bus_socket"); err != nil {
		t.Skip("no system bus")
	}
	old := *dbusctl.PrivateSocketForTest
	*dbusctl.PrivateSocketForTest = filepath.Join(t.TempDir(), "no-such-socket")
	c, err := dbusctl.Connect(context.Background())
	*dbusctl.PrivateSocketForTest = old
	if err != nil {
		t.Fatalf("Connect through the system bus: %v", err)
	}
	t.Cleanup(c.Close)
	c.JobTimeout = 10 * time.Second

	const demo = "dbusctl-test-bus.service"
	writeUnits(t, c, map[string]string{demo: sleeper})
	if err := c.Start(context.Background(), demo); err != nil {
		t.Fatalf("Start through the system bus: %v", err)
	}
	if err := c.Stop(context.Background(), demo); err != nil {
		t.Fatalf("Stop through the system bus: %v", err)
	}
}

// TestSystemdTimings logs what the calls cost (the benchmarks of make bench
// hold the targets); it fails only when a call does.
func TestSystemdTimings(t *testing.T) {
	connect(t)
	ctx := context.Background()

	start := time.Now()
	c, err := dbusctl.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Connect: %s", time.Since(start))
	t.Cleanup(c.Close)

	units := map[string]string{}
	var names []string
	for i := range 10 {
		name := fmt.Sprintf("dbusctl-test-timing-%d.service", i)
		units[name] = sleeper
		names = append(names, name)
	}
	writeUnits(t, c, units)
	t.Logf("Reload: %s", median(t, 5, func() error { return c.Reload(ctx) }))
	for _, name := range names {
		if err := c.Start(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("Restart: %s", median(t, 5, func() error { return c.Restart(ctx, names[0]) }))
	for _, n := range []int{1, 10} {
		d := median(t, 51, func() error { _, err := c.States(ctx, names[:n]...); return err })
		t.Logf("States of %d units: %s", n, d)
	}
}

// median runs f n times and returns the median duration.
func median(t *testing.T, n int, f func() error) time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[n/2]
}

// Config reads back what systemd loaded, drop-ins included, in types
// provision compares with the spec; a unit that does not load says why.
func TestSystemdConfig(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	const (
		full = "dbusctl-test-config.service"
		bad  = "dbusctl-test-bad.service"
	)
	writeUnits(t, c, map[string]string{
		full: `[Unit]
Description=config for 50%% %n

[Service]
Type=exec
User=nobody
Group=nogroup
WorkingDirectory=/tmp
Environment="A=b c" D=e
EnvironmentFile=-/etc/dbusctl-test.env
ExecStart=@/bin/sleep sleep-argv0 "infinity"
Restart=on-failure
RestartSec=1.5s
SyslogIdentifier=cfg

[Install]
WantedBy=multi-user.target
`,
		bad: "[Service]\nExecStart=relative/path\n",
	})
	dropin := filepath.Join(unitDir, full+".d", "override.conf")
	if err := os.MkdirAll(filepath.Dir(dropin), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(dropin)) })
	if err := os.WriteFile(dropin, []byte("[Service]\nUser=root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.Config(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	want := dbusctl.UnitConfig{
		Name: full, LoadState: "loaded",
		FragmentPath: filepath.Join(unitDir, full), DropInPaths: []string{dropin},
		Description: "config for 50% " + full,
		Type:        "exec", User: "root", Group: "nogroup", WorkingDirectory: "/tmp",
		Environment:      []string{"A=b c", "D=e"},
		EnvironmentFiles: []dbusctl.EnvironmentFile{{Path: "/etc/dbusctl-test.env", IgnoreMissing: true}},
		ExecStart:        []dbusctl.ExecCommand{{Path: "/bin/sleep", Argv: []string{"sleep-argv0", "infinity"}}},
		Restart:          "on-failure", RestartUSec: 1500000, SyslogIdentifier: "cfg",
	}
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("Config:\n%+v\nwant:\n%+v", cfg, want)
	}
	cfg, err = c.Config(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LoadState != "bad-setting" || cfg.LoadError == "" || len(cfg.Journal) == 0 {
		t.Errorf("a unit with a bad setting: %+v", cfg)
	}
	t.Logf("bad setting: %s; journal %q", cfg.LoadError, cfg.Journal)
}
