package steps

import (
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowStep takes a while to check, and finds nothing to change.
type slowStep struct{}

func (slowStep) ID() string { return "slow" }
func (slowStep) Converge(context.Context, *Env) ([]Change, error) {
	time.Sleep(2 * time.Millisecond)
	return nil, nil
}

// Each result carries how long its step took.
func TestRunRecordsDuration(t *testing.T) {
	h, _ := testHost(t)
	res, err := Run(context.Background(), h, graphOf(&slowStep{}), ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Duration < 2*time.Millisecond {
		t.Errorf("duration %v, want at least 2ms", res[0].Duration)
	}
}

// probeStep records the events it is handed, and changes something when
// change is set (once: the check after an apply finds nothing).
type probeStep struct {
	id      string
	change  bool
	touch   []string
	fail    bool
	applied bool
	events  [][]Event
}

func (p *probeStep) ID() string { return p.id }
func (p *probeStep) Converge(ctx context.Context, e *Env) ([]Change, error) {
	p.events = append(p.events, e.Notified())
	if p.fail {
		return nil, errors.New("broken")
	}
	if !p.change || p.applied {
		return nil, nil
	}
	if e.Apply {
		p.applied = true
	}
	e.Touch(p.touch...)
	return []Change{{Summary: "change"}}, nil
}

// A step is handed the events of the steps that notify it and changed,
// with the units they touched, and none in the check after its apply; a
// notifier that failed or changed nothing sends none, and a notification
// is not a need.
func TestRunNotifies(t *testing.T) {
	h, _ := testHost(t)
	a := &probeStep{id: "a", change: true, touch: []string{"x.service"}}
	b := &probeStep{id: "b"}
	c := &probeStep{id: "c", fail: true}
	d := &probeStep{id: "d", change: true}
	g := &Graph{}
	g.Add(a)
	g.Add(b)
	g.Add(c)
	g.Add(d)
	g.Notify(a, d)
	g.Notify(b, d)
	g.Notify(c, d)
	res, _ := Run(context.Background(), h, g, ModeApply, nil)
	if res[3].Status != StatusChanged {
		t.Fatalf("d: %+v", res[3])
	}
	want := [][]Event{{{From: "a", Units: []string{"x.service"}}}, nil}
	if len(d.events) != 2 || !slices.EqualFunc(d.events[0], want[0], eventEqual) || len(d.events[1]) != 0 {
		t.Errorf("d was handed %+v, want %+v", d.events, want)
	}
}

func eventEqual(a, b Event) bool { return a.From == b.From && slices.Equal(a.Units, b.Units) }

// A plan notifies as an apply does: "would change" reaches the steps
// downstream, so a plan shows the reload and the restart an apply makes.
func TestCheckNotifies(t *testing.T) {
	h, _ := testHost(t)
	a := &probeStep{id: "a", change: true}
	b := &probeStep{id: "b"}
	g := &Graph{}
	g.Add(a)
	g.Add(b)
	g.Notify(a, b)
	if _, err := Run(context.Background(), h, g, ModeCheck, nil); err != nil {
		t.Fatal(err)
	}
	if a.applied || len(b.events) != 1 || len(b.events[0]) != 1 {
		t.Errorf("check: a applied %v, b handed %+v", a.applied, b.events)
	}
}

// A graph with an edge to a later step, or to a step it does not hold, or
// with two steps of one ID, is refused before anything runs.
func TestRunRefusesBadGraphs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(a, b, other *probeStep) *Graph
		want  string
	}{
		{"need on a later step", func(a, b, _ *probeStep) *Graph {
			g := &Graph{}
			g.Add(a)
			g.Add(b)
			g.Need(a, b)
			return g
		}, "a needs b, which runs after it"},
		{"notified by a later step", func(a, b, _ *probeStep) *Graph {
			g := &Graph{}
			g.Add(a)
			g.Add(b)
			g.Notify(b, a)
			return g
		}, "a is notified by b, which runs after it"},
		{"need on an unknown step", func(a, _, other *probeStep) *Graph {
			g := &Graph{}
			g.Add(a, other)
			return g
		}, "a needs other, which is not in the graph"},
		{"two steps of one ID", func(a, _, _ *probeStep) *Graph {
			g := &Graph{}
			g.Add(a)
			g.Add(&probeStep{id: "a"})
			return g
		}, "two steps are named a"},
		{"a step added twice", func(a, _, _ *probeStep) *Graph {
			g := &Graph{}
			g.Add(a)
			g.Add(a)
			return g
		}, "step a is added twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testHost(t)
			a, b, other := &probeStep{id: "a", change: true}, &probeStep{id: "b"}, &probeStep{id: "other"}
			res, err := Run(context.Background(), h, tc.build(a, b, other), ModeApply, nil)
			if !errors.Is(err, ErrBadGraph) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if len(res) != 0 || a.events != nil {
				t.Errorf("ran steps of a bad graph: %+v", res)
			}
		})
	}
}

