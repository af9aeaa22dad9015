package steps

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// ensureService brings a service's units to the spec's state: started,
// stopped, or left alone. It is notified by daemonReload: a running unit
// that the reload touched (its configuration changed) is restarted, once;
// an unchanged one never is. A unit that an earlier run reloaded and was
// killed before restarting (see restartPending) is restarted too. For a
// template service, running instances beyond instances: are stopped.
//
// Start, stop and restart wait for systemd's job result, except that while
// the system is booting starts and restarts are queued and not waited for
// (see Env.booting); a unit whose start job is queued counts as started.
// On a tree that is not running (--root) there is nothing to do.
// Enablement is enableUnit's.
type ensureService struct {
	service spec.Service
	// dropins are the spec's drop-ins for the service's units.
	dropins []spec.Dropin
}

func (s *ensureService) ID() string { return "service " + s.service.Name }

func (s *ensureService) asksSystemd() {}

func (s *ensureService) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if e.Host.Offline {
		return nil, nil
	}
	if s.service.Absent() {
		return s.stopAll(ctx, e)
	}
	units := s.service.Units()
	states, err := e.states(ctx, units...)
	if err != nil {
		return nil, err
	}
	var changes []Change
	for i, unit := range units {
		c, err := s.convergeUnit(ctx, e, unit, states[i])
		changes = append(changes, c...)
		if err != nil {
			return changes, err
		}
	}
	stale, err := s.staleInstances(ctx, e)
	if err != nil {
		return changes, err
	}
	for _, st := range stale {
		c, err := s.stopInstance(ctx, e, st)
		changes = append(changes, c...)
		if err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// unitsOf returns the state of every unit of svc that systemd holds:
// NAME.service and each instance NAME@*.service it has loaded.
func (e *Env) unitsOf(ctx context.Context, svc spec.Service) ([]UnitState, error) {
	states, err := e.states(ctx, svc.Name+".service")
	if err != nil {
		return nil, err
	}
	instances, err := e.Host.Systemd.Loaded(ctx, svc.Name+"@*.service")
	if err != nil {
		return nil, err
	}
	return append(states, instances...), nil
}

// stopAll stops every unit of a retired service that runs or is about to:
// NAME.service and every instance NAME@*.service systemd holds, waiting
// for each job. Build runs it before the unit file and links go.
func (s *ensureService) stopAll(ctx context.Context, e *Env) ([]Change, error) {
	units, err := e.unitsOf(ctx, s.service)
	if err != nil {
		return nil, err
	}
	var changes []Change
	for _, st := range units {
		if !st.Active() && !st.StartQueued() {
			continue
		}
		err := e.act(&changes, fmt.Sprintf("%s: stop (%s -> inactive, the service is to be absent)", st.Name, st.ActiveState), func() error {
			return e.Host.Systemd.Stop(ctx, st.Name)
		})
		if err != nil {
			return changes, err
		}
		if e.Apply {
			if err := restartPending.clear(e, st.Name); err != nil {
				return changes, err
			}
		}
	}
	return changes, nil
}

// act records a change and, when applying, makes it with fn, after which
// the cached unit states are stale.
func (e *Env) act(changes *[]Change, summary string, fn func() error) error {
	*changes = append(*changes, Change{Summary: summary})
	if !e.Apply {
		return nil
	}
	defer e.forgetStates()
	return fn()
}

// convergeUnit brings one unit of the service to the spec's state. For a
// template service the changes name the instance.
func (s *ensureService) convergeUnit(ctx context.Context, e *Env, unit string, st UnitState) ([]Change, error) {
	var changes []Change
	prefix := ""
	if s.service.Instances > 0 {
		prefix = unit + ": "
	}
	do := func(summary string, fn func() error) error {
		return e.act(&changes, prefix+summary, fn)
	}

	// Drop-ins the spec does not write change what the unit runs
	// (User=root from systemctl edit): drift, and no start or restart
	// on them, unless the service allows them.
	foreign, err := s.foreignDropins(e, unit)
	if err != nil {
		return nil, err
	}
	if len(foreign) > 0 {
		msg := fmt.Sprintf("foreign drop-ins %s change what %s runs: list them under dropins with state: absent to remove them, or set allow_dropins: true", strings.Join(foreign, ", "), unit)
		if e.Apply {
			return nil, errors.New(msg)
		}
		changes = append(changes, Change{Summary: prefix + msg})
	}

	// What systemd loaded is read back after the reload that touched the
	// unit, before anything is started on it, and in every check that
	// has no change of the unit pending (verify); apply's no-op path,
	// which changed nothing, leaves it.
	if e.Apply == e.Touched(unit) {
		diffs, err := s.readBack(ctx, e, unit)
		if err != nil {
			return nil, err
		}
		if len(diffs) > 0 {
			if e.Apply {
				return nil, fmt.Errorf("%s: %s", unit, strings.Join(diffs, "; "))
			}
			for _, d := range diffs {
				changes = append(changes, Change{Summary: prefix + d})
			}
		}
	}

	pending, err := restartPending.has(e, unit)
	if err != nil {
		return nil, err
	}
	why := "(unit changed)"
	if !e.Touched(unit) {
		why = "(unit changed in an earlier run that stopped before restarting it)"
	}
	started := st.Active() || st.StartQueued()
	if !started && s.service.State == spec.StateStarted && s.oneshot() {
		// A oneshot service is done once its run succeeded: started,
		// not to be run again on every apply.
		if started, err = e.Host.Systemd.Ran(ctx, unit); err != nil {
			return nil, err
		}
	}
	switch {
	case s.service.State == spec.StateStarted && !started:
		detail := fmt.Sprintf("(%s -> active)", orNone(string(st.ActiveState)))
		err = startOrRestart(ctx, e, unit, "start", detail, e.Host.Systemd.Start, e.Host.Systemd.StartNoWait, do, s.restarts())
	case s.service.State == spec.StateStopped && (st.Active() || st.StartQueued()):
		from := string(st.ActiveState)
		if st.StartQueued() {
			from += ", " + string(st.Job) + " queued"
		}
		err = do(fmt.Sprintf("stop (%s -> inactive)", from), func() error {
			return e.Host.Systemd.Stop(ctx, unit)
		})
	case s.service.State != spec.StateStopped && st.Active() && (e.Touched(unit) || pending):
		err = startOrRestart(ctx, e, unit, "restart", why, e.Host.Systemd.Restart, e.Host.Systemd.RestartNoWait, do, s.restarts())
	}
	if e.Apply && pending && err == nil {
		// Restarted, started, stopped or not running: nothing runs the
		// old unit any more.
		err = restartPending.clear(e, unit)
	}
	return changes, err
}

// dropinDirs are where systemd looks for a unit's drop-ins besides
// packages' own directories, which provision leaves alone.
var dropinDirs = []string{spec.UnitDir, "/run/systemd/system"}

// ownDropins returns the paths of the spec's drop-ins that systemd reads
// for unit: those for it, and for a template instance those for the
// template.
func (s *ensureService) ownDropins(unit string) []string {
	var own []string
	for _, d := range s.dropins {
		if d.State != spec.Absent && (d.Unit == unit || d.Unit == templateOf(unit)) {
			own = append(own, d.Path())
		}
	}
	return own
}

// foreignDropins lists the drop-ins (*.conf) of unit under /etc and /run
// that the spec does not write, none when the service allows them.
func (s *ensureService) foreignDropins(e *Env, unit string) ([]string, error) {
	if s.service.AllowDropins {
		return nil, nil
	}
	names := []string{unit}
	if t := templateOf(unit); t != unit {
		names = append(names, t)
	}
	own := s.ownDropins(unit)
	var foreign []string
	for _, dir := range dropinDirs {
		for _, name := range names {
			d := path.Join(dir, name+".d")
			entries, err := e.fs().ReadDir(d)
			if err != nil {
				return nil, err
			}
			for _, ent := range entries {
				p := path.Join(d, ent.Name)
				if strings.HasSuffix(ent.Name, ".conf") && !ent.Mode.IsDir() && !slices.Contains(own, p) {
					foreign = append(foreign, p)
				}
			}
		}
	}
	return foreign, nil
}

// templateOf returns the template an instance is made from
// ("worker@1.service" -> "worker@.service"), and any other unit name as
// it is.
func templateOf(unit string) string {
	at := strings.IndexByte(unit, '@')
	dot := strings.LastIndexByte(unit, '.')
	if at < 0 || dot < at {
		return unit
	}
	return unit[:at+1] + unit[dot:]
}

// staleInstances returns the instances of a template service that systemd
// has loaded and that run or are about to, beyond its instances count:
// those an earlier run, with a larger count, started.
func (s *ensureService) staleInstances(ctx context.Context, e *Env) ([]UnitState, error) {
	if s.service.Instances == 0 {
		return nil, nil
	}
	loaded, err := e.Host.Systemd.Loaded(ctx, s.service.Name+"@*.service")
	if err != nil {
		return nil, err
	}
	want := s.service.Units()
	var stale []UnitState
	for _, st := range loaded {
		if !slices.Contains(want, st.Name) && (st.Active() || st.StartQueued()) {
			stale = append(stale, st)
		}
	}
	slices.SortFunc(stale, func(a, b UnitState) int { return strings.Compare(a.Name, b.Name) })
	return stale, nil
}

// stopInstance stops an instance beyond the service's instances count.
func (s *ensureService) stopInstance(ctx context.Context, e *Env, st UnitState) ([]Change, error) {
	var changes []Change
	err := e.act(&changes, fmt.Sprintf("%s: stop (%s -> inactive, beyond instances: %d)", st.Name, st.ActiveState, s.service.Instances), func() error {
		return e.Host.Systemd.Stop(ctx, st.Name)
	})
	return changes, err
}

// oneshot reports whether the service is Type=oneshot without
// RemainAfterExit=yes: inactive again once it has done its work.
func (s *ensureService) oneshot() bool {
	oneshot, remain := false, false
	for _, set := range s.service.Settings() {
		if set.Section != "Service" {
			continue
		}
		switch set.Name {
		case "Type":
			oneshot = set.Value == "oneshot"
		case "RemainAfterExit":
			remain = set.Value == "yes" || set.Value == "true" || set.Value == "1" || set.Value == "on"
		}
	}
	return oneshot && !remain
}

// jobFunc starts or restarts a unit.
type jobFunc func(ctx context.Context, unit string) error

// startOrRestart records "VERB DETAIL" and, when applying, starts or
// restarts unit with wait, then, when watch is set (a unit with Restart=,
// which systemd would restart in a loop), watches it for Host.Settle: a
// unit that crashes within it is a failed step, with its journal lines,
// not a change. The watch runs alongside the steps after it (see
// Env.settle). While the system is booting (see Env.booting) it queues
// the job with queue instead, watches nothing, and says so. The check
// after apply accepts the queued job: a unit whose start job is queued
// counts as started.
func startOrRestart(ctx context.Context, e *Env, unit, verb, detail string, wait, queue jobFunc, do func(string, func() error) error, watch bool) error {
	booting, err := e.booting(ctx)
	if err != nil {
		return err
	}
	summary, run := verb+" "+detail, wait
	if booting {
		summary, run = verb+" queued, not waited for "+detail+": "+bootNote, queue
	}
	return do(summary, func() error {
		if err := run(ctx, unit); err != nil || booting || !watch || e.Host.Settle <= 0 {
			return err
		}
		e.settle(ctx, verb, unit)
		return nil
	})
}

// restarts reports whether systemd restarts the service when it exits
// (Restart= other than no): a crash then loops instead of showing.
func (s *ensureService) restarts() bool {
	restart := ""
	for _, set := range s.service.Settings() {
		if set.Section == "Service" && set.Name == "Restart" {
			restart = set.Value
		}
	}
	return restart != "" && restart != "no"
}
