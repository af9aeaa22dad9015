package steps

import (
	"context"
	"errors"
	"fmt"

	"provision/dbusctl"
	"provision/spec"
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
	unit := s.Service.UnitName()
	states, err := h.states(ctx, unit)
	if err != nil {
		return nil, err
	}
	st := states[0]
	var changes []Change
	do := func(summary string, fn func() error) error {
		changes = append(changes, Change{Summary: summary})
		if !apply {
			return nil
		}
		defer h.Run.forgetStates()
		return fn()
	}

	wantEnabled := s.Service.Enabled == nil || *s.Service.Enabled
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

	changed := h.Run.Changed(s.UnitStep) && !h.Run.fresh[unit]
	switch {
	case s.Service.State == spec.StateStarted && !st.Active() && !st.StartQueued():
		detail := fmt.Sprintf("(%s -> active)", orNone(st.ActiveState))
		err = s.startOrRestart(ctx, h, "start", detail, h.Systemd.Start, h.Systemd.StartNoWait, do)
	case s.Service.State == spec.StateStopped && (st.Active() || st.StartQueued()):
		from := st.ActiveState
		if st.StartQueued() {
			from += ", " + st.Job + " queued"
		}
		err = do(fmt.Sprintf("stop (%s -> inactive)", from), func() error {
			return h.Systemd.Stop(ctx, unit)
		})
	case s.Service.State != spec.StateStopped && st.Active() && changed:
		err = s.startOrRestart(ctx, h, "restart", "(unit changed)", h.Systemd.Restart, h.Systemd.RestartNoWait, do)
	}
	return changes, err
}

// jobFunc starts or restarts a unit.
type jobFunc func(ctx context.Context, unit string) error

// startOrRestart records "VERB DETAIL" and, when applying, starts or
// restarts the service's unit with wait; while the system is booting (see
// Host.booting) it queues the job with queue instead and says so. The
// check after apply accepts the queued job: a unit whose start job is
// queued counts as started.
func (s *EnsureService) startOrRestart(ctx context.Context, h *Host, verb, detail string, wait, queue jobFunc, do func(string, func() error) error) error {
	booting, err := h.booting(ctx)
	if err != nil {
		return err
	}
	summary, run := verb+" "+detail, wait
	if booting {
		summary, run = verb+" queued, not waited for "+detail+": "+bootNote, queue
	}
	unit := s.Service.UnitName()
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
