// Command run measures provision against a hand-written shell script
// (bench/sidekiq.sh) and an Ansible playbook (bench/sidekiq.yml) that do
// the same job: the reference Sidekiq host of examples/sidekiq, enabled
// but not started. Each tool runs in fresh real-systemd containers
// (internal/nspawn): a first converge, then no-op runs. Every run is timed
// (wall and peak RSS) inside the container and followed by a check of the
// host: files, modes, owners and contents, the account, visudo -c, the
// unit loaded, enabled and inactive, the number of daemon-reloads, and,
// for a no-op, a listing of every file involved (metadata and checksums)
// that must not have changed. It also times provision's first converge
// and no-op on specs with 1, 10, 100 and 1000 services, and, with
// -analyze, shows where provision's time goes: the floor of each phase
// (process start, spec load, D-Bus connect, state reads, each helper
// command, the daemon-reload), syscalls, commands executed and D-Bus
// calls per run (strace), time per step, and a CPU profile of the no-op.
//
// It prints the tools side by side, the ratios, the goals set for
// provision with what was measured and whether each is met, the scaling
// table and where the time goes; -markdown writes the same tables as
// Markdown. It must run as root, with ansible-playbook, strace and
// /usr/bin/time installed on the host (`make bench-deps`). `make bench`
// runs it after the Go benchmarks.
package main

import (
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/provision-dev/provision/bench"
	"github.com/provision-dev/provision/internal/nspawn"
	"github.com/provision-dev/provision/spec"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "timer":
			os.Exit(timerMain(os.Args[2:]))
		case "probe":
			os.Exit(probeMain(os.Args[2:]))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	closeAll()
	os.Exit(code)
}

// options are the command line's flags.
type options struct {
	in            inputs
	rounds        int
	ansibleRounds int
	noop          int
	scaleRuns     int
	scale         bool
	sizes         []int
	analyze       bool
	tools         string
	markdown      string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.in.provision, "bin", "bin/provision", "static provision `binary` to measure (make build)")
	fs.StringVar(&o.in.spec, "spec", "examples/sidekiq/provision.yaml", "the reference `spec`")
	fs.StringVar(&o.in.script, "script", "bench/sidekiq.sh", "the shell `script` doing the same job")
	fs.StringVar(&o.in.playbook, "playbook", "bench/sidekiq.yml", "the Ansible `playbook` doing the same job")
	fs.IntVar(&o.rounds, "rounds", 3, "fresh containers per tool: each gives one first converge")
	fs.IntVar(&o.ansibleRounds, "ansible-rounds", 1, "fresh containers for ansible (at most -rounds; each costs ~50 s)")
	fs.IntVar(&o.noop, "noop", 5, "no-op runs per container (at least 5)")
	fs.IntVar(&o.scaleRuns, "scale-runs", 5, "no-op runs per size of the scaling run")
	fs.BoolVar(&o.scale, "scale", true, "time provision's first converge and no-op on specs of -sizes services")
	sizes := fs.String("sizes", joinInts(bench.ScalingSizes, ","), "comma-separated `numbers` of services of the scaling run")
	fs.BoolVar(&o.analyze, "analyze", true, "trace and profile provision (and trace the shell script) in extra containers")
	fs.StringVar(&o.tools, "tools", "provision,shell,ansible", "comma-separated `tools` to measure")
	fs.StringVar(&o.markdown, "markdown", "", "also write the tables as Markdown to `file`")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.noop < 5 {
		fmt.Fprintln(stderr, "bench: -noop must be at least 5")
		return 2
	}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "bench: -sizes: %q is not a number of services\n", f)
			return 2
		}
		o.sizes = append(o.sizes, n)
	}
	o.ansibleRounds = min(o.ansibleRounds, o.rounds)
	if err := preflight(o); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if err := nspawn.RemoveStale(); err != nil {
		fmt.Fprintln(stderr, "bench: warning: cleaning up after earlier runs:", err)
	}
	r, err := measureAll(ctx, o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	var md strings.Builder
	r.print(stdout)
	r.markdown(&md)
	if o.markdown != "" {
		if err := os.WriteFile(o.markdown, []byte(md.String()), 0o644); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	}
	return 0
}

