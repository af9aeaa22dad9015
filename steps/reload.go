package steps

import (
	"context"
	"slices"
	"strings"

	"github.com/provision-dev/provision/internal/crash"
)

// daemonReload reloads systemd's configuration when, and only when,
// something it reads changed: a unit file or [Install] links a step
// before it changed in this run (it is notified of them), or a managed
// unit whose file changed on disk since systemd loaded it
// (NeedDaemonReload). It touches the units whose configuration changed, so
// that the steps it notifies restart those that run; a change of links
// alone restarts nothing. One reload serves the whole run.
type daemonReload struct {
	// units are the managed units, whose NeedDaemonReload is checked.
	units []string
}

func (s *daemonReload) ID() string { return "daemon-reload" }

func (s *daemonReload) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if e.Host.Offline || len(s.units) == 0 {
		return nil, nil
	}
	var stale, why, links []string
	for _, ev := range e.Notified() {
		if len(ev.Units) == 0 {
			links = append(links, "links changed by "+ev.From)
		}
		for _, u := range ev.Units {
			if !slices.Contains(stale, u) {
				stale = append(stale, u)
				why = append(why, u)
			}
		}
	}
	states, err := e.states(ctx, s.units...)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		if st.NeedDaemonReload && !slices.Contains(stale, st.Name) {
			stale = append(stale, st.Name)
			why = append(why, st.Name+" (changed on disk)")
		}
	}
	if len(why)+len(links) == 0 {
		return nil, nil
	}
	slices.Sort(why)
	slices.Sort(links)
	why = append(why, links...)
	e.Touch(stale...)
	c := Change{Summary: "reload systemd: " + strings.Join(why, ", ")}
	if !e.Apply {
		return []Change{c}, nil
	}
	// After the reload, nothing on the host says that a running service
	// still runs its old unit: a run killed before the restart would
	// leave it so for good. A marker says it until ensureService has
	// restarted the service.
	for _, st := range states {
		if slices.Contains(stale, st.Name) && (st.Active() || st.StartQueued()) {
			if err := restartPending.mark(e, st.Name); err != nil {
				return nil, err
			}
		}
	}
	if err := e.Host.Systemd.Reload(ctx); err != nil {
		return nil, err
	}
	crash.Point("daemon-reload", "systemd", "done")
	e.forgetStates()
	return []Change{c}, nil
}
