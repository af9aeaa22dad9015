package steps

import (
	"context"
	"fmt"
	"strings"
)

// DaemonReload reloads systemd's configuration when, and only when, a unit
// file changed: one written in this run, or one changed on disk since
// systemd last loaded it (NeedDaemonReload). Units it finds stale are
// marked changed so their services are restarted.
type DaemonReload struct {
	deps
	// Units maps each managed unit name to the ID of the step writing it.
	Units map[string]string
}

// ID implements Step.
func (s *DaemonReload) ID() string { return "daemon-reload" }

// Check implements Step.
func (s *DaemonReload) Check(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, false)
}

// Apply implements Step.
func (s *DaemonReload) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, true)
}

func (s *DaemonReload) converge(ctx context.Context, h *Host, apply bool) ([]Change, error) {
	if h.Offline || len(s.Units) == 0 {
		return nil, nil
	}
	var why []string
	var names []string
	for name, step := range s.Units {
		names = append(names, name)
		if !h.Run.reloaded && h.Run.Changed(step) {
			why = append(why, name)
		}
	}
	states, err := h.states(ctx, names...)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		if st.NeedDaemonReload && !h.Run.Changed(s.Units[st.Name]) {
			why = append(why, st.Name+" (changed on disk)")
			h.Run.MarkChanged(s.Units[st.Name])
		}
	}
	if len(why) == 0 {
		return nil, nil
	}
	c := Change{Summary: "reload systemd: " + strings.Join(sorted(why), ", ")}
	if apply {
		// After the reload, nothing on the host says that a running
		// service still runs its old unit: a run killed before the
		// restart would leave it so for good. A marker says it until
		// EnsureService has restarted the service.
		for _, st := range states {
			if h.Run.Changed(s.Units[st.Name]) && (st.Active() || st.StartQueued()) {
				if err := restartPending.mark(h, st.Name); err != nil {
					return nil, err
				}
			}
		}
		if err := h.Systemd.Reload(ctx); err != nil {
			return nil, fmt.Errorf("daemon-reload: %w", err)
		}
		crashPoint("daemon-reload", "systemd", "done")
		h.Run.forgetStates()
		h.Run.reloaded = true
	}
	return []Change{c}, nil
}
