// Package steps holds provision's idempotent host changes and the runner
// that orders them. Each step reads the host, says what differs from the
// spec in words a person can read, and, when applying, fixes only that:
// plan (check only) and apply are one code path. Steps react to each
// other only through the edges Build declares (see Graph); the runner
// hands each step what the steps that notify it did.
package steps

import (
	"context"
	"slices"
)

// Change is one difference between the host and the spec.
type Change struct {
	// Summary is a short line such as "mode 0644 -> 0600" or "create".
	Summary string
	// Diff is an optional unified diff of a file's content.
	Diff string
}

// Step is one idempotent unit of convergence.
//
// Converge reads the host afresh and returns what differs from the spec.
// When env.Apply is false it changes nothing; when it is true it makes the
// host match and returns what it changed. Converging a converged host
// changes nothing and returns no changes. The runner calls Converge again,
// without applying and without notifications, after an Apply that changed
// something, and fails the step if differences remain.
type Step interface {
	// ID names the step uniquely in its graph, e.g.
	// "file /etc/sudoers.d/sidekiq-users".
	ID() string
	Converge(ctx context.Context, env *Env) ([]Change, error)
}

// Event is what a step that changed something (or, when checking, would
// change something) tells a step it notifies.
type Event struct {
	// From is the ID of the notifying step, for messages.
	From string
	// Units are the units whose configuration the change concerns, as
	// the notifying step declared them with Env.Touch; often none.
	Units []string
}

// Env is what the runner hands a step for one call of Converge: the host,
// whether to apply, the events of the steps that notify it, and the run's
// caches. A new run starts with fresh caches: nothing carries over from an
// earlier Run on the same Host.
type Env struct {
	// Host is the machine or tree being converged.
	Host *Host
	// Apply is true when the step is to make the host match, false when
	// it only checks.
	Apply bool

	events   []Event
	touched  []string
	deferred []deferred
	// converging is true while the step's Converge runs (not in the
	// check after an apply, nor in what it deferred): only then may its
	// result wait for what it started.
	converging bool
	run        *runState
}

// Notified returns the events of this run's steps that notify the step
// and changed something before it ran; none in the check after an apply,
// since the apply has reacted to them.
func (e *Env) Notified() []Event { return e.events }

// Touched reports whether an event the step was notified of concerns unit.
func (e *Env) Touched(unit string) bool {
	for _, ev := range e.events {
		if slices.Contains(ev.Units, unit) {
			return true
		}
	}
	return false
}

// Touch declares that the step's change concerns the configuration of
// units, for the steps it notifies (see Event.Units).
func (e *Env) Touch(units ...string) {
	for _, u := range units {
		if !slices.Contains(e.touched, u) {
			e.touched = append(e.touched, u)
		}
	}
}
