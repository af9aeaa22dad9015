package steps

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/spec"
)

// serviceResult returns the result of step id, failing t when there is none.
func serviceResult(t *testing.T, res []Result, id string) Result {
	t.Helper()
	for _, r := range res {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result for %s in %+v", id, res)
	return Result{}
}

// TestStartWhileBooting: whether a start is waited for depends on the
// system state alone. While systemd's boot transaction runs, the start is
// queued, reported as queued, and the check after apply accepts the queued
// job; once the system is up, it is waited for.
func TestStartWhileBooting(t *testing.T) {
	for _, tc := range []struct {
		system SystemState
		// wantCall is the systemd call that starts the unit.
		wantCall string
		queued   bool
	}{
		// cloud-init's runcmd: cloud-final.service is a boot job.
		{SystemStarting, "start-no-wait sidekiq.service", true},
		// Before basic.target, from an early unit.
		{SystemInitializing, "start-no-wait sidekiq.service", true},
		// The boot is over: wait for the job's result.
		{SystemRunning, "start sidekiq.service", false},
		// Over, with a failed unit: still over.
		{SystemDegraded, "start sidekiq.service", false},
		// Rescue mode runs no boot transaction that could block the start.
		{SystemMaintenance, "start sidekiq.service", false},
	} {
		t.Run(string(tc.system), func(t *testing.T) {
			h, sd := testHost(t)
			sd.system = tc.system
			res := applyTwice(t, h, Build(serviceSpec(sidekiq())))
			if !slices.Contains(sd.calls, tc.wantCall) {
				t.Errorf("calls = %q, want %q", sd.calls, tc.wantCall)
			}
			starts := 0
			for _, c := range sd.calls {
				if strings.HasPrefix(c, "start") {
					starts++
				}
			}
			if starts != 1 {
				t.Errorf("calls = %q, want exactly one start over two runs", sd.calls)
			}
			r := serviceResult(t, res, "service sidekiq")
			var summaries []string
			for _, c := range r.Changes {
				summaries = append(summaries, c.Summary)
			}
			got := strings.Join(summaries, "\n")
			if want := "start queued, not waited for (inactive -> active): the system is still booting"; tc.queued != strings.Contains(got, want) {
				t.Errorf("changes:\n%s\nwant %q in them: %v", got, want, tc.queued)
			}
			if st := sd.state("sidekiq.service"); tc.queued != (st.Job == JobStart && !st.Active()) {
				t.Errorf("state after apply = %+v, want a queued start job: %v", st, tc.queued)
			}
		})
	}
}

// TestQueuedStartThenFailure: once the boot is over, a unit whose queued
// start failed is started again and its failure is reported.
func TestQueuedStartThenFailure(t *testing.T) {
	h, sd := testHost(t)
	sd.system = SystemStarting
	steps := Build(serviceSpec(sidekiq()))
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	// The queued job ran after the boot job and failed.
	sd.set("sidekiq.service", func(s *UnitState) { s.ActiveState, s.SubState, s.Job = ActiveFailed, "failed", JobNone })
	sd.system = SystemDegraded
	sd.startErr = errors.New("start sidekiq.service: job failed")
	res, err := Run(context.Background(), h, steps, ModeApply, nil)
	if err == nil || !strings.Contains(err.Error(), "job failed") {
		t.Fatalf("apply after a failed queued start: err = %v, want the job's failure", err)
	}
	if r := serviceResult(t, res, "service sidekiq"); r.Status != StatusFailed || r.Changes[0].Summary != "start (failed -> active)" {
		t.Errorf("service sidekiq: %s %+v, want a failed start that was waited for", r.Status, r.Changes)
	}
}

// TestRestartWhileBooting: a running unit whose unit file changed is
// restarted without waiting while the system boots; the queued restart
// job is not mistaken for a change still to make.
func TestRestartWhileBooting(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	if _, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	sd.system, sd.calls = SystemStarting, nil
	svc.ExecStart = "/usr/bin/sidekiq -e staging"
	res, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sd.calls, "restart-no-wait sidekiq.service") || slices.Contains(sd.calls, "restart sidekiq.service") {
		t.Errorf("calls = %q, want a restart queued and none waited for", sd.calls)
	}
	r := serviceResult(t, res, "service sidekiq")
	if r.Status != StatusChanged || !strings.HasPrefix(r.Changes[0].Summary, "restart queued, not waited for (unit changed): ") {
		t.Errorf("service sidekiq: %s %+v", r.Status, r.Changes)
	}
}

// TestStopCancelsQueuedStart: a unit that is to be stopped but has a start
// job queued (enabled, and its boot start still waiting) is stopped, which
// replaces the queued job; a stop never waits for boot jobs, so it is
// waited for even while booting.
func TestStopCancelsQueuedStart(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	svc.State = spec.StateStopped
	sd.system = SystemStarting
	sd.set("sidekiq.service", func(s *UnitState) {
		s.LoadState, s.ActiveState, s.SubState, s.Job = LoadLoaded, ActiveInactive, "dead", JobStart
	})
	res := applyTwice(t, h, Build(serviceSpec(svc)))
	if !slices.Contains(sd.calls, "stop sidekiq.service") {
		t.Errorf("calls = %q, want a stop", sd.calls)
	}
	if r := serviceResult(t, res, "service sidekiq"); len(r.Changes) != 1 || r.Changes[0].Summary != "stop (inactive, start queued -> inactive)" {
		t.Errorf("service sidekiq: %+v", r.Changes)
	}
	if st := sd.state("sidekiq.service"); st.Job != JobNone {
		t.Errorf("after stop: %+v, want no job", st)
	}
}

// TestPlanWhileBooting: plan says the start would be queued, and neither
// starts nor queues anything.
func TestPlanWhileBooting(t *testing.T) {
	h, sd := testHost(t)
	sd.system = SystemStarting
	res, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeCheck, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range sd.calls {
		if c != "states" && c != "system-state" {
			t.Errorf("plan called systemd %q", c)
		}
	}
	r := serviceResult(t, res, "service sidekiq")
	if last := r.Changes[len(r.Changes)-1].Summary; !strings.HasPrefix(last, "start queued, not waited for ") {
		t.Errorf("plan: %q, want a queued start", last)
	}
}

// TestSystemStateError: a system state that cannot be read fails the
// service step before anything is started.
func TestSystemStateError(t *testing.T) {
	h, _ := testHost(t)
	sd := newFakeSystemd()
	sd.root = h.Root
	h.Systemd = &brokenState{fakeSystemd: sd}
	res, _ := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil)
	r := serviceResult(t, res, "service sidekiq")
	if r.Status != StatusFailed || !strings.Contains(r.Err.Error(), "system state") {
		t.Errorf("service sidekiq: %s %v", r.Status, r.Err)
	}
	if slices.ContainsFunc(h.Systemd.(*brokenState).calls, func(c string) bool { return strings.HasPrefix(c, "start") }) {
		t.Errorf("started although the system state is unknown: %q", h.Systemd.(*brokenState).calls)
	}
}

// brokenState is a fakeSystemd whose SystemState fails.
type brokenState struct{ *fakeSystemd }

func (b *brokenState) SystemState(ctx context.Context) (SystemState, error) {
	return "", errors.New("read system state: connection reset")
}
