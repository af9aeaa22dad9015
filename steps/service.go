package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/spec"
)

// EnsureService enables or disables a service's unit and brings it to the
// spec's state: started, stopped, or left alone. A running service whose
// unit changed in this run is restarted, once; an unchanged one never is.
// Start, stop and restart wait for systemd's job result, except that while
// the system is booting starts and restarts are queued and not waited for
// (see Host.booting); a unit whose start job is queued counts as started.
// On a tree that is not running (--root) only enablement is converged.
type EnsureService struct {
	deps
	Service spec.Service
	// UnitStep is the ID of the step writing the unit file.
	UnitStep string
}

// ID implements Step.
func (s *EnsureService) ID() string { return "service " + s.Service.Name }

// Check implements Step.
func (s *EnsureService) Check(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, false)
}

// Apply implements Step.
func (s *EnsureService) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, true)
}

func (s *EnsureService) converge(ctx context.Context, h *Host, apply bool) ([]Change, error) {
	units := s.Service.Units()
	stale, err := s.staleInstances(h)
	if err != nil {
		return nil, err
	}
	states, err := h.states(ctx, append(slices.Clone(units), stale...)...)
	if err != nil {
		return nil, err
	}
	var changes []Change
	for i, unit := range units {
		c, err := s.convergeUnit(ctx, h, unit, states[i], apply)
		changes = append(changes, c...)
		if err != nil {
			return changes, err
		}
	}
	for i, unit := range stale {
		c, err := s.removeInstance(ctx, h, unit, states[len(units)+i], apply)
		changes = append(changes, c...)
		if err != nil {
			return changes, err
		}
	}
	return changes, nil
}

// convergeUnit enables or disables one unit of the service and brings it
// to the spec's state. For a template service the changes name the
// instance.
func (s *EnsureService) convergeUnit(ctx context.Context, h *Host, unit string, st dbusctl.UnitState, apply bool) ([]Change, error) {
	var changes []Change
	prefix := ""
	if s.Service.Instances > 0 {
		prefix = unit + ": "
	}
	do := func(summary string, fn func() error) error {
		changes = append(changes, Change{Summary: prefix + summary})
		if !apply {
			return nil
		}
		defer h.Run.forgetStates()
		return fn()
	}

	var err error
	wantEnabled := s.Service.IsEnabled()
	switch {
	case wantEnabled && !st.Enabled():
		summary := "enable"
		if st.UnitFileState != "" {
			summary = fmt.Sprintf("enable (%s -> enabled)", st.UnitFileState)
		}
		err = do(summary, func() error {
			_, err := h.Systemd.Enable(ctx, unit)
			return err
		})
	case !wantEnabled && st.Enabled():
		err = do("disable (enabled -> disabled)", func() error {
			_, err := h.Systemd.Disable(ctx, unit)
			return err
		})
	}
	if err != nil {
		return changes, err
	}
	if h.Offline {
		return changes, nil
	}

	pending, err := restartPending.has(h, unit)
	if err != nil {
		return changes, err
	}
	changed := (h.Run.Changed(s.UnitStep) || pending) && !h.Run.fresh[unit]
	why := "(unit changed)"
	if !h.Run.Changed(s.UnitStep) {
		why = "(unit changed in an earlier run that stopped before restarting it)"
	}
	switch {
	case s.Service.State == spec.StateStarted && !st.Active() && !st.StartQueued():
		detail := fmt.Sprintf("(%s -> active)", orNone(st.ActiveState))
		err = startOrRestart(ctx, h, unit, "start", detail, h.Systemd.Start, h.Systemd.StartNoWait, do)
	case s.Service.State == spec.StateStopped && (st.Active() || st.StartQueued()):
		from := st.ActiveState
		if st.StartQueued() {
			from += ", " + st.Job + " queued"
		}
		err = do(fmt.Sprintf("stop (%s -> inactive)", from), func() error {
			return h.Systemd.Stop(ctx, unit)
		})
	case s.Service.State != spec.StateStopped && st.Active() && changed:
		err = startOrRestart(ctx, h, unit, "restart", why, h.Systemd.Restart, h.Systemd.RestartNoWait, do)
	}
	if apply && pending && err == nil {
		// Restarted, started, stopped or not running: nothing runs the
		// old unit any more.
		err = restartPending.clear(h, unit)
	}
	return changes, err
}

