package steps

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-multierror"
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

// Run runs steps in order. A step whose needs failed or were skipped is
// skipped; independent steps still run. In ModeApply a step that changed
// something is checked again and fails if it still differs. Each result is
// passed to report as soon as it is known (report may be nil). The error
// collects every failed step's error, or is nil.
func Run(ctx context.Context, h *Host, steps []Step, mode Mode, report func(Result)) ([]Result, error) {
	if h.Run == nil {
		h.Run = &RunState{}
	}
	results := make([]Result, 0, len(steps))
	outcome := map[string]Status{}
	var errs *multierror.Error
	for _, s := range steps {
		r := runStep(ctx, h, s, mode, outcome)
		outcome[r.ID] = r.Status
		if r.Status == StatusChanged {
			h.Run.MarkChanged(r.ID)
		}
		if r.Err != nil {
			errs = multierror.Append(errs, fmt.Errorf("%s: %w", r.ID, r.Err))
		}
		results = append(results, r)
		if report != nil {
			report(r)
		}
	}
	return results, errs.ErrorOrNil()
}

func runStep(ctx context.Context, h *Host, s Step, mode Mode, outcome map[string]Status) Result {
	r := Result{ID: s.ID()}
	var blocked []string
	for _, n := range s.Needs() {
		if st := outcome[n]; st == StatusFailed || st == StatusSkipped {
			blocked = append(blocked, n)
		}
	}
	if len(blocked) > 0 {
		r.Status = StatusSkipped
		r.Err = fmt.Errorf("skipped: needs %s", strings.Join(blocked, ", "))
		return r
	}
	if err := ctx.Err(); err != nil {
		r.Status, r.Err = StatusFailed, err
		return r
	}
	start := time.Now()
	if mode == ModeCheck {
		r.Changes, r.Err = s.Check(ctx, h)
	} else {
		r.Changes, r.Err = s.Apply(ctx, h)
		if r.Err == nil && len(r.Changes) > 0 {
			if rest, err := s.Check(ctx, h); err != nil {
				r.Err = fmt.Errorf("check after apply: %w", err)
			} else if len(rest) > 0 {
				r.Err = fmt.Errorf("%w: still differs: %s", ErrNotConverged, summaries(rest))
			}
		}
	}
	r.Duration = time.Since(start)
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
