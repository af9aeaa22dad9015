package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/internal/online"
	"github.com/provision-dev/provision/spec"
	"github.com/provision-dev/provision/steps"
)

// probeRun is one converge timed phase by phase inside one process.
type probeRun struct {
	Load    time.Duration            // read and validate the spec
	Connect time.Duration            // connect to systemd, from the dial: it overlaps Load and Steps
	Steps   time.Duration            // steps.Build and steps.Run
	Close   time.Duration            // close the connection
	Total   time.Duration            // all of it, as provision apply runs it
	Waited  time.Duration            // how long the steps waited for the connection
	Step    map[string]time.Duration // by step ID
	Status  map[string]string        // by step ID
	Order   []string                 // step IDs in run order
	// Execs are the helper commands the run executed, in order, each
	// timed from just before its fork to just after its wait, as
	// provision runs it (steps.Host.Exec).
	Execs []probeExec
	// Calls sums the calls the steps made to systemd, by method of
	// steps.Systemd.
	Calls map[string]probeCall
}

// probeExec is one helper command run by a probed converge.
type probeExec struct {
	Argv   []string
	Wall   time.Duration
	Failed bool
}

// probeCall is the calls of one steps.Systemd method in a run.
type probeCall struct {
	N    int
	Wall time.Duration
}

// stateReads are the steps.Systemd methods that read state and load
// nothing.
var stateReads = []string{"States", "Loaded", "SystemState"}

// systemdWall returns the time the run spent in the calls named, or in
// all calls when names is empty.
func (r probeRun) systemdWall(names ...string) (time.Duration, int) {
	var d time.Duration
	n := 0
	for name, c := range r.Calls {
		if len(names) == 0 || slices.Contains(names, name) {
			d += c.Wall
			n += c.N
		}
	}
	return d, n
}

// execWall returns the time the run spent in helper commands.
func (r probeRun) execWall() time.Duration {
	var d time.Duration
	for _, e := range r.Execs {
		d += e.Wall
	}
	return d
}

// probeReplay is a read-only helper command of the first converge run
// again, as provision runs it, on the converged host.
type probeReplay struct {
	Argv  []string
	Walls []time.Duration
}

// probeReport is what the probe mode prints, as JSON.
type probeReport struct {
	// Services is the number of services of the probed spec.
	Services int
	First    probeRun
	Noop     []probeRun
	// NoopLoaded are no-op runs after daemon-reloads, with the units
	// loaded by systemd.
	NoopLoaded []probeRun
	// Replays are the read-only helper commands of the first converge
	// (visudo, sudo), each run again several times.
	Replays []probeReplay
	// Reload times daemon-reloads over the probe's D-Bus connection.
	Reload []time.Duration
	// AllocPerNoop is the heap allocated by one in-process no-op.
	AllocPerNoop uint64
	// Profile is where the CPU profile of the profiled no-op runs is, in
	// the container.
	Profile      string
	ProfileRuns  int
	ProfileSpent time.Duration
	// pprofTop is `go tool pprof -top` of the profile, made on the host.
	pprofTop string
}