// removeInstance stops and disables an instance of a template service
// beyond its instances count.
func (s *EnsureService) removeInstance(ctx context.Context, h *Host, unit string, st dbusctl.UnitState, apply bool) ([]Change, error) {
	var changes []Change
	do := func(summary string, fn func() error) error {
		changes = append(changes, Change{Summary: unit + ": " + summary})
		if !apply {
			return nil
		}
		defer h.Run.forgetStates()
		return fn()
	}
	if !h.Offline && (st.Active() || st.StartQueued()) {
		if err := do(fmt.Sprintf("stop (%s -> inactive, beyond instances: %d)", st.ActiveState, s.Service.Instances), func() error {
			return h.Systemd.Stop(ctx, unit)
		}); err != nil {
			return changes, err
		}
	}
	if st.Enabled() {
		err := do(fmt.Sprintf("disable (beyond instances: %d)", s.Service.Instances), func() error {
			_, err := h.Systemd.Disable(ctx, unit)
			return err
		})
		return changes, err
	}
	return changes, nil
}

// staleInstances lists the instances of a template service that are
// enabled but beyond its instances count: those an earlier run, with a
// larger count, enabled. They are found by the links that enable them in
// /etc/systemd/system/*.wants and *.requires.
func (s *EnsureService) staleInstances(h *Host) ([]string, error) {
	if s.Service.Instances == 0 {
		return nil, nil
	}
	dirs, err := os.ReadDir(h.hostPath(spec.UnitDir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("list enabled instances: %w", err)
	}
	want := s.Service.Units()
	var stale []string
	for _, d := range dirs {
		if !d.IsDir() || !strings.HasSuffix(d.Name(), ".wants") && !strings.HasSuffix(d.Name(), ".requires") {
			continue
		}
		links, err := os.ReadDir(h.hostPath(path.Join(spec.UnitDir, d.Name())))
		if err != nil {
			return nil, fmt.Errorf("list enabled instances: %w", err)
		}
		for _, l := range links {
			name := l.Name()
			num, ok := strings.CutPrefix(strings.TrimSuffix(name, ".service"), s.Service.Name+"@")
			if !ok || !strings.HasSuffix(name, ".service") || num == "" || slices.Contains(want, name) || slices.Contains(stale, name) {
				continue
			}
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	return stale, nil
}

// jobFunc starts or restarts a unit.
type jobFunc func(ctx context.Context, unit string) error

// startOrRestart records "VERB DETAIL" and, when applying, starts or
// restarts unit with wait; while the system is booting (see
// Host.booting) it queues the job with queue instead and says so. The
// check after apply accepts the queued job: a unit whose start job is
// queued counts as started.
func startOrRestart(ctx context.Context, h *Host, unit, verb, detail string, wait, queue jobFunc, do func(string, func() error) error) error {
	booting, err := h.booting(ctx)
	if err != nil {
		return err
	}
	summary, run := verb+" "+detail, wait
	if booting {
		summary, run = verb+" queued, not waited for "+detail+": "+bootNote, queue
	}
	return do(summary, func() error {
		h.Run.markFresh(unit)
		return run(ctx, unit)
	})
}

// states returns the state of units, from this run's cache when no step
// has changed systemd since it was read.
func (h *Host) states(ctx context.Context, units ...string) ([]dbusctl.UnitState, error) {
	if h.Systemd == nil {
		return nil, errors.New("no service manager")
	}
	out := make([]dbusctl.UnitState, len(units))
	var missing []string
	for i, u := range units {
		st, ok := h.Run.states[u]
		if !ok {
			missing = append(missing, u)
			continue
		}
		out[i] = st
	}
	if len(missing) == 0 {
		return out, nil
	}
	got, err := h.Systemd.States(ctx, missing...)
	if err != nil {
		return nil, fmt.Errorf("read unit states: %w", err)
	}
	if h.Run.states == nil {
		h.Run.states = map[string]dbusctl.UnitState{}
	}
	for _, st := range got {
		h.Run.states[st.Name] = st
	}
	for i, u := range units {
		st, ok := h.Run.states[u]
		if !ok {
			return nil, fmt.Errorf("read unit states: systemd did not report %s", u)
		}
		out[i] = st
	}
	return out, nil
}
