package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/spec"
)

func sidekiq() spec.Service {
	return spec.Service{
		Name:        "sidekiq",
		Description: "Sidekiq",
		User:        "deploy",
		Group:       "deploy",
		ExecStart:   "/usr/bin/sidekiq -e production",
		Restart:     "on-failure",
		WantedBy:    []string{"multi-user.target"},
		State:       spec.StateStarted,
		Sudo:        &spec.ServiceSudo{Group: "deploy", Allow: []string{"restart", "quiet"}},
	}
}

func serviceSpec(svc spec.Service) *spec.Spec {
	u := deployUser()
	u.AuthorizedKeys = nil
	return &spec.Spec{Users: []spec.User{u}, Services: []spec.Service{svc}}
}

func TestServiceApplyTwice(t *testing.T) {
	h, sd := testHost(t)
	applyTwice(t, h, Build(serviceSpec(sidekiq())))
	// First run: states, reload (after the links were made), what systemd
	// loaded for the unit the reload touched (read right after it, once
	// for the run), states again (the check after the reload), the system
	// state (booting or not), start, states (the check after it). Second
	// run: one batched states call and nothing else.
	want := []string{"states", "reload", "config sidekiq.service", "states", "system-state", "start sidekiq.service", "states", "states"}
	if !slices.Equal(sd.calls, want) {
		t.Errorf("systemd calls = %q, want %q", sd.calls, want)
	}
	if st := sd.state("sidekiq.service"); !st.Active() {
		t.Errorf("state = %+v", st)
	}
	if got := wantsLinks(t, h, "multi-user.target.wants"); !slices.Equal(got, []string{"sidekiq.service -> /etc/systemd/system/sidekiq.service"}) {
		t.Errorf("links = %q", got)
	}
}

// wantsLinks lists the links in /etc/systemd/system/DIR as "NAME -> TARGET".
func wantsLinks(t *testing.T, h *Host, dir string) []string {
	t.Helper()
	full := filepath.Join(h.Root, "etc/systemd/system", dir)
	entries, err := os.ReadDir(full)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		dest, _ := os.Readlink(filepath.Join(full, e.Name()))
		names = append(names, e.Name()+" -> "+dest)
	}
	return names
}

// The links are made before the one reload, which the links notify: the
// running systemd learns of them at once. A changed wanted_by moves them,
// with one reload and no restart, and the next run changes nothing.
func TestEnableBeforeReloadAndWantedByMoves(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{}
	for _, r := range res {
		if r.Status == StatusChanged {
			order = append(order, r.ID)
		}
	}
	if i, j := slices.Index(order, "enable sidekiq.service"), slices.Index(order, "daemon-reload"); i < 0 || j < i {
		t.Errorf("changed steps %q: want the links made before the reload", order)
	}
	sd.calls = nil
	svc.WantedBy = []string{"graphical.target"}
	svc.Options = []spec.UnitOption{{Section: "Install", Name: "Alias", Value: "worker.service"}}
	res, err = Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := serviceResult(t, res, "enable sidekiq.service")
	want := "links: link /etc/systemd/system/graphical.target.wants/sidekiq.service, link /etc/systemd/system/worker.service, remove /etc/systemd/system/multi-user.target.wants/sidekiq.service"
	if r.Status != StatusChanged || len(r.Changes) != 1 || r.Changes[0].Summary != want {
		t.Errorf("enable: %s %+v\nwant %s", r.Status, r.Changes, want)
	}
	if got := wantsLinks(t, h, "multi-user.target.wants"); len(got) != 0 {
		t.Errorf("old links left: %q", got)
	}
	if got := wantsLinks(t, h, "graphical.target.wants"); !slices.Equal(got, []string{"sidekiq.service -> /etc/systemd/system/sidekiq.service"}) {
		t.Errorf("new links: %q", got)
	}
	if dest, err := os.Readlink(filepath.Join(h.Root, "etc/systemd/system/worker.service")); err != nil || dest != "/etc/systemd/system/sidekiq.service" {
		t.Errorf("alias: %q %v", dest, err)
	}
	// The unit changed too (its [Install] section), so it is restarted;
	// the reload happened once.
	if n := count(sd.calls, "reload"); n != 1 {
		t.Errorf("calls %q: %d reloads, want 1", sd.calls, n)
	}
	if res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil || Counts(res)[StatusChanged] != 0 {
		t.Errorf("apply again: %v %+v", err, res)
	}

	// Disabled: every link goes.
	svc.Enabled = new(bool)
	res, err = Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	r = serviceResult(t, res, "enable sidekiq.service")
	if len(r.Changes) != 1 || r.Changes[0].Summary != "disable: remove /etc/systemd/system/graphical.target.wants/sidekiq.service, remove /etc/systemd/system/worker.service" {
		t.Errorf("disable: %+v", r.Changes)
	}
}