// probeMain is this program's mode inside a container: it converges the
// host to a spec the way `provision apply` does, with the same packages,
// timing each phase, each step, each helper command and each call to
// systemd; then it runs the read-only helper commands again, repeats the
// no-op, profiles the CPU over more no-op runs, times daemon-reloads and
// repeats the no-op once more.
func probeMain(args []string) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	file := fs.String("f", ctrSpec, "spec `file`")
	n := fs.Int("n", 30, "timed no-op runs")
	replays := fs.Int("replays", 5, "runs of each read-only helper command of the first converge")
	profileRuns := fs.Int("profile-runs", 150, "no-op runs under the CPU profiler")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the profiled runs to `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx := context.Background()
	var rep probeReport
	first, err := probeOnce(ctx, *file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe: first converge:", err)
		return 1
	}
	rep.First = first
	data, err := os.ReadFile(*file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	sp, err := spec.Load(*file, data)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	rep.Services = len(sp.Services)
	rep.Replays, err = replayHelpers(ctx, first.Execs, sp, *replays)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range *n {
		r, err := probeOnce(ctx, *file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "probe: no-op:", err)
			return 1
		}
		for id, st := range r.Status {
			if st != string(steps.StatusOK) {
				fmt.Fprintf(os.Stderr, "probe: no-op: %s is %s\n", id, st)
				return 1
			}
		}
		if len(r.Execs) > 0 {
			fmt.Fprintf(os.Stderr, "probe: no-op ran %q\n", r.Execs[0].Argv)
			return 1
		}
		rep.Noop = append(rep.Noop, r)
	}
	runtime.ReadMemStats(&after)
	if *n > 0 {
		rep.AllocPerNoop = (after.TotalAlloc - before.TotalAlloc) / uint64(*n)
	}

	if *profile != "" && *profileRuns > 0 {
		f, err := os.Create(*profile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			return 1
		}
		start := time.Now()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			return 1
		}
		for range *profileRuns {
			if _, err := probeOnce(ctx, *file); err != nil {
				fmt.Fprintln(os.Stderr, "probe: profiled no-op:", err)
				return 1
			}
		}
		pprof.StopCPUProfile()
		f.Close()
		rep.Profile, rep.ProfileRuns, rep.ProfileSpent = *profile, *profileRuns, time.Since(start)
	}
	// A daemon-reload after the first converge makes systemd load the
	// enabled unit as a dependency of its target and keep it loaded, as a
	// boot does; the no-op runs after it show what that saves.
	conn, err := dbusctl.Connect(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	for range 3 {
		start := time.Now()
		if err := conn.Reload(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			return 1
		}
		rep.Reload = append(rep.Reload, time.Since(start))
	}
	conn.Close()

	for range max(*n/3, 1) {
		r, err := probeOnce(ctx, *file)
		if err != nil {
			fmt.Fprintln(os.Stderr, "probe: no-op:", err)
			return 1
		}
		rep.NoopLoaded = append(rep.NoopLoaded, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		return 1
	}
	return 0
}

// probeOnce is one `provision apply -f file`, timed phase by phase, the
// phases overlapping as they do in provision: the connection to systemd is
// dialled first and made while the spec is read and the first steps check
// their files (steps.Host.Connected).
func probeOnce(ctx context.Context, file string) (probeRun, error) {
	r := probeRun{Step: map[string]time.Duration{}, Status: map[string]string{}}
	start := time.Now()
	pending := dbusctl.Dial(ctx)
	connect := make(chan time.Duration, 1)
	go func() {
		pending.Wait()
		connect <- time.Since(start)
	}()
	systemd := online.NewDialing(pending.Wait)
	defer systemd.Close()
	data, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	sp, err := spec.Load(file, data)
	if err != nil {
		return r, err
	}
	r.Load = time.Since(start)

	// Each step is timed by Run itself (Result.Duration: its apply and
	// the check after it). The reload runs in the background while the
	// steps after it run, so their times overlap it.
	steps0 := time.Now()
	sd := &timedSystemd{Systemd: systemd, ready: func() { systemd.Connected() }, calls: map[string]probeCall{}}
	h := steps.NewHost("/", sd)
	h.Connected = func() error {
		start := time.Now()
		err := systemd.Connected()
		sd.mu.Lock()
		sd.waited += time.Since(start)
		sd.mu.Unlock()
		return err
	}
	h.Exec = timedExec(h.Exec, &r.Execs)
	list := steps.Build(sp)
	_, err = steps.Run(ctx, h, list, steps.ModeApply, func(res steps.Result) {
		r.Step[res.ID] = res.Duration
		r.Status[res.ID] = string(res.Status)
		r.Order = append(r.Order, res.ID)
	})
	r.Steps = time.Since(steps0)
	r.Calls = sd.calls
	r.Waited = sd.waited
	if cerr := systemd.Connected(); cerr != nil {
		return r, cerr
	}
	r.Connect = <-connect

	closing := time.Now()
	systemd.Close()
	r.Close = time.Since(closing)
	r.Total = time.Since(start)
	return r, err
}

// execFunc is the type of steps.Host.Exec.
type execFunc = func(ctx context.Context, name string, args ...string) ([]byte, error)

// timedExec returns an Exec that runs each command with exec and appends
// it, timed, to log.
func timedExec(exec execFunc, log *[]probeExec) execFunc {
	var mu sync.Mutex
	return func(ctx context.Context, name string, args ...string) ([]byte, error) {
		start := time.Now()
		out, err := exec(ctx, name, args...)
		wall := time.Since(start)
		mu.Lock()
		*log = append(*log, probeExec{Argv: append([]string{name}, args...), Wall: wall, Failed: err != nil})
		mu.Unlock()
		return out, err
	}
}

// timedSystemd times the calls the steps make to systemd: the state
// reads, the read-back and the reload. The other methods pass through.
//
// Calls to one method that overlap (the read-backs made eight at once)
// count once: a method's Wall is the time at least one of its calls was
// under way, so that the phases still add up to the run.
type timedSystemd struct {
	steps.Systemd
	// ready, when set, waits for the connection: a call is timed from
	// when it can be made, the wait being the connection's.
	ready  func()
	waited time.Duration
	mu     sync.Mutex
	calls  map[string]probeCall
	active map[string]int
	since  map[string]time.Time
}

// begin records that a call to name starts; done, that it ended.
func (t *timedSystemd) begin(name string) string {
	if t.ready != nil {
		start := time.Now()
		t.ready()
		t.mu.Lock()
		t.waited += time.Since(start)
		t.mu.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.active == nil {
		t.active, t.since = map[string]int{}, map[string]time.Time{}
	}
	if t.active[name] == 0 {
		t.since[name] = time.Now()
	}
	t.active[name]++
	return name
}

func (t *timedSystemd) done(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.calls[name]
	c.N++
	if t.active[name]--; t.active[name] == 0 {
		c.Wall += time.Since(t.since[name])
	}
	t.calls[name] = c
}

func (t *timedSystemd) Reload(ctx context.Context) error {
	defer t.done(t.begin("Reload"))
	return t.Systemd.Reload(ctx)
}

func (t *timedSystemd) States(ctx context.Context, units ...string) ([]steps.UnitState, error) {
	defer t.done(t.begin("States"))
	return t.Systemd.States(ctx, units...)
}

func (t *timedSystemd) Loaded(ctx context.Context, pattern string) ([]steps.UnitState, error) {
	defer t.done(t.begin("Loaded"))
	return t.Systemd.Loaded(ctx, pattern)
}

func (t *timedSystemd) SystemState(ctx context.Context) (steps.SystemState, error) {
	defer t.done(t.begin("SystemState"))
	return t.Systemd.SystemState(ctx)
}

func (t *timedSystemd) Config(ctx context.Context, unit string) (steps.UnitConfig, error) {
	defer t.done(t.begin("Config"))
	return t.Systemd.Config(ctx, unit)
}

// replayHelpers runs each distinct read-only helper command of execs
// (visudo's checks, sudo's listings) n times more, as provision runs
// them, and times each run. A visudo -f of a temporary file that is gone
// checks the drop-in it became instead: the same content at its final
// path.
func replayHelpers(ctx context.Context, execs []probeExec, sp *spec.Spec, n int) ([]probeReplay, error) {
	var out []probeReplay
	seen := map[string]bool{}
	run := steps.NewHost("/", nil).Exec
	for _, e := range execs {
		base := filepath.Base(e.Argv[0])
		if e.Failed || base != "visudo" && base != "sudo" || seen[strings.Join(e.Argv, "\x00")] {
			continue
		}
		seen[strings.Join(e.Argv, "\x00")] = true
		argv := slices.Clone(e.Argv)
		if i := slices.Index(argv, "-f"); base == "visudo" && i > 0 && i+1 < len(argv) {
			if _, err := os.Stat(argv[i+1]); err != nil {
				// A drop-in's temporary file checks as the installed
				// drop-in; the private copies of the drop-ins checked
				// together are gone with their wrapper.
				if argv[i+1] = installedSudoers(argv[i+1], sp); argv[i+1] == "" {
					continue
				}
			}
		}
		rep := probeReplay{Argv: e.Argv}
		for range n {
			start := time.Now()
			if _, err := run(ctx, argv[0], argv[1:]...); err != nil {
				return nil, fmt.Errorf("replay %q: %w", argv, err)
			}
			rep.Walls = append(rep.Walls, time.Since(start))
		}
		out = append(out, rep)
	}
	return out, nil
}

// installedSudoers returns the spec's drop-in that the temporary file tmp
// was written for: the one in its directory whose name it contains.
func installedSudoers(tmp string, sp *spec.Spec) string {
	var inDir []string
	for _, s := range sp.SudoersFiles() {
		if filepath.Dir(s.Path()) == filepath.Dir(tmp) {
			inDir = append(inDir, s.Path())
		}
	}
	best := ""
	for _, p := range inDir {
		if strings.Contains(filepath.Base(tmp), filepath.Base(p)) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" && len(inDir) > 0 {
		best = inDir[0]
	}
	return best
}

// probeOptions say what runProbe asks of the probe.
type probeOptions struct {
	// noop is the number of timed no-op runs (0: the probe's default).
	noop int
	// profile also profiles the CPU over more no-op runs.
	profile bool
}

// runProbe boots a fresh container and runs the probe mode in it on
// specData, then, when asked, makes a text summary of its CPU profile.
func runProbe(ctx context.Context, in inputs, name string, specData []byte, o probeOptions) (*probeReport, error) {
	c, err := boot(ctx, name)
	if err != nil {
		return nil, err
	}
	defer closeContainer(c)
	if err := c.WriteFile(ctrSpec, specData, 0o644); err != nil {
		return nil, err
	}
	const profile = "/var/tmp/bench-cpu.pprof"
	args := []string{ctrRunner, "probe", "-f", ctrSpec}
	if o.noop > 0 {
		args = append(args, "-n", strconv.Itoa(o.noop))
	}
	if o.profile {
		args = append(args, "-cpuprofile", profile)
	} else {
		args = append(args, "-profile-runs", "0")
	}
	stdout, _, err := c.Exec(ctx, args...)
	if err != nil {
		return nil, err
	}
	var rep probeReport
	if err := json.Unmarshal(stdout, &rep); err != nil {
		return nil, fmt.Errorf("read probe's report: %w", err)
	}
	if goTool, err := exec.LookPath("go"); err == nil && rep.Profile != "" {
		hostProfile := filepath.Join(c.Root(), rep.Profile)
		flat, err1 := exec.CommandContext(ctx, goTool, "tool", "pprof", "-top", "-nodecount=12", hostProfile).CombinedOutput()
		cum, err2 := exec.CommandContext(ctx, goTool, "tool", "pprof", "-top", "-cum", "-nodecount=200", hostProfile).CombinedOutput()
		if err := errors.Join(err1, err2); err != nil {
			rep.pprofTop = fmt.Sprintf("(go tool pprof: %v)", err)
		} else {
			rep.pprofTop = pprofSummary(string(flat), string(cum))
		}
	}
	return &rep, nil
}

// pprofSummary keeps, of pprof's flat top, the totals and the rows, and,
// of its cumulative top, the rows of functions outside the Go runtime and
// standard library: where provision's own code and its dependencies
// spend the CPU.
func pprofSummary(flat, cum string) string {
	var b strings.Builder
	rows := false
	for _, line := range strings.Split(flat, "\n") {
		switch {
		case strings.HasPrefix(line, "Duration:"), strings.HasPrefix(line, "Showing nodes"):
			b.WriteString(line + "\n")
		case strings.HasPrefix(strings.TrimSpace(line), "flat"):
			rows = true
			b.WriteString("flat, the top functions:\n" + line + "\n")
		case rows && line != "":
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("cumulative, outside the runtime and standard library:\n")
	n := 0
	for _, line := range strings.Split(cum, "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || n >= 15 {
			continue
		}
		fn := f[len(f)-1]
		first, _, nested := strings.Cut(fn, "/")
		if strings.HasPrefix(fn, "github.com/provision-dev/provision/") || nested && strings.Contains(first, ".") {
			b.WriteString(line + "\n")
			n++
		}
	}
	return b.String()
}

// medOf returns the median of get over runs.
func medOf(runs []probeRun, get func(probeRun) time.Duration) time.Duration {
	ds := make([]time.Duration, len(runs))
	for i, r := range runs {
		ds[i] = get(r)
	}
	return median(ds)
}

// callCounts names the calls of r to the methods names, with their
// counts: "States 2, Loaded 1".
func (r probeRun) callCounts(names ...string) string {
	var parts []string
	for _, n := range names {
		if c := r.Calls[n].N; c > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", n, c))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// breakdown is the probe's phases as a table: the first converge, the
// medians of the no-op runs and of the no-op runs with the units loaded.
// With steps, each step has a row of its own.
func (p *probeReport) breakdown(title string, withSteps bool) *table {
	t := &table{title: title, header: []string{"phase", "first ms", "no-op ms", "loaded ms"}}
	row := func(name string, get func(probeRun) time.Duration) {
		t.add(name, ms(get(p.First)), ms(medOf(p.Noop, get)), ms(medOf(p.NoopLoaded, get)))
	}
	row("read and validate the spec", func(r probeRun) time.Duration { return r.Load })
	row("connect to systemd (D-Bus), from the dial, alongside the lines below", func(r probeRun) time.Duration { return r.Connect })
	if withSteps {
		for _, id := range p.First.Order {
			label := "  " + id
			if st := p.First.Status[id]; st != string(steps.StatusOK) {
				label += " (" + st + " at first)"
			}
			row(label, func(r probeRun) time.Duration { return r.Step[id] })
		}
	}
	row("all steps (Build + Run), of which:", func(r probeRun) time.Duration { return r.Steps })
	byProgram := map[string][]probeExec{}
	var programs []string
	for _, e := range p.First.Execs {
		base := filepath.Base(e.Argv[0])
		if byProgram[base] == nil {
			programs = append(programs, base)
		}
		byProgram[base] = append(byProgram[base], e)
	}
	for _, prog := range programs {
		execs := byProgram[prog]
		row(fmt.Sprintf("  helper %s (%d at first)", prog, len(execs)), func(r probeRun) time.Duration {
			var d time.Duration
			for _, e := range r.Execs {
				if filepath.Base(e.Argv[0]) == prog {
					d += e.Wall
				}
			}
			return d
		})
	}
	row("  systemd state reads ("+p.First.callCounts(stateReads...)+" at first; "+medianRun(p.Noop).callCounts(stateReads...)+" in a no-op)",
		func(r probeRun) time.Duration { d, _ := r.systemdWall(stateReads...); return d })
	row("  systemd read-back of what it loaded ("+p.First.callCounts("Config")+" at first)",
		func(r probeRun) time.Duration { d, _ := r.systemdWall("Config"); return d })
	row("  daemon-reload ("+p.First.callCounts("Reload")+" at first)",
		func(r probeRun) time.Duration { d, _ := r.systemdWall("Reload"); return d })
	row("  waiting for the connection to systemd", func(r probeRun) time.Duration { return r.Waited })
	row("  the rest: files, accounts, other systemd calls, comparisons (0 when the parts overlap more)", func(r probeRun) time.Duration {
		d, _ := r.systemdWall()
		return max(0, r.Steps-d-r.execWall()-r.Waited)
	})
	row("close the connection", func(r probeRun) time.Duration { return r.Close })
	row("total in process (the connection overlaps the spec and the first steps)", func(r probeRun) time.Duration { return r.Total })
	t.notes = append(t.notes,
		fmt.Sprintf("In one process that runs the steps as `provision apply` does, with the same packages (process start and exit excluded): the connection to systemd is dialled first and made while the spec is read and the first steps check their files, so the connect line overlaps those below it. A step's time is its own (Result.Duration); the daemon-reload runs in the background while the accounts, directories, files and sudoers are made, so the helpers and the reload overlap and the lines add up to more than the total. first: the first converge of a fresh container; no-op: median of %d runs right after it (the enabled units not loaded by systemd); loaded: median of %d runs after daemon-reloads, which load the enabled units as a boot does.", len(p.Noop), len(p.NoopLoaded)),
		fmt.Sprintf("Heap allocated per no-op: %d KB.", p.AllocPerNoop/1024))
	if len(p.Reload) > 0 {
		t.notes = append(t.notes, fmt.Sprintf("daemon-reload over the probe's D-Bus connection, %d times after the first converge: median %s ms (min %s).", len(p.Reload), ms(median(p.Reload)), ms(slices.Min(p.Reload))))
	}
	return t
}

// medianRun returns the run of runs whose total time is the median, or
// an empty run.
func medianRun(runs []probeRun) probeRun {
	if len(runs) == 0 {
		return probeRun{}
	}
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b probeRun) int { return cmp.Compare(a.Steps, b.Steps) })
	return s[len(s)/2]
}

// helpers is a table of each helper command of the first converge: its
// time then, and the median of its runs again when it is read-only.
func (p *probeReport) helpers(title string) *table {
	t := &table{title: title, header: []string{"helper command, as provision runs it", "first converge ms", "again, median ms"}}
	for _, e := range p.First.Execs {
		again := "-"
		for _, r := range p.Replays {
			if slices.Equal(r.Argv, e.Argv) && len(r.Walls) > 0 {
				again = fmt.Sprintf("%s (of %d)", ms(median(r.Walls)), len(r.Walls))
			}
		}
		cmd := strings.Join(e.Argv, " ")
		if e.Failed {
			cmd += " (failed)"
		}
		t.add("`"+cmd+"`", ms(e.Wall), again)
	}
	if len(p.First.Execs) == 0 {
		t.add("(none)", "-", "-")
	}
	t.notes = append(t.notes, "Each timed in provision's process from just before its fork to just after its wait (steps.Host.Exec). Read-only ones (visudo, sudo) are run again on the converged host; a visudo -f of the temporary file then checks the installed drop-in.")
	return t
}

// profile describes the CPU profile of the no-op runs, or "".
func (p *probeReport) profile() string {
	if p.pprofTop == "" {
		return ""
	}
	return fmt.Sprintf("CPU profile of %d in-process no-op runs (%s ms each, wall):\n%s",
		p.ProfileRuns, ms(p.ProfileSpent/time.Duration(max(p.ProfileRuns, 1))), strings.TrimRight(p.pprofTop, "\n"))
}
