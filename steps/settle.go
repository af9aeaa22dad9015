package steps

import (
	"context"
	"errors"
)

// settling is one settle window under way: the watch of a unit a step
// started or restarted (see Host.Settle), which runs while the run goes
// on. Its result is the step's, once known.
type settling struct {
	unit string
	done chan error
}

// settle starts watching unit for Host.Settle after verb, in the
// background: the windows of a run's services overlap, so a run with
// many services waits one window, not one per service. The runner holds
// the step's result, and any step that needs it or is notified by it,
// until the window is over (see Run).
func (e *Env) settle(ctx context.Context, verb, unit string) {
	s := settling{unit: unit, done: make(chan error, 1)}
	go func() { s.done <- e.Host.Systemd.Watch(ctx, verb, unit, e.Host.Settle) }()
	e.settling = append(e.settling, s)
}

// settled waits for the windows of r's step and fails r with what they
// found.
func settled(r *Result, windows []settling) {
	errs := []error{r.Err}
	for _, s := range windows {
		if err := <-s.done; err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.Err, r.Status = err, StatusFailed
	}
}