// A change of links alone reloads systemd and restarts nothing.
func TestLinksAloneReloadWithoutRestart(t *testing.T) {
	h, sd := testHost(t)
	if _, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	// Removed by hand: put back, and systemd told.
	if err := os.Remove(filepath.Join(h.Root, "etc/systemd/system/multi-user.target.wants/sidekiq.service")); err != nil {
		t.Fatal(err)
	}
	sd.calls = nil
	res, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	if count(sd.calls, "reload") != 1 || slices.ContainsFunc(sd.calls, func(c string) bool { return strings.HasPrefix(c, "restart") }) {
		t.Errorf("calls %q: want one reload and no restart", sd.calls)
	}
	if r := serviceResult(t, res, "daemon-reload"); r.Changes[0].Summary != "reload systemd: links changed by enable sidekiq.service" {
		t.Errorf("reload: %+v", r.Changes)
	}
}

func count(calls []string, call string) int {
	n := 0
	for _, c := range calls {
		if c == call {
			n++
		}
	}
	return n
}

// One Host serves two runs: the second knows nothing of the first, so a
// unit changed in between gets its reload and its restart, once each.
func TestServiceRestartsOnceWhenUnitChanges(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	if _, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	pid := sd.pids["sidekiq.service"]
	sd.calls = nil
	svc.ExecStart = "/usr/bin/sidekiq -e staging"
	res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	if count(sd.calls, "reload") != 1 || count(sd.calls, "restart sidekiq.service") != 1 {
		t.Errorf("calls = %q, want exactly one reload and one restart", sd.calls)
	}
	if sd.pids["sidekiq.service"] == pid {
		t.Error("MainPID unchanged after restart")
	}
	changed := map[string]bool{}
	for _, r := range res {
		if r.Status == StatusChanged {
			changed[r.ID] = true
		}
	}
	for _, id := range []string{"unit /etc/systemd/system/sidekiq.service", "daemon-reload", "service sidekiq"} {
		if !changed[id] {
			t.Errorf("%s not reported changed: %+v", id, res)
		}
	}
	if len(changed) != 3 {
		t.Errorf("changed = %v, want only unit, daemon-reload and service", changed)
	}
}

func TestServiceReloadsUnitChangedOnDisk(t *testing.T) {
	h, sd := testHost(t)
	steps := Build(serviceSpec(sidekiq()))
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	// The unit file is right, but systemd has not loaded it (a crash
	// between writing it and reloading, or an edit put back by hand).
	sd.set("sidekiq.service", func(s *UnitState) { s.NeedDaemonReload = true })
	sd.calls = nil
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sd.calls, "reload") || !slices.Contains(sd.calls, "restart sidekiq.service") {
		t.Errorf("calls = %q, want a reload and a restart", sd.calls)
	}
}