// preflight checks what the runs need before any container boots.
func preflight(o options) error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: it boots systemd containers (sudo make bench)")
	}
	for _, f := range []string{o.in.provision, o.in.spec, o.in.script, o.in.playbook} {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	need := map[string]string{"systemd-nspawn": "systemd-container", "/usr/bin/time": "time"}
	if strings.Contains(o.tools, "ansible") {
		need["ansible-playbook"] = "ansible-core"
	}
	if o.analyze {
		need["strace"] = "strace"
	}
	var missing []string
	for cmd, pkg := range need {
		if _, err := exec.LookPath(cmd); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing on the host: %s (make bench-deps installs them; packages must be there before containers boot)", strings.Join(missing, " "))
	}
	return nil
}

// toolResult is everything measured of one tool.
type toolResult struct {
	name    string
	first   []sample
	noop    []sample
	reloads []int // daemon-reloads of each first converge
	// noopReloads counts the daemon-reloads of all no-op runs.
	noopReloads int
	// gnuTime is what `/usr/bin/time -f '%e %M'` printed for one extra
	// no-op run.
	gnuTime string
}

// scaleResult is provision on a spec with n services.
type scaleResult struct {
	n int
	// specBytes is the size of the spec.
	specBytes int
	// skipped says why this size was not measured, or is "".
	skipped string
	first   sample
	// reloads counts the daemon-reloads of the first converge.
	reloads int
	noop    series
	// reload is `systemctl daemon-reload` alone in the same container,
	// after the runs: median of 3.
	reload time.Duration
}

// report is the whole run.
type report struct {
	started    time.Time
	loadBefore string
	loadAfter  string
	version    string
	binSize    int64
	binStatic  bool
	ansible    string
	o          options
	tools      []*toolResult
	// floor: process start and daemon-reload, timed in the provision
	// container.
	trueWall, versionWall time.Duration
	reloadWall            time.Duration
	// loadedNoop is provision's no-op after those daemon-reloads, which
	// leave the enabled unit loaded as a boot would.
	loadedNoop time.Duration
	scale      []scaleResult
	// traces are the runs made under strace -f: provision's and the
	// script's first converge and no-op, and a no-op of the scaling spec
	// of bench.GoalServices services.
	traces []traced
	// init is provision's package initialization.
	init initTrace
	// probe is provision's phases timed in process on the example;
	// scaleProbe on the scaling spec of bench.GoalServices services.
	probe, scaleProbe *probeReport
	elapsed           time.Duration
}

func measureAll(ctx context.Context, o options, log io.Writer) (*report, error) {
	r := &report{started: time.Now(), loadBefore: loadAverage(), o: o}
	fi, err := os.Stat(o.in.provision)
	if err != nil {
		return nil, err
	}
	r.binSize = fi.Size()
	r.binStatic, err = isStatic(o.in.provision)
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, o.in.provision, "version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s version: %w", o.in.provision, err)
	}
	r.version = strings.TrimSpace(string(out))
	if out, err := exec.CommandContext(ctx, "ansible-playbook", "--version").Output(); err == nil {
		r.ansible = strings.SplitN(string(out), "\n", 2)[0]
	}

	data, err := os.ReadFile(o.in.spec)
	if err != nil {
		return nil, err
	}
	sp, err := spec.Load(o.in.spec, data)
	if err != nil {
		return nil, err
	}
	want := expect(sp)

	var tools []tool
	for _, name := range strings.Split(o.tools, ",") {
		switch strings.TrimSpace(name) {
		case "provision":
			tools = append(tools, provisionTool(o.in.spec))
		case "shell":
			tools = append(tools, shellTool)
		case "ansible":
			tools = append(tools, ansibleTool)
		default:
			return nil, fmt.Errorf("unknown tool %q in -tools", name)
		}
	}
	results := map[string]*toolResult{}
	for _, t := range tools {
		tr := &toolResult{name: t.name}
		results[t.name] = tr
		r.tools = append(r.tools, tr)
	}
	// Rounds alternate the order of the tools, so that a change of the
	// machine's load does not fall on one tool only.
	for round := range o.rounds {
		for i := range tools {
			t := tools[(i+round)%len(tools)]
			if t.name == "ansible" && round >= o.ansibleRounds {
				continue
			}
			fmt.Fprintf(log, "bench: %s, round %d/%d (load %s)\n", t.name, round+1, o.rounds, loadAverage())
			if err := r.runTool(ctx, t, round, want, results[t.name], log); err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", t.name, round+1, err)
			}
		}
	}
	if o.scale {
		for _, n := range o.sizes {
			if size := len(bench.ScalingSpec(n)); size > spec.MaxSize {
				r.scale = append(r.scale, scaleResult{n: n, specBytes: size,
					skipped: fmt.Sprintf("not measured: the spec is %d bytes, over spec.MaxSize (%d)", size, spec.MaxSize)})
				fmt.Fprintf(log, "bench: provision with %d services: skipped, the spec is over spec.MaxSize\n", n)
				continue
			}
			fmt.Fprintf(log, "bench: provision with %d services (load %s)\n", n, loadAverage())
			s, trace, err := runScale(ctx, o, n, o.analyze && n == bench.GoalServices, log)
			if err != nil {
				return nil, fmt.Errorf("scaling, %d services: %w", n, err)
			}
			r.scale = append(r.scale, s)
			if trace != nil {
				r.traces = append(r.traces, *trace)
			}
		}
	}
	if o.analyze {
		fmt.Fprintf(log, "bench: analysis (load %s)\n", loadAverage())
		if err := r.analyzeAll(ctx, tools, want); err != nil {
			return nil, fmt.Errorf("analysis: %w", err)
		}
	}
	r.loadAfter = loadAverage()
	r.elapsed = time.Since(r.started)
	return r, nil
}

