package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"

	"github.com/provision-dev/provision/internal/crash"
	"github.com/provision-dev/provision/internal/rootfs"
)

// Mode says whether a run changes the host.
type Mode int

const (
	// ModeApply makes the host match the spec.
	ModeApply Mode = iota
	// ModeCheck only reports what ModeApply would change.
	ModeCheck
)

// Status is the outcome of one step.
type Status string

// The outcomes of a step. In ModeCheck, StatusChanged means "would change".
const (
	StatusOK      Status = "ok"
	StatusChanged Status = "changed"
	StatusFailed  Status = "failed"
	StatusSkipped Status = "skipped"
)

// Result is what happened to one step.
type Result struct {
	ID       string
	Status   Status
	Changes  []Change
	Err      error
	Duration time.Duration
}

// ErrNotConverged is returned for a step whose check still finds
// differences right after it applied its changes.
var ErrNotConverged = errors.New("did not converge")

// Run runs the steps of g in order on h, with state of its own: nothing
// is remembered from an earlier Run, on h or elsewhere.
//
// A step whose needs failed or were skipped is skipped; independent steps
// still run. A step that changed something (in ModeCheck: would change
// something) notifies the steps it has notify edges to, which are handed
// the event when they run. In ModeApply a step that changed something is
// checked again, without its events, and fails if it still differs. Each
// result is passed to report, in the graph's order, as soon as it and
// those before it are known (report may be nil). A service's settle
// window (Host.Settle) runs alongside the steps after it; its step's
// result is known when the window is over.
//
// While h.Connected has not said that systemd is reachable, steps are
// only checked: a step whose check finds something to change, or fails,
// waits for it and then runs as usual. A no-op run thus reads the files
// while systemd sets up the connection, and a host whose systemd cannot
// be reached is not changed at all: when h.Connected fails, Run returns
// no results and its error, and reports nothing.
//
// The error collects every failed step's error, prefixed with the step's
// ID, or is nil. A graph with an edge to an unknown or later step is not
// run at all: Run returns no results and an error wrapping ErrBadGraph.
func Run(ctx context.Context, h *Host, g *Graph, mode Mode, report func(Result)) ([]Result, error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	rs := &runState{host: h, dirs: rootfs.NewDirs()}
	defer rs.dirs.Close()
	if !crash.Armed() {
		rs.syncs = rootfs.NewDirSyncs()
		defer rs.syncs.Close()
	}
	results := make([]Result, 0, len(g.nodes))
	index := make(map[Step]int, len(g.nodes))
	status := make(map[Step]Status, len(g.nodes))
	touched := make(map[Step][]string, len(g.nodes))
	// later holds what steps deferred, by step (see deferred): such a
	// step's result waits for it, and so does every step that needs it
	// or is notified by it.
	type pending struct {
		n  *node
		ds []deferred
	}
	later := make(map[Step]pending)
	wait := func(s Step) {
		if p, ok := later[s]; ok {
			r := &results[index[s]]
			resolved(r, p.ds)
			if r.Status == StatusChanged && mode == ModeApply {
				// The check after the apply, once what it deferred
				// is done.
				recheck(ctx, p.n, &Env{Host: h, run: rs}, r)
			}
			status[s] = r.Status
			delete(later, s)
		}
	}
	connected := h.Connected == nil
	connect := func() error {
		if connected {
			return nil
		}
		if err := h.Connected(); err != nil {
			return err
		}
		connected = true
		return nil
	}
	reported := 0
	flush := func() {
		if !connected {
			return
		}
		for ; reported < len(results); reported++ {
			s := g.nodes[reported].step
			if p, open := later[s]; open {
				if !allReady(p.ds) {
					return
				}
				wait(s)
			}
			if report != nil {
				report(results[reported])
			}
		}
	}
	for _, n := range g.nodes {
		for _, s := range n.needs {
			wait(s)
		}
		for _, s := range n.notifiedBy {
			wait(s)
		}
		env := &Env{Host: h, Apply: mode == ModeApply, run: rs}
		for _, from := range n.notifiedBy {
			if status[from] == StatusChanged {
				env.events = append(env.events, Event{From: from.ID(), Units: touched[from]})
			}
		}
		if asksSystemd(n.step) {
			if err := connect(); err != nil {
				return nil, err
			}
		}
		if !connected {
			// Checked only, until systemd is known reachable. Such
			// a step only reads files, and its check changes
			// nothing, defers nothing and notifies no one when it
			// finds nothing to change, as its apply would.
			env.Apply = false
		}
		r := runStep(ctx, n, env, status)
		if !connected && r.Status != StatusOK {
			if err := connect(); err != nil {
				return nil, err
			}
			if mode == ModeApply {
				env = &Env{Host: h, Apply: true, run: rs}
				r = runStep(ctx, n, env, status)
			}
		}
		status[n.step] = r.Status
		if r.Status == StatusChanged {
			touched[n.step] = env.touched
		}
		index[n.step] = len(results)
		results = append(results, r)
		if len(env.deferred) > 0 {
			later[n.step] = pending{n, env.deferred}
		}
		flush()
	}
	if err := connect(); err != nil {
		return nil, err
	}
	for _, n := range g.nodes {
		wait(n.step)
	}
	flush()
	var errs *multierror.Error
	for _, r := range results {
		if r.Err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %w", r.ID, r.Err))
		}
	}
	return results, errs.ErrorOrNil()
}

