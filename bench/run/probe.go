package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/internal/online"
	"github.com/provision-dev/provision/spec"
	"github.com/provision-dev/provision/steps"
)

// probeRun is one converge timed phase by phase inside one process.
type probeRun struct {
	Load    time.Duration            // read and validate the spec
	Connect time.Duration            // connect to systemd
	Steps   time.Duration            // steps.Build and steps.Run
	Close   time.Duration            // close the connection
	Step    map[string]time.Duration // by step ID
	Status  map[string]string        // by step ID
	Order   []string                 // step IDs in run order
}

// probeReport is what the probe mode prints, as JSON.
type probeReport struct {
	First probeRun
	Noop  []probeRun
	// NoopLoaded are no-op runs after daemon-reloads, with the units
	// loaded by systemd.
	NoopLoaded []probeRun
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
// timing each phase and each step, then repeats the no-op, profiles the
// CPU over more no-op runs, times daemon-reloads and repeats the no-op
// once more.
func probeMain(args []string) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	file := fs.String("f", ctrSpec, "spec `file`")
	n := fs.Int("n", 30, "timed no-op runs")
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

	for range *n / 3 {
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

// probeOnce is one `provision apply -f file`, timed phase by phase.
func probeOnce(ctx context.Context, file string) (probeRun, error) {
	r := probeRun{Step: map[string]time.Duration{}, Status: map[string]string{}}
	start := time.Now()
	data, err := os.ReadFile(file)
	if err != nil {
		return r, err
	}
	sp, err := spec.Load(file, data)
	if err != nil {
		return r, err
	}
	r.Load = time.Since(start)

	start = time.Now()
	conn, err := dbusctl.Connect(ctx)
	if err != nil {
		return r, err
	}
	r.Connect = time.Since(start)

	// Each step is timed from the report of the one before it (or the
	// start of Run) to its own report, which Run makes as soon as the
	// step is done.
	start = time.Now()
	h := steps.NewHost("/", online.Systemd{Conn: conn})
	list := steps.Build(sp)
	last := time.Now()
	_, err = steps.Run(ctx, h, list, steps.ModeApply, func(res steps.Result) {
		now := time.Now()
		r.Step[res.ID] = now.Sub(last)
		last = now
		r.Status[res.ID] = string(res.Status)
		r.Order = append(r.Order, res.ID)
	})
	r.Steps = time.Since(start)

	start = time.Now()
	conn.Close()
	r.Close = time.Since(start)
	return r, err
}

// runProbe boots a fresh container and runs the probe mode in it on the
// reference spec, then makes a text summary of its CPU profile.
func runProbe(ctx context.Context, in inputs) (*probeReport, error) {
	c, err := boot(ctx, "bench-probe")
	if err != nil {
		return nil, err
	}
	defer closeContainer(c)
	if err := c.CopyIn(in.spec, ctrSpec, 0o644); err != nil {
		return nil, err
	}
	const profile = "/var/tmp/bench-cpu.pprof"
	stdout, _, err := c.Exec(ctx, ctrRunner, "probe", "-f", ctrSpec, "-cpuprofile", profile)
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

// print describes the probe's timings: the first converge step by step,
// and the medians of the no-op runs.
func (p *probeReport) print(w io.Writer) {
	fmt.Fprintf(w, "\nprovision's phases, timed inside one process that runs the steps as `provision apply` does (excludes process start and exit):\n")
	fmt.Fprintf(w, "%-58s %9s %9s %13s\n", "phase", "first ms", "no-op ms", "loaded ms")
	medOf := func(runs []probeRun, get func(probeRun) time.Duration) time.Duration {
		ds := make([]time.Duration, len(runs))
		for i, r := range runs {
			ds[i] = get(r)
		}
		return median(ds)
	}
	row := func(name string, get func(probeRun) time.Duration) {
		fmt.Fprintf(w, "%-58s %9s %9s %13s\n", name, ms(get(p.First)), ms(medOf(p.Noop, get)), ms(medOf(p.NoopLoaded, get)))
	}
	row("read and validate the spec", func(r probeRun) time.Duration { return r.Load })
	row("connect to systemd (D-Bus)", func(r probeRun) time.Duration { return r.Connect })
	for _, id := range p.First.Order {
		label := "  " + id
		if st := p.First.Status[id]; st != string(steps.StatusOK) {
			label += " (" + st + " at first)"
		}
		row(label, func(r probeRun) time.Duration { return r.Step[id] })
	}
	row("all steps (Build + Run)", func(r probeRun) time.Duration { return r.Steps })
	row("close the connection", func(r probeRun) time.Duration { return r.Close })
	row("total in process", func(r probeRun) time.Duration { return r.Load + r.Connect + r.Steps + r.Close })
	fmt.Fprintf(w, "no-op: median of %d runs right after the first converge, as in the table (the enabled unit is not loaded by systemd);\n", len(p.Noop))
	fmt.Fprintf(w, "loaded: median of %d runs after daemon-reloads, which load the enabled unit as a dependency of its target, as a boot does.\n", len(p.NoopLoaded))
	fmt.Fprintf(w, "heap allocated per no-op: %d KB\n", p.AllocPerNoop/1024)
	if len(p.Reload) > 0 {
		fmt.Fprintf(w, "daemon-reload over D-Bus, %d times: median %s ms (min %s)\n", len(p.Reload), ms(median(p.Reload)), ms(slices.Min(p.Reload)))
	}
	if p.pprofTop != "" {
		fmt.Fprintf(w, "\nCPU profile of %d in-process no-op runs (%s ms each, wall):\n%s\n",
			p.ProfileRuns, ms(p.ProfileSpent/time.Duration(max(p.ProfileRuns, 1))), strings.TrimRight(p.pprofTop, "\n"))
	}
}