func TestPlanChangesNothing(t *testing.T) {
	h, sd := testHost(t)
	before := snapshot(t, h.Root)
	res, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeCheck, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, h.Root); !slices.Equal(before, after) {
		t.Errorf("plan changed files")
	}
	for _, c := range sd.calls {
		if c != "states" && c != "system-state" {
			t.Errorf("plan called systemd %q", c)
		}
	}
	var got []string
	for _, r := range res {
		if r.Status != StatusChanged {
			t.Errorf("%s: %s, want change on a fresh host (%v)", r.ID, r.Status, r.Err)
		}
		got = append(got, r.ID)
	}
	want := []string{"unit /etc/systemd/system/sidekiq.service", "enable sidekiq.service", "daemon-reload",
		"user deploy", "sudoers /etc/sudoers.d/sidekiq-users", "service sidekiq"}
	if !slices.Equal(got, want) {
		t.Errorf("steps = %q, want %q", got, want)
	}
}

func TestRunnerSkipsDependentsAndReportsAll(t *testing.T) {
	h, sd := testHost(t)
	sd.startErr = errors.New("job failed")
	svc := sidekiq()
	other := sidekiq()
	other.Name, other.Sudo = "mailer", nil
	sp := serviceSpec(svc)
	sp.Services = append(sp.Services, other)
	// A directory whose parent cannot exist fails; its file is skipped.
	content := "x"
	os.WriteFile(filepath.Join(h.Root, "blocker"), nil, 0o644)
	sp.Directories = []spec.Directory{{Path: "/blocker/dir", Owner: "root", Group: "root", Mode: 0o755}}
	sp.Files = []spec.File{{Path: "/blocker/dir/f", Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
	res, err := Run(context.Background(), h, Build(sp), ModeApply, nil)
	byID := map[string]Result{}
	for _, r := range res {
		byID[r.ID] = r
	}
	if byID["directory /blocker/dir"].Status != StatusFailed || byID["file /blocker/dir/f"].Status != StatusSkipped {
		t.Errorf("directory %s, file %s; want failed, skipped", byID["directory /blocker/dir"].Status, byID["file /blocker/dir/f"].Status)
	}
	if byID["service sidekiq"].Status != StatusFailed || byID["service mailer"].Status != StatusFailed {
		t.Errorf("services: %+v %+v", byID["service sidekiq"], byID["service mailer"])
	}
	if byID["sudoers /etc/sudoers.d/sidekiq-users"].Status != StatusChanged {
		t.Errorf("independent sudoers step: %+v", byID["sudoers /etc/sudoers.d/sidekiq-users"])
	}
	msg := err.Error()
	for _, s := range []string{"directory /blocker/dir", "service sidekiq", "service mailer", "job failed"} {
		if !strings.Contains(msg, s) {
			t.Errorf("error %q does not mention %q", msg, s)
		}
	}
}

func TestOfflineEnable(t *testing.T) {
	h, _ := testHost(t)
	h.Offline, h.Systemd = true, nil
	applyTwice(t, h, Build(serviceSpec(sidekiq())))
	if got := wantsLinks(t, h, "multi-user.target.wants"); !slices.Equal(got, []string{"sidekiq.service -> /etc/systemd/system/sidekiq.service"}) {
		t.Errorf("links = %q", got)
	}
}

// A template service's instances are enabled one by one, and lowering the
// count disables the instances beyond it, found by their links; online or
// offline, the links are the same.
func TestInstancesLinks(t *testing.T) {
	for _, offline := range []bool{true, false} {
		h, _ := testHost(t)
		if offline {
			h.Offline, h.Systemd = true, nil
		}
		svc := sidekiq()
		svc.Instances = 3
		applyTwice(t, h, Build(serviceSpec(svc)))
		want := []string{
			"sidekiq@1.service -> /etc/systemd/system/sidekiq@.service",
			"sidekiq@2.service -> /etc/systemd/system/sidekiq@.service",
			"sidekiq@3.service -> /etc/systemd/system/sidekiq@.service",
		}
		if got := wantsLinks(t, h, "multi-user.target.wants"); !slices.Equal(got, want) {
			t.Fatalf("offline %v: links = %q, want %q", offline, got, want)
		}
		svc.Instances = 1
		res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := summaries2(serviceResult(t, res, "enable sidekiq@.service").Changes)
		wantChanges := []string{
			"sidekiq@2.service: disable: remove /etc/systemd/system/multi-user.target.wants/sidekiq@2.service",
			"sidekiq@3.service: disable: remove /etc/systemd/system/multi-user.target.wants/sidekiq@3.service",
		}
		if !slices.Equal(got, wantChanges) {
			t.Errorf("offline %v: changes = %q, want %q", offline, got, wantChanges)
		}
		if got := wantsLinks(t, h, "multi-user.target.wants"); !slices.Equal(got, want[:1]) {
			t.Errorf("offline %v: links = %q, want %q", offline, got, want[:1])
		}
	}
}

// Instances beyond the count that still run are stopped.
func TestStaleInstancesStopped(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	svc.Instances = 3
	if _, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	svc.Instances = 1
	res := applyTwice(t, h, Build(serviceSpec(svc)))
	got := summaries2(serviceResult(t, res, "service sidekiq").Changes)
	want := []string{"sidekiq@2.service: stop (active -> inactive, beyond instances: 1)", "sidekiq@3.service: stop (active -> inactive, beyond instances: 1)"}
	if !slices.Equal(got, want) {
		t.Errorf("changes = %q, want %q", got, want)
	}
	if st := sd.state("sidekiq@3.service"); st.Active() {
		t.Errorf("sidekiq@3: %+v", st)
	}
}

// A run that reloaded systemd for a changed unit but stopped before the
// restart leaves a marker; the next run, which finds the unit file right,
// restarts the service all the same, once.
func TestPendingRestartFromAnEarlierRun(t *testing.T) {
	h, sd := testHost(t)
	steps := Build(serviceSpec(sidekiq()))
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	if err := restartPending.mark(testEnv(h, true), "sidekiq.service"); err != nil {
		t.Fatal(err)
	}
	pid := sd.pids["sidekiq.service"]
	sd.calls = nil
	plan, err := Run(context.Background(), h, steps, ModeCheck, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan[len(plan)-1]; got.Status != StatusChanged || got.Changes[0].Summary != "restart (unit changed in an earlier run that stopped before restarting it)" {
		t.Errorf("plan: %+v", got)
	}
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	if sd.pids["sidekiq.service"] == pid || !slices.Contains(sd.calls, "restart sidekiq.service") {
		t.Errorf("calls %q: no restart", sd.calls)
	}
	if pending, _ := restartPending.has(testEnv(h, true), "sidekiq.service"); pending {
		t.Error("the marker is still there after the restart")
	}
	if res, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil || Counts(res)[StatusChanged] != 0 {
		t.Errorf("apply after the restart: %v %+v", err, res)
	}
}

// A Type=oneshot service with state: started is started once: its
// successful run counts, and the next apply does not run it again.
func TestOneshotStartedConverges(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	svc.Name, svc.Type, svc.Sudo = "migrate", "oneshot", nil
	sd.oneshot["migrate.service"] = true
	res := applyTwice(t, h, Build(serviceSpec(svc)))
	if r := serviceResult(t, res, "service migrate"); r.Status != StatusChanged || r.Changes[0].Summary != "start (inactive -> active)" {
		t.Errorf("first apply: %s %+v", r.Status, r.Changes)
	}
	if n := count(sd.calls, "start migrate.service"); n != 1 {
		t.Errorf("calls %q: %d starts over two applies, want 1", sd.calls, n)
	}
}

// What systemd loaded is read back after the reload, before a start: a
// unit that loads otherwise than the spec says fails its step with both
// values, and a check (verify) reports the difference as drift.
func TestReadBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(unit string, c *UnitConfig)
		want string
	}{
		{"foreign drop-in", func(unit string, c *UnitConfig) {
			c.User = "root"
			c.DropInPaths = []string{"/etc/systemd/system/sidekiq.service.d/override.conf"}
		}, "systemd also read the drop-ins /etc/systemd/system/sidekiq.service.d/override.conf, which the spec does not have; they can change what sidekiq.service runs (as whom, how); systemd loaded User=root, the spec says deploy"},
		{"bad setting", func(unit string, c *UnitConfig) {
			c.LoadState, c.LoadError = LoadBadSetting, "Unit sidekiq.service has a bad unit file setting."
			c.Journal = []string{"/etc/systemd/system/sidekiq.service:7: Invalid user/group name or numeric ID: dep loy"}
		}, "systemd did not load sidekiq.service: LoadState=bad-setting (Unit sidekiq.service has a bad unit file setting.); its journal says: /etc/systemd/system/sidekiq.service:7: Invalid user/group name or numeric ID: dep loy"},
		{"masked", func(unit string, c *UnitConfig) { c.LoadState = LoadMasked },
			"systemd has sidekiq.service masked, so it will not start it: unmask it with systemctl unmask sidekiq.service (a mask under /run goes at the next boot)"},
		{"argv", func(unit string, c *UnitConfig) {
			c.ExecStart = [][]string{{"/usr/bin/sidekiq", "-e", "production", "extra"}}
		},
			"systemd loaded ExecStart=/usr/bin/sidekiq -e production extra, the spec says /usr/bin/sidekiq -e production"},
		{"restart time", func(unit string, c *UnitConfig) { c.RestartUSec = 100000 },
			"systemd loaded RestartUSec=100000, the spec says 1500000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, sd := testHost(t)
			svc := sidekiq()
			svc.RestartSec = "1.5s"
			sd.edit = tc.edit
			res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
			r := serviceResult(t, res, "service sidekiq")
			if r.Status != StatusFailed || !strings.Contains(err.Error(), "sidekiq.service: "+tc.want) {
				t.Errorf("apply: %s %v\nwant %q", r.Status, r.Err, tc.want)
			}
			if slices.Contains(sd.calls, "start sidekiq.service") {
				t.Errorf("started a unit that did not load as the spec says: %q", sd.calls)
			}
			// verify: the unit file is right, the difference is drift.
			res, err = Run(context.Background(), h, Build(serviceSpec(svc)), ModeCheck, nil)
			if err != nil {
				t.Fatal(err)
			}
			r = serviceResult(t, res, "service sidekiq")
			if r.Status != StatusChanged || !slices.ContainsFunc(r.Changes, func(c Change) bool { return strings.Contains(tc.want, c.Summary) }) {
				t.Errorf("verify: %s %+v\nwant %q", r.Status, r.Changes, tc.want)
			}
		})
	}
}

