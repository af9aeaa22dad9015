package steps

import (
	"context"
)

// restartUnit restarts a unit that provision does not manage as a service
// (Debian's redis-server.service) when the reload it is notified by
// touched it, a drop-in of it having changed, and it runs. A unit that
// does not run is left alone; it reads its drop-ins when it starts.
type restartUnit struct {
	unit string
}

func (s *restartUnit) ID() string { return "restart " + s.unit }

func (s *restartUnit) asksSystemd() {}

func (s *restartUnit) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if e.Host.Offline || !e.Touched(s.unit) {
		return nil, nil
	}
	states, err := e.states(ctx, s.unit)
	if err != nil {
		return nil, err
	}
	if !states[0].Active() {
		return nil, nil
	}
	var changes []Change
	do := func(summary string, fn func() error) error { return e.act(&changes, summary, fn) }
	err = startOrRestart(ctx, e, s.unit, "restart", "(a drop-in changed)", e.Host.Systemd.Restart, e.Host.Systemd.RestartNoWait, do, false)
	return changes, err
}
