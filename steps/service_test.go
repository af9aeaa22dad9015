package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/dbusctl"
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
	// First run: states, reload, states again (the check after the
	// reload), enable, the system state (booting or not), start, states
	// (the check after it). Second run: one batched states call and
	// nothing else.
	want := []string{"states", "reload", "states", "enable sidekiq.service", "system-state", "start sidekiq.service", "states", "states"}
	if !slices.Equal(sd.calls, want) {
		t.Errorf("systemd calls = %q, want %q", sd.calls, want)
	}
	// The second run asked for states once and changed nothing.
	if st := sd.state("sidekiq.service"); !st.Active() || !st.Enabled() {
		t.Errorf("state = %+v", st)
	}
}

func TestServiceRestartsOnceWhenUnitChanges(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	if _, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	pid := sd.state("sidekiq.service").MainPID
	sd.calls = nil
	svc.ExecStart = "/usr/bin/sidekiq -e staging"
	h.Run = &RunState{}
	res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	count := func(call string) int {
		n := 0
		for _, c := range sd.calls {
			if c == call {
				n++
			}
		}
		return n
	}
	if count("reload") != 1 || count("restart sidekiq.service") != 1 {
		t.Errorf("calls = %q, want exactly one reload and one restart", sd.calls)
	}
	if sd.state("sidekiq.service").MainPID == pid {
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
	sd.set("sidekiq.service", func(s *dbusctl.UnitState) { s.NeedDaemonReload = true })
	sd.calls = nil
	h.Run = &RunState{}
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
	want := []string{"group deploy", "user deploy", "sudoers /etc/sudoers.d/sidekiq-users",
		"unit /etc/systemd/system/sidekiq.service", "daemon-reload", "service sidekiq"}
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
	h.Offline = true
	h.Systemd = Offline{Host: h}
	applyTwice(t, h, Build(serviceSpec(sidekiq())))
	link := filepath.Join(h.Root, "etc/systemd/system/multi-user.target.wants/sidekiq.service")
	dest, err := os.Readlink(link)
	if err != nil || dest != "/etc/systemd/system/sidekiq.service" {
		t.Errorf("wants link = %q, %v", dest, err)
	}
}

// A template service's instances are enabled one by one, and lowering the
// count disables the instances beyond it, found by their links.
func TestOfflineInstances(t *testing.T) {
	h, _ := testHost(t)
	h.Offline = true
	h.Systemd = Offline{Host: h}
	svc := sidekiq()
	svc.Instances = 3
	applyTwice(t, h, Build(serviceSpec(svc)))
	wants := filepath.Join(h.Root, "etc/systemd/system/multi-user.target.wants")
	links := func() []string {
		entries, _ := os.ReadDir(wants)
		var names []string
		for _, e := range entries {
			dest, _ := os.Readlink(filepath.Join(wants, e.Name()))
			names = append(names, e.Name()+" -> "+dest)
		}
		return names
	}
	want := []string{
		"sidekiq@1.service -> /etc/systemd/system/sidekiq@.service",
		"sidekiq@2.service -> /etc/systemd/system/sidekiq@.service",
		"sidekiq@3.service -> /etc/systemd/system/sidekiq@.service",
	}
	if got := links(); !slices.Equal(got, want) {
		t.Fatalf("links = %q, want %q", got, want)
	}
	svc.Instances = 1
	h.Run = &RunState{}
	res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		if r.ID == "service sidekiq" {
			got = summaries2(r.Changes)
		}
	}
	wantChanges := []string{"sidekiq@2.service: disable (beyond instances: 1)", "sidekiq@3.service: disable (beyond instances: 1)"}
	if !slices.Equal(got, wantChanges) {
		t.Errorf("changes = %q, want %q", got, wantChanges)
	}
	if got := links(); !slices.Equal(got, want[:1]) {
		t.Errorf("links = %q, want %q", got, want[:1])
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
	if err := restartPending.mark(h, "sidekiq.service"); err != nil {
		t.Fatal(err)
	}
	pid := sd.state("sidekiq.service").MainPID
	sd.calls = nil
	h.Run = &RunState{}
	plan, err := Run(context.Background(), h, steps, ModeCheck, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := plan[len(plan)-1]; got.Status != StatusChanged || got.Changes[0].Summary != "restart (unit changed in an earlier run that stopped before restarting it)" {
		t.Errorf("plan: %+v", got)
	}
	h.Run = &RunState{}
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	if sd.state("sidekiq.service").MainPID == pid || !slices.Contains(sd.calls, "restart sidekiq.service") {
		t.Errorf("calls %q: no restart", sd.calls)
	}
	if pending, _ := restartPending.has(h, "sidekiq.service"); pending {
		t.Error("the marker is still there after the restart")
	}
	h.Run = &RunState{}
	if res, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil || Counts(res)[StatusChanged] != 0 {
		t.Errorf("apply after the restart: %v %+v", err, res)
	}
}