// Values with "%" read back as the spec wrote them: RenderUnit writes
// "%%", systemd loads "%"; a template's %i is the instance.
func TestReadBackSpecifiers(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	svc.Description, svc.WorkingDirectory, svc.ExecStart = "for %u at 50%", "/data/50%off", "/usr/bin/sidekiq --id %i"
	svc.Instances = 2
	res := applyTwice(t, h, Build(serviceSpec(svc)))
	if r := serviceResult(t, res, "service sidekiq"); r.Status != StatusChanged {
		t.Errorf("service: %s %v", r.Status, r.Err)
	}
	if !slices.Contains(sd.calls, "config sidekiq@2.service") {
		t.Errorf("calls %q: no read-back of sidekiq@2", sd.calls)
	}
}

// A started service with Restart= that does not stay up fails its step;
// without Restart=, with no settle window, or while booting, nothing is
// watched.
func TestSettleWindow(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart string
		settle  time.Duration
		system  SystemState
		watched bool
	}{
		{"restart on failure", "on-failure", 3 * time.Second, "", true},
		{"no restart", "", 3 * time.Second, "", false},
		{"window off", "always", 0, "", false},
		{"booting", "on-failure", 3 * time.Second, SystemStarting, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, sd := testHost(t)
			h.Settle = tc.settle
			sd.system = tc.system
			sd.crashes["sidekiq.service"] = true
			svc := sidekiq()
			svc.Restart = tc.restart
			res, _ := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
			r := serviceResult(t, res, "service sidekiq")
			if got := slices.Contains(sd.calls, "watch sidekiq.service"); got != tc.watched {
				t.Errorf("watched %v, want %v: %q", got, tc.watched, sd.calls)
			}
			if tc.watched != (r.Status == StatusFailed) {
				t.Errorf("service: %s %v", r.Status, r.Err)
			}
		})
	}
}

