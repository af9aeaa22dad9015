package steps

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// systemdProbe is a probeStep that asks systemd.
type systemdProbe struct{ probeStep }

func (*systemdProbe) asksSystemd() {}

// connection is a Host.Connected that records when it was called, in
// the order of the steps' checks.
type connection struct {
	err   error
	log   *[]string
	calls int
}

func (c *connection) connected() error {
	c.calls++
	*c.log = append(*c.log, "connected")
	return c.err
}

// logStep records each check, with whether it may apply.
type logStep struct {
	probeStep
	log *[]string
}

func (s *logStep) Converge(ctx context.Context, e *Env) ([]Change, error) {
	mode := "check"
	if e.Apply {
		mode = "apply"
	}
	*s.log = append(*s.log, s.id+" "+mode)
	return s.probeStep.Converge(ctx, e)
}

type logSystemdStep struct{ logStep }

func (*logSystemdStep) asksSystemd() {}

// Until systemd is known reachable, steps are only checked: one that
// finds nothing to change is done; the first that would change something
// waits for the connection and then applies; a step that asks systemd
// waits for it before its check.
func TestRunChecksUntilConnected(t *testing.T) {
	for _, tt := range []struct {
		name  string
		steps func(log *[]string) []Step
		want  []string
	}{
		{
			name: "no-op",
			steps: func(log *[]string) []Step {
				return []Step{
					&logStep{probeStep{id: "a"}, log},
					&logStep{probeStep{id: "b"}, log},
					&logSystemdStep{logStep{probeStep{id: "sd"}, log}},
					&logStep{probeStep{id: "c"}, log},
				}
			},
			want: []string{"a check", "b check", "connected", "sd apply", "c apply"},
		},
		{
			name: "a change before systemd is asked",
			steps: func(log *[]string) []Step {
				return []Step{
					&logStep{probeStep{id: "a"}, log},
					&logStep{probeStep{id: "b", change: true}, log},
					&logStep{probeStep{id: "c", change: true}, log},
				}
			},
			// b's check is made again, by its apply, and once more
			// after it (the check after the apply).
			want: []string{"a check", "b check", "connected", "b apply", "b check", "c apply", "c check"},
		},
		{
			name: "no step asks systemd",
			steps: func(log *[]string) []Step {
				return []Step{&logStep{probeStep{id: "a"}, log}}
			},
			want: []string{"a check", "connected"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := testHost(t)
			var log []string
			conn := &connection{log: &log}
			h.Connected = conn.connected
			var reported []string
			res, err := Run(context.Background(), h, graphOf(tt.steps(&log)...), ModeApply, func(r Result) { reported = append(reported, r.ID) })
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(log, tt.want) {
				t.Errorf("checks and connection:\n got %q\nwant %q", log, tt.want)
			}
			if conn.calls != 1 {
				t.Errorf("Connected called %d times, want 1", conn.calls)
			}
			if len(reported) != len(res) {
				t.Errorf("reported %q of %d results", reported, len(res))
			}
			for _, r := range res {
				if r.Status == StatusFailed {
					t.Errorf("%s failed: %v", r.ID, r.Err)
				}
			}
		})
	}
}

// When systemd cannot be reached, nothing is applied and nothing is
// reported: Run returns the connection's error and no results, whether
// a step would change something or a step asks systemd first.
func TestRunNotConnected(t *testing.T) {
	refused := errors.New("connect to systemd: refused")
	sd := func(p probeStep) *systemdProbe { return &systemdProbe{p} }
	for _, tt := range []struct {
		name  string
		steps func() []Step
	}{
		{"a change first", func() []Step {
			return []Step{&probeStep{id: "a"}, &probeStep{id: "b", change: true}, sd(probeStep{id: "sd"})}
		}},
		{"systemd asked first", func() []Step { return []Step{&probeStep{id: "a"}, sd(probeStep{id: "sd", change: true})} }},
		{"a failing check", func() []Step { return []Step{&probeStep{id: "a", fail: true}, &probeStep{id: "b", change: true}} }},
		{"nothing to change", func() []Step { return []Step{&probeStep{id: "a"}} }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []Mode{ModeApply, ModeCheck} {
				h, _ := testHost(t)
				var log []string
				h.Connected = (&connection{err: refused, log: &log}).connected
				steps := tt.steps()
				reported := 0
				res, err := Run(context.Background(), h, graphOf(steps...), mode, func(Result) { reported++ })
				if !errors.Is(err, refused) {
					t.Errorf("mode %v: error %v, want %v", mode, err, refused)
				}
				if res != nil || reported != 0 {
					t.Errorf("mode %v: %d results, %d reported; want none", mode, len(res), reported)
				}
				for _, s := range steps {
					p, ok := s.(*probeStep)
					if sp, isSD := s.(*systemdProbe); isSD {
						p, ok = &sp.probeStep, true
						if len(p.events) > 0 {
							t.Errorf("mode %v: %s, which asks systemd, was run", mode, p.id)
						}
					}
					if ok && p.applied {
						t.Errorf("mode %v: %s applied a change", mode, p.id)
					}
				}
			}
		})
	}
}
