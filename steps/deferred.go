package steps

import (
	"context"
	"errors"
)

// deferred is part of a step's result that is known only after the step
// returned: a settle window (see Env.settle), the check of the sudo
// configuration a run's drop-ins share (see sudoersBatch). The runner
// holds the step's result, and any step that needs it or is notified by
// it, until wait has answered.
type deferred struct {
	// ready reports, without blocking, whether wait would answer at once.
	ready func() bool
	// wait returns the error the step fails with, if any.
	wait func() error
	// undone, when set, reports after wait whether the step's changes
	// were undone (a drop-in put back): its result then lists none.
	undone func() bool
}

// settle starts watching unit for Host.Settle after verb, in the
// background: the windows of a run's services overlap, so a run with
// many services waits one window, not one per service.
func (e *Env) settle(ctx context.Context, verb, unit string) {
	done := make(chan error, 1)
	go func() { done <- e.Host.Systemd.Watch(ctx, verb, unit, e.Host.Settle) }()
	e.later(deferred{
		ready: func() bool { return len(done) > 0 },
		wait:  func() error { return <-done },
	})
}

// later adds d to the step's result.
func (e *Env) later(d deferred) { e.deferred = append(e.deferred, d) }

// resolved waits for what r's step deferred and fails r with what it
// found.
func resolved(r *Result, ds []deferred) {
	errs := []error{r.Err}
	for _, d := range ds {
		if err := d.wait(); err != nil {
			errs = append(errs, err)
		}
		if d.undone != nil && d.undone() {
			r.Changes = nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		r.Err, r.Status = err, StatusFailed
	}
}

// allReady reports whether every one of ds would answer at once.
func allReady(ds []deferred) bool {
	for _, d := range ds {
		if !d.ready() {
			return false
		}
	}
	return true
}