// systemdStep is implemented by the steps that ask systemd, or tell it,
// in their check: Run waits for Host.Connected before one.
type systemdStep interface {
	asksSystemd()
}

func asksSystemd(s Step) bool {
	_, ok := s.(systemdStep)
	return ok
}

func runStep(ctx context.Context, n *node, env *Env, status map[Step]Status) Result {
	r := Result{ID: n.step.ID()}
	var blocked []string
	for _, need := range n.needs {
		if st := status[need]; st == StatusFailed || st == StatusSkipped {
			blocked = append(blocked, need.ID())
		}
	}
	if len(blocked) > 0 {
		r.Status = StatusSkipped
		r.Err = fmt.Errorf("skipped: needs %s", strings.Join(blocked, ", "))
		return r
	}
	if ctx.Err() != nil {
		r.Status, r.Err = StatusFailed, fmt.Errorf("%w before the step started", ErrInterrupted)
		return r
	}
	start := time.Now()
	env.converging = true
	r.Changes, r.Err = n.step.Converge(ctx, env)
	env.converging = false

	if env.Apply && r.Err == nil && len(r.Changes) > 0 && len(env.deferred) == 0 {
		recheckErr(ctx, n, &Env{Host: env.Host, run: env.run}, &r)
	}
	r.Duration = time.Since(start)
	if r.Err != nil && ctx.Err() != nil && !errors.Is(r.Err, ErrInterrupted) {
		// Whatever a step says after an interruption, it was
		// interrupted: "rejected by visudo" would not be true.
		r.Err = fmt.Errorf("%w: %v", ErrInterrupted, r.Err)
	}
	switch {
	case r.Err != nil:
		r.Status = StatusFailed
	case len(r.Changes) > 0:
		r.Status = StatusChanged
	default:
		r.Status = StatusOK
	}
	return r
}

// recheckErr converges n again without applying, after an apply that
// changed something, and sets r.Err when that fails or still finds
// differences.
func recheckErr(ctx context.Context, n *node, env *Env, r *Result) {
	if rest, err := n.step.Converge(ctx, env); err != nil {
		r.Err = fmt.Errorf("check after apply: %w", err)
	} else if len(rest) > 0 {
		r.Err = fmt.Errorf("%w: still differs: %s", ErrNotConverged, summaries(rest))
	}
}

// recheck is recheckErr for a result known only once what its step
// deferred is done; a failure fails r.
func recheck(ctx context.Context, n *node, env *Env, r *Result) {
	if recheckErr(ctx, n, env, r); r.Err != nil {
		if ctx.Err() != nil && !errors.Is(r.Err, ErrInterrupted) {
			r.Err = fmt.Errorf("%w: %v", ErrInterrupted, r.Err)
		}
		r.Status = StatusFailed
	}
}

func summaries(cs []Change) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Summary
	}
	return strings.Join(s, "; ")
}

// Counts tallies results by status.
func Counts(results []Result) map[Status]int {
	m := map[Status]int{}
	for _, r := range results {
		m[r.Status]++
	}
	return m
}