// brokenReload is a fakeSystemd whose Reload fails.
type brokenReload struct{ *fakeSystemd }

func (b *brokenReload) Reload(ctx context.Context) error {
	return errors.New("call Manager.Reload: connection closed")
}

// Each layer says once what it was doing: the runner names the step, the
// service manager its call.
func TestErrorsWrappedOnce(t *testing.T) {
	h, _ := testHost(t)
	h.Systemd = &brokenReload{newFakeSystemd()}
	_, err := Run(context.Background(), h, Build(serviceSpec(sidekiq())), ModeApply, nil)
	if err == nil {
		t.Fatal("a failed reload is not an error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "* daemon-reload: call Manager.Reload: connection closed\n") || strings.Contains(msg, "daemon-reload: daemon-reload") {
		t.Errorf("error %q: want the step named once, then the call", msg)
	}
	if !strings.Contains(msg, "service sidekiq: skipped: needs daemon-reload") {
		t.Errorf("error %q: want the service skipped for the reload", msg)
	}
}

// An interrupted helper is stopped with its process group, and its error
// says "interrupted", whatever the helper printed.
func TestExecCommandInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	out, err := ExecCommand(ctx, "sh", "-c", `sleep 30 & echo $!; echo "rejected by visudo"; wait`)
	if !errors.Is(err, ErrInterrupted) || strings.Contains(err.Error(), "rejected") {
		t.Fatalf("ExecCommand = %v, want it interrupted", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("returned after %v", d)
	}
	pid, _ := strconv.Atoi(strings.Fields(string(out))[0])
	if pid <= 0 {
		t.Fatalf("no pid in %q", out)
	}
	// Gone, or dead and waiting to be reaped by init, once the signal
	// is delivered.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper's child %d is still running: %s", pid, stat)
		}
	}
}

// settleStep starts its unit once and watches it (see Env.settle).
type settleStep struct {
	unit    string
	started bool
}

func (s *settleStep) ID() string { return "service " + s.unit }
func (s *settleStep) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.started {
		return nil, nil
	}
	if e.Apply {
		s.started = true
		e.settle(ctx, "start", s.unit)
	}
	return []Change{{Summary: "start"}}, nil
}

// gatedSystemd holds each Watch until released, and fails those of the
// units in crash.
type gatedSystemd struct {
	*fakeSystemd
	watching chan string
	release  chan struct{}
	crash    map[string]bool
}

func (g *gatedSystemd) Watch(ctx context.Context, verb, unit string, window time.Duration) error {
	g.watching <- unit
	<-g.release
	if g.crash[unit] {
		return errors.New(unit + " did not stay up")
	}
	return nil
}

// The settle windows of a run's services overlap: the second service's
// window opens while the first's is still open. A step that needs a
// watched step waits for its window and is skipped when it failed; the
// results are still reported in the graph's order, none before the first
// window is over.
func TestRunSettleWindowsOverlap(t *testing.T) {
	h, sd := testHost(t)
	gs := &gatedSystemd{fakeSystemd: sd, watching: make(chan string), release: make(chan struct{}), crash: map[string]bool{"a.service": true}}
	h.Systemd = gs
	a, b := &settleStep{unit: "a.service"}, &settleStep{unit: "b.service"}
	c, d := &probeStep{id: "c", change: true}, &probeStep{id: "d", change: true}
	g := &Graph{}
	g.Add(a)
	g.Add(b)
	g.Add(c, a)
	g.Add(d)

	var mu sync.Mutex
	var reported []string
	type outcome struct {
		res []Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Run(context.Background(), h, g, ModeApply, func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, r.ID+" "+string(r.Status))
		})
		done <- outcome{res, err}
	}()
	var watching []string
	for len(watching) < 2 {
		select {
		case u := <-gs.watching:
			watching = append(watching, u)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %q watched at once: the windows do not overlap", watching)
		}
	}
	mu.Lock()
	early := slices.Clone(reported)
	mu.Unlock()
	if len(early) > 0 {
		t.Errorf("reported %q before the first window was over", early)
	}
	close(gs.release)
	o := <-done
	want := []string{"service a.service failed", "service b.service changed", "c skipped", "d changed"}
	if !slices.Equal(reported, want) {
		t.Errorf("reported %q, want %q", reported, want)
	}
	if o.err == nil || !strings.Contains(o.err.Error(), "service a.service: a.service did not stay up") {
		t.Errorf("error %v, want a.service's window named", o.err)
	}
	if len(c.events) != 0 {
		t.Errorf("c ran although the step it needs failed")
	}
}