// runTool boots a fresh container for t, runs its first converge and the
// no-op runs, and checks the host after each.
func (r *report) runTool(ctx context.Context, t tool, round int, want expectation, tr *toolResult, log io.Writer) error {
	c, err := boot(ctx, "bench-"+t.name)
	if err != nil {
		return err
	}
	defer closeContainer(c)
	if err := t.install(c, r.o.in); err != nil {
		return err
	}
	before, err := want.readState(ctx, c)
	if err != nil {
		return err
	}
	first, after, err := converge(ctx, c, t, want, before, false)
	if err != nil {
		return fmt.Errorf("first converge: %w", err)
	}
	tr.first = append(tr.first, first.sample)
	tr.reloads = append(tr.reloads, after.reloads-before.reloads)
	fmt.Fprintf(log, "bench:   first converge %s ms, %d daemon-reload(s)\n", ms(first.wall), after.reloads-before.reloads)
	for i := range r.o.noop {
		res, next, err := converge(ctx, c, t, want, after, true)
		if err != nil {
			return fmt.Errorf("no-op run %d: %w", i+1, err)
		}
		tr.noop = append(tr.noop, res.sample)
		tr.noopReloads += next.reloads - after.reloads
		after = next
	}
	fmt.Fprintf(log, "bench:   no-op median %s ms\n", ms(summarize(tr.noop[len(tr.noop)-r.o.noop:]).median))
	if round > 0 {
		return nil
	}
	// Once per tool: GNU time's view of one more no-op run, to show that
	// the timer's peak RSS is the number /usr/bin/time prints.
	_, stderr, err := c.Exec(ctx, append([]string{"/usr/bin/time", "-f", "%e %M"}, t.cmd...)...)
	if err != nil {
		return fmt.Errorf("no-op under /usr/bin/time: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(stderr)), "\n")
	tr.gnuTime = lines[len(lines)-1]
	if t.name == "provision" {
		if err := r.measureFloor(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// converge runs t once in c, checks the host against want and, for a
// no-op, that nothing changed since prev; it returns the run and the
// host's state after it.
func converge(ctx context.Context, c *nspawn.Container, t tool, want expectation, prev hostState, noop bool) (result, hostState, error) {
	res, err := measure(ctx, c, t.cmd...)
	if err != nil {
		return result{}, hostState{}, err
	}
	output := res.stdout + res.stderr
	if res.exit != 0 {
		return res, hostState{}, fmt.Errorf("%s exited %d:\n%s", t.cmd[0], res.exit, tail(output, 40))
	}
	changes, err := t.changes(output)
	if err != nil {
		return res, hostState{}, fmt.Errorf("%w:\n%s", err, tail(output, 40))
	}
	st, err := want.readState(ctx, c)
	if err != nil {
		return res, hostState{}, err
	}
	if bad := want.verify(st); len(bad) > 0 {
		return res, hostState{}, fmt.Errorf("the host is not right after %s:\n  %s\n%s", t.name, strings.Join(bad, "\n  "), tail(output, 40))
	}
	switch {
	case noop && changes != 0:
		return res, hostState{}, fmt.Errorf("%s reports %d changes on a converged host:\n%s", t.name, changes, tail(output, 40))
	case noop && st.listing != prev.listing:
		return res, hostState{}, fmt.Errorf("%s changed files on a converged host:\n%s", t.name, listingDiff(prev.listing, st.listing))
	case noop && st.reloads != prev.reloads:
		return res, hostState{}, fmt.Errorf("%s reloaded systemd on a converged host", t.name)
	case !noop && changes == 0:
		return res, hostState{}, fmt.Errorf("%s reports no change on a fresh host:\n%s", t.name, tail(output, 40))
	}
	return res, st, nil
}

// measureFloor times what no tool can avoid, in the provision container:
// starting a process (/bin/true, provision version) and a daemon-reload.
func (r *report) measureFloor(ctx context.Context, c *nspawn.Container) error {
	timeIt := func(n int, args ...string) (time.Duration, error) {
		var walls []time.Duration
		for range n {
			res, err := measure(ctx, c, args...)
			if err != nil {
				return 0, err
			}
			if res.exit != 0 {
				return 0, fmt.Errorf("%s exited %d: %s", args[0], res.exit, res.stderr)
			}
			walls = append(walls, res.wall)
		}
		return median(walls), nil
	}
	var err1, err2, err3, err4 error
	r.trueWall, err1 = timeIt(9, "/bin/true")
	r.versionWall, err2 = timeIt(9, ctrProvison, "version")
	r.reloadWall, err3 = timeIt(3, "systemctl", "daemon-reload")
	r.loadedNoop, err4 = timeIt(5, provisionTool("").cmd...)
	return errors.Join(err1, err2, err3, err4)
}

// runScale converges a fresh container to bench.ScalingSpec(n) with
// provision and times its no-op runs; withTrace, it then traces one
// more no-op under strace. Last, it times `systemctl daemon-reload`
// alone, with the n units there.
func runScale(ctx context.Context, o options, n int, withTrace bool, log io.Writer) (scaleResult, *traced, error) {
	data := bench.ScalingSpec(n)
	sp, err := spec.Load("scaling.yaml", data)
	if err != nil {
		return scaleResult{}, nil, err
	}
	want := expect(sp)
	c, err := boot(ctx, fmt.Sprintf("bench-scale-%d", n))
	if err != nil {
		return scaleResult{}, nil, err
	}
	defer closeContainer(c)
	if err := c.CopyIn(o.in.provision, ctrProvison, 0o755); err != nil {
		return scaleResult{}, nil, err
	}
	if err := c.WriteFile(ctrSpec, data, 0o644); err != nil {
		return scaleResult{}, nil, err
	}
	t := provisionTool(o.in.spec)
	before, err := want.readState(ctx, c)
	if err != nil {
		return scaleResult{}, nil, err
	}
	first, after, err := converge(ctx, c, t, want, before, false)
	if err != nil {
		return scaleResult{}, nil, fmt.Errorf("first converge: %w", err)
	}
	s := scaleResult{n: n, specBytes: len(data), first: first.sample, reloads: after.reloads - before.reloads}
	fmt.Fprintf(log, "bench:   first %s ms, %d daemon-reload(s)\n", ms(s.first.wall), s.reloads)
	var noop []sample
	for i := range o.scaleRuns {
		res, next, err := converge(ctx, c, t, want, after, true)
		if err != nil {
			return scaleResult{}, nil, fmt.Errorf("no-op run %d: %w", i+1, err)
		}
		noop = append(noop, res.sample)
		after = next
	}
	s.noop = summarize(noop)
	fmt.Fprintf(log, "bench:   no-op median %s ms\n", ms(s.noop.median))
	var trace *traced
	if withTrace {
		run, err := traceRun(ctx, c, fmt.Sprintf("provision, %d services,", n), t, want, true)
		if err != nil {
			return scaleResult{}, nil, fmt.Errorf("trace: %w", err)
		}
		trace = &run
	}
	var walls []time.Duration
	for range 3 {
		res, err := measure(ctx, c, "systemctl", "daemon-reload")
		if err != nil {
			return scaleResult{}, nil, err
		}
		if res.exit != 0 {
			return scaleResult{}, nil, fmt.Errorf("systemctl daemon-reload exited %d: %s", res.exit, res.stderr)
		}
		walls = append(walls, res.wall)
	}
	s.reload = median(walls)
	return s, trace, nil
}

// isStatic reports whether the ELF file at path has no program
// interpreter, that is, is statically linked.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (r *report) tool(name string) *toolResult {
	for _, t := range r.tools {
		if t.name == name {
			return t
		}
	}
	return nil
}

// joinInts formats ns separated by sep.
func joinInts(ns []int, sep string) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, sep)
}
