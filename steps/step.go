// Package steps holds provision's idempotent host changes. Each step reads
// the host, says what differs from the spec in words a person can read, and
// fixes only that. The same code path serves plan (check only) and apply.
package steps

import (
	"context"

	"github.com/provision-dev/provision/dbusctl"
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
// Check reports what differs and changes nothing. Apply makes the host match
// and returns what it changed; calling Apply on a converged host changes
// nothing and returns no changes. Both read the host afresh.
type Step interface {
	// ID names the step uniquely, e.g. "file /etc/sudoers.d/sidekiq-users".
	ID() string
	// Needs lists the IDs of steps that must succeed before this one runs.
	Needs() []string
	Check(ctx context.Context, h *Host) ([]Change, error)
	Apply(ctx context.Context, h *Host) ([]Change, error)
}

// Systemd is what steps need from the service manager. dbusctl.Conn
// implements it online; Offline implements it for a tree that is not running.
type Systemd interface {
	Reload(ctx context.Context) error
	Enable(ctx context.Context, units ...string) (changed bool, err error)
	Disable(ctx context.Context, units ...string) (changed bool, err error)
	Start(ctx context.Context, unit string) error
	StartNoWait(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	RestartNoWait(ctx context.Context, unit string) error
	States(ctx context.Context, units ...string) ([]dbusctl.UnitState, error)
	SystemState(ctx context.Context) (dbusctl.SystemState, error)
}

// Host is the machine (or directory tree) being converged.
type Host struct {
	// Root is the host's root directory: "/" online, the tree with --root.
	Root string
	// Systemd is the service manager.
	Systemd Systemd
	// Offline is true with --root: users are made with --root, nothing is started.
	Offline bool
	// Exec runs a helper command (useradd, visudo, ...) and returns its
	// combined output. Tests replace it.
	Exec func(ctx context.Context, name string, args ...string) ([]byte, error)
	// Run records what changed in this run, for steps that react to others.
	Run *RunState
}

// RunState is shared by the steps of one run.
type RunState struct {
	changed map[string]bool
	// fresh holds units started or restarted in this run: their processes
	// run the unit as it is now.
	fresh    map[string]bool
	reloaded bool
	// states caches unit states until a step changes systemd.
	states map[string]dbusctl.UnitState
	// accounts and groups cache /etc/passwd and /etc/group until a helper
	// command runs.
	accounts map[string]account
	groups   map[string]group
}

func (r *RunState) markFresh(unit string) {
	if r.fresh == nil {
		r.fresh = map[string]bool{}
	}
	r.fresh[unit] = true
}

func (r *RunState) forgetStates() { r.states = nil }

// MarkChanged records that step id changed the host.
func (r *RunState) MarkChanged(id string) {
	if r.changed == nil {
		r.changed = map[string]bool{}
	}
	r.changed[id] = true
}

// Changed reports whether step id changed the host in this run.
func (r *RunState) Changed(id string) bool { return r.changed[id] }