// What systemd loaded for the units a reload touched is read right after
// the reload, once per unit for the run, before any of them starts.
func TestReadBackAfterTheReloadOnce(t *testing.T) {
	h, sd := testHost(t)
	sp := serviceSpec(sidekiq())
	for _, name := range []string{"worker-a", "worker-b"} {
		svc := sidekiq()
		svc.Name, svc.SyslogIdentifier, svc.Sudo = name, name, nil
		sp.Services = append(sp.Services, svc)
	}
	if _, err := Run(context.Background(), h, Build(sp), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	reload := slices.Index(sd.calls, "reload")
	firstStart := slices.IndexFunc(sd.calls, func(c string) bool { return strings.HasPrefix(c, "start ") })
	for _, unit := range []string{"sidekiq.service", "worker-a.service", "worker-b.service"} {
		call := "config " + unit
		if n := count(sd.calls, call); n != 1 {
			t.Errorf("%s: %d times, want once: %q", call, n, sd.calls)
		}
		if i := slices.Index(sd.calls, call); i < reload || i > firstStart {
			t.Errorf("%s at %d, want between the reload (%d) and the first start (%d): %q", call, i, reload, firstStart, sd.calls)
		}
	}
}

// gatedReload holds Reload until released.
type gatedReload struct {
	*fakeSystemd
	started, release chan struct{}
}

func (g *gatedReload) Reload(ctx context.Context) error {
	close(g.started)
	select {
	case <-g.release:
	case <-time.After(10 * time.Second):
		return errors.New("nothing ran while the reload was under way")
	}
	return g.fakeSystemd.Reload(ctx)
}

// The reload runs while the account is made: useradd runs while systemd
// reloads, with the userdb bypass that keeps it from waiting for PID 1,
// and the service starts only once the reload is done.
func TestReloadRunsWhileTheAccountIsMade(t *testing.T) {
	h, sd, shadow := testHostShadow(t)
	gs := &gatedReload{fakeSystemd: sd, started: make(chan struct{}), release: make(chan struct{})}
	h.Systemd = gs
	var useraddEnv []string
	h.Exec = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		if name == distro.Useradd {
			select {
			case <-gs.started:
			case <-time.After(10 * time.Second):
				t.Error("useradd waits for a reload that does not start")
			}
			useraddEnv, _ = ctx.Value(helperEnvKey{}).([]string)
			close(gs.release)
		}
		return shadow.exec(ctx, name, args...)
	}
	res, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(useraddEnv, "SYSTEMD_BYPASS_USERDB=io.systemd.DynamicUser") {
		t.Errorf("useradd's environment during the reload: %q", useraddEnv)
	}
	if i, j := slices.Index(sd.calls, "reload"), slices.Index(sd.calls, "start sidekiq.service"); i < 0 || j < i {
		t.Errorf("calls %q: want the start after the reload", sd.calls)
	}
	for _, r := range res {
		if r.Status != StatusChanged {
			t.Errorf("%s: %s %v", r.ID, r.Status, r.Err)
		}
	}
	// Once the reload is done, helpers run as before.
	var env []string
	h.Exec = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		env, _ = ctx.Value(helperEnvKey{}).([]string)
		return shadow.exec(ctx, name, args...)
	}
	if _, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil); err != nil || env != nil {
		t.Errorf("second run: %v, helper environment %q", err, env)
	}
}

// A reload that fails in the background fails its step and skips the
// services, as one in line would.
func TestReloadFailsInTheBackground(t *testing.T) {
	h, sd := testHost(t)
	h.Systemd = &brokenReload{sd}
	res, _ := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil)
	got := map[string]Status{}
	for _, r := range res {
		got[r.ID] = r.Status
	}
	if got["daemon-reload"] != StatusFailed || got["service sidekiq"] != StatusSkipped || got["user deploy"] != StatusChanged {
		t.Errorf("statuses %v", got)
	}
}
