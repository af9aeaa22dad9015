package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/provision-dev/provision/bench"
)

// The goals set for provision, as thresholds.
const (
	goalFirstRatio      = 0.9                  // of the script's first converge
	goalNoopFraction    = 5                    // the no-op is at most 1/5 of the script's
	goalNoopWall        = 8 * time.Millisecond // no-op, wall inside the container
	goalManyNoop        = 40 * time.Millisecond
	goalManyPerService  = 3 * time.Millisecond // besides one reload, per service
	goalFirstRSSBytes   = 12e6
	firstConvergePhase  = "first converge"
	noopPhase           = "no-op"
	provisionTraceLabel = "provision"
)

// goal is one of provision's goals, as this run measured it.
type goal struct {
	name     string
	measured string
	// known is false when the run did not measure it (a tool left out,
	// -analyze=false, -scale=false); met is then meaningless.
	known, met bool
}

// goals evaluates provision's goals on what the run measured.
func (r *report) goals() []goal {
	var out []goal
	add := func(name string, known, met bool, measured string) {
		out = append(out, goal{name: name, measured: measured, known: known, met: known && met})
	}
	p, sh := r.tool("provision"), r.tool("shell")
	var pf, pn, sf, sn time.Duration
	if p != nil {
		pf, pn = summarize(p.first).median, summarize(p.noop).median
	}
	if sh != nil {
		sf, sn = summarize(sh.first).median, summarize(sh.noop).median
	}
	name := fmt.Sprintf("first converge <= %.1fx the hand script's", goalFirstRatio)
	if p != nil && sh != nil {
		add(name, true, float64(pf) <= goalFirstRatio*float64(sf),
			fmt.Sprintf("%s vs %s: %.2fx", dur(pf), dur(sf), float64(pf)/float64(max(sf, 1))))
	} else {
		add(name, false, false, "not measured (-tools needs provision and shell)")
	}

	name = "first converge: every check on (visudo -cf, visudo -c, sudo -l, systemd read-back)"
	if t := r.traced(provisionTraceLabel, firstConvergePhase); t != nil {
		measured, ok := checksOn(t.trace)
		add(name, true, ok, measured)
	} else {
		add(name, false, false, "not measured (needs -analyze: strace of a first converge)")
	}

	name = "first converge: exactly one daemon-reload"
	if p != nil {
		one := p.noopReloads == 0
		for _, n := range p.reloads {
			one = one && n == 1
		}
		var sizes, per []int
		for _, s := range r.scale {
			if s.skipped == "" {
				one = one && s.reloads == 1
				sizes, per = append(sizes, s.n), append(per, s.reloads)
			}
		}
		m := fmt.Sprintf("per first converge: %s; in the %d no-ops: %d", joinInts(p.reloads, " "), len(p.noop), p.noopReloads)
		if len(per) > 0 {
			m += fmt.Sprintf("; with %s services: %s", joinInts(sizes, "/"), joinInts(per, "/"))
		}
		add(name, true, one, m)
	} else {
		add(name, false, false, "not measured (-tools without provision)")
	}

	name = fmt.Sprintf("no-op <= 1/%d of the hand script's", goalNoopFraction)
	if p != nil && sh != nil && pn > 0 {
		add(name, true, pn*goalNoopFraction <= sn,
			fmt.Sprintf("%s vs %s: 1/%.1f", dur(pn), dur(sn), float64(sn)/float64(pn)))
	} else {
		add(name, false, false, "not measured (-tools needs provision and shell)")
	}
	name = fmt.Sprintf("no-op <= %s wall inside the container", limit(goalNoopWall))
	if p != nil {
		add(name, true, pn <= goalNoopWall, dur(pn)+" (median of "+strconv.Itoa(len(p.noop))+")")
	} else {
		add(name, false, false, "not measured (-tools without provision)")
	}
	name = "no-op: no program executed"
	var noopRuns []string
	none := true
	for _, t := range r.tracesInOrder() {
		if !strings.HasPrefix(t.label, provisionTraceLabel) || t.phase != noopPhase {
			continue
		}
		what := "the example"
		if t.label != provisionTraceLabel {
			what = strings.TrimSuffix(strings.TrimPrefix(t.label, provisionTraceLabel+", "), ",")
		}
		h := t.trace.helpers()
		none = none && len(h) == 0
		ran := "none"
		if len(h) > 0 {
			ran = countList(countPrograms(h))
		}
		noopRuns = append(noopRuns, fmt.Sprintf("%s: %s", what, ran))
	}
	if len(noopRuns) > 0 {
		add(name, true, none, "execve under strace -f besides provision's own: "+strings.Join(noopRuns, "; "))
	} else {
		add(name, false, false, "not measured (needs -analyze: strace of a no-op)")
	}

	many := r.scaleOf(bench.GoalServices)
	name = fmt.Sprintf("%d services: no-op <= %s", bench.GoalServices, limit(goalManyNoop))
	if many != nil {
		add(name, true, many.noop.median <= goalManyNoop, fmt.Sprintf("%s (median of %d)", dur(many.noop.median), many.noop.n))
	} else {
		add(name, false, false, fmt.Sprintf("not measured (-scale with %d in -sizes)", bench.GoalServices))
	}
	name = fmt.Sprintf("%d services: first converge <= one reload + %s per service", bench.GoalServices, limit(goalManyPerService))
	if many != nil {
		most := many.reload + time.Duration(many.n)*goalManyPerService
		add(name, true, many.first.wall <= most,
			fmt.Sprintf("%s vs %s (systemctl daemon-reload) + %d x %s = %s", dur(many.first.wall), dur(many.reload), many.n, limit(goalManyPerService), dur(most)))
	} else {
		add(name, false, false, fmt.Sprintf("not measured (-scale with %d in -sizes)", bench.GoalServices))
	}

	name = fmt.Sprintf("peak RSS <= %.0f MB on a first converge", goalFirstRSSBytes/1e6)
	if p != nil {
		rss := summarize(p.first).rssKB
		add(name, true, float64(rss*1024) <= goalFirstRSSBytes, mb(rss)+" MB (the largest of "+strconv.Itoa(len(p.first))+")")
	} else {
		add(name, false, false, "not measured (-tools without provision)")
	}
	return out
}

// checksOn says which of the checks a first converge must make the
// trace shows: visudo on the temporary file and on the whole
// configuration, sudo asked about the rules, and systemd asked what it
// loaded.
func checksOn(s traceSummary) (string, bool) {
	var visudoFile, visudoAll, sudoList int
	for _, argv := range s.helpers() {
		switch argv[0] {
		case "visudo":
			if slices.Contains(argv, "-f") || slices.ContainsFunc(argv, func(a string) bool { return isShortFlags(a, 'f') }) {
				visudoFile++
			} else if slices.Contains(argv, "-c") || slices.ContainsFunc(argv, func(a string) bool { return isShortFlags(a, 'c') }) {
				visudoAll++
			}
		case "sudo":
			if slices.Contains(argv, "-l") || slices.ContainsFunc(argv, func(a string) bool { return isShortFlags(a, 'l') }) {
				sudoList++
			}
		}
	}
	// The read-back loads the unit and reads what systemd loaded: with
	// GetAll, or property by property (the Unit properties besides
	// NeedDaemonReload, which the state reads ask for, and the
	// Service ones).
	readBack := 0
	byCall := map[string]int{}
	for m, n := range s.methods {
		key := ""
		switch {
		case m == "LoadUnit" || strings.HasPrefix(m, "GetAll"):
			key = m
		case strings.HasPrefix(m, "Get(Service."):
			key = "Get(Service.*)"
		case strings.HasPrefix(m, "Get(Unit.") && m != "Get(Unit.NeedDaemonReload)":
			key = "Get(Unit.*)"
		}
		if key != "" {
			readBack += n
			byCall[key] += n
		}
	}
	var calls []string
	for key, n := range byCall {
		calls = append(calls, fmt.Sprintf("%s %d", key, n))
	}
	slices.Sort(calls)
	rb := "none"
	if len(calls) > 0 {
		rb = strings.Join(calls, ", ")
	}
	measured := fmt.Sprintf("visudo -f %d, visudo -c %d, sudo -l %d; read-back: %s", visudoFile, visudoAll, sudoList, rb)
	return measured, visudoFile > 0 && visudoAll > 0 && sudoList > 0 && readBack > 0
}

// isShortFlags reports whether a is a group of short options ("-cf")
// that holds f.
func isShortFlags(a string, f byte) bool {
	if len(a) < 2 || a[0] != '-' || a[1] == '-' {
		return false
	}
	for i := 1; i < len(a); i++ {
		if a[i] < 'a' || a[i] > 'z' {
			return false
		}
	}
	return strings.IndexByte(a[1:], f) >= 0
}

// countPrograms counts commands by program.
func countPrograms(cmds [][]string) map[string]int {
	m := map[string]int{}
	for _, argv := range cmds {
		m[argv[0]]++
	}
	return m
}

// traced returns the traced run of label and phase, or nil.
func (r *report) traced(label, phase string) *traced {
	for i := range r.traces {
		if r.traces[i].label == label && r.traces[i].phase == phase {
			return &r.traces[i]
		}
	}
	return nil
}

// tracesInOrder returns the traced runs, provision's on the example
// first, then on the scaling spec, then the other tools'.
func (r *report) tracesInOrder() []traced {
	rank := func(t traced) int {
		switch {
		case t.label == provisionTraceLabel:
			return 0
		case strings.HasPrefix(t.label, provisionTraceLabel):
			return 1
		}
		return 2
	}
	out := slices.Clone(r.traces)
	slices.SortStableFunc(out, func(a, b traced) int { return rank(a) - rank(b) })
	return out
}

// scaleOf returns the measured scaling run of n services, or nil.
func (r *report) scaleOf(n int) *scaleResult {
	for i := range r.scale {
		if r.scale[i].n == n && r.scale[i].skipped == "" {
			return &r.scale[i]
		}
	}
	return nil
}

var ansibleCore = regexp.MustCompile(`core ([0-9][0-9.]*)`)

// displayName is how the tables name a tool.
func (r *report) displayName(tool string) string {
	switch tool {
	case "shell":
		return "hand-written idempotent shell script"
	case "ansible":
		if m := ansibleCore.FindStringSubmatch(r.ansible); m != nil {
			return "Ansible (ansible-core " + m[1] + "), no facts"
		}
		return "Ansible, no facts"
	}
	return tool
}

// toolsTable is the tools side by side.
func (r *report) toolsTable() *table {
	t := &table{header: []string{"tool", "first converge", "no-op (median)", "peak RSS (first / no-op)"}}
	var counts []string
	for _, tr := range r.tools {
		f, n := summarize(tr.first), summarize(tr.noop)
		t.add(r.displayName(tr.name), dur(f.median), dur(n.median), mb(f.rssKB)+" / "+mb(n.rssKB)+" MB")
		counts = append(counts, fmt.Sprintf("%s %d and %d", tr.name, f.n, n.n))
	}
	t.notes = append(t.notes, "Wall time inside the container, from fork to wait; peak RSS is ru_maxrss of that wait (MB = 10^6 bytes). First converge: median over fresh containers; no-op: median of the no-op runs that follow in each ("+strings.Join(counts, ", ")+" runs).")
	return t
}

// ratiosTable is provision's medians over each other tool's.
func (r *report) ratiosTable() *table {
	p := r.tool("provision")
	if p == nil {
		return nil
	}
	t := &table{header: []string{"ratio of medians", "first converge", "no-op"}}
	for _, peer := range r.tools {
		if peer == p {
			continue
		}
		t.add("provision / "+r.displayName(peer.name),
			ratio(summarize(p.first).median, summarize(peer.first).median),
			ratio(summarize(p.noop).median, summarize(peer.noop).median))
	}
	if len(t.rows) == 0 {
		return nil
	}
	return t
}

func (r *report) goalsTable() *table {
	t := &table{header: []string{"goal", "measured", "met"}}
	for _, g := range r.goals() {
		met := "yes"
		switch {
		case !g.known:
			met = "-"
		case !g.met:
			met = "**no**"
		}
		t.add(g.name, g.measured, met)
	}
	t.notes = append(t.notes, "Medians of the same run; the checks and the programs executed are read from provision's own runs under strace -f.")
	return t
}

func (r *report) scaleTable() *table {
	if len(r.scale) == 0 {
		return nil
	}
	t := &table{header: []string{"services", "spec KB", "first converge ms", "daemon-reloads", "systemctl daemon-reload ms",
		"first minus one reload, ms/service", "no-op ms", "no-op ms/service", "peak RSS first MB"}}
	for _, s := range r.scale {
		if s.skipped != "" {
			t.add(strconv.Itoa(s.n), fmt.Sprintf("%.1f", float64(s.specBytes)/1000), s.skipped)
			continue
		}
		n := time.Duration(s.n)
		t.add(strconv.Itoa(s.n), fmt.Sprintf("%.1f", float64(s.specBytes)/1000), ms(s.first.wall), strconv.Itoa(s.reloads), ms(s.reload),
			ms((s.first.wall-s.reload)/n), ms(s.noop.median), ms(s.noop.median/n), mb(s.first.rssKB))
	}
	t.notes = append(t.notes, fmt.Sprintf("provision with N services (each a unit and a sudoers drop-in, besides the example's account, directories and .env): a fresh container per N, one first converge then the no-op median of %d; `systemctl daemon-reload` alone, median of 3, in the same container afterwards. Every run verified as above.", r.o.scaleRuns))
	return t
}

// detailTable is every tool's runs: extremes, medians and reloads.
func (r *report) detailTable() *table {
	t := &table{header: []string{"tool", "run", "n", "min ms", "median ms", "max ms", "peak RSS MB", "daemon-reloads"}}
	for _, tr := range r.tools {
		for _, row := range []struct {
			run     string
			samples []sample
			reloads string
		}{
			{"first", tr.first, joinInts(tr.reloads, " ")},
			{"no-op", tr.noop, strconv.Itoa(tr.noopReloads)},
		} {
			s := summarize(row.samples)
			t.add(tr.name, row.run, strconv.Itoa(s.n), ms(s.min), ms(s.median), ms(s.max), mb(s.rssKB), row.reloads)
		}
	}
	t.notes = append(t.notes, "daemon-reloads: per first converge, and in all no-op runs together (counted from the journal).")
	for _, tr := range r.tools {
		if tr.gnuTime != "" {
			t.notes = append(t.notes, fmt.Sprintf("`/usr/bin/time -f '%%e %%M'` on one more %s no-op: %s", tr.name, tr.gnuTime))
		}
	}
	return t
}

// floorTable is the floor of each phase of a provision run.
func (r *report) floorTable() *table {
	t := &table{header: []string{"phase", "ms", "measured"}}
	if r.trueWall > 0 {
		t.add("process start and exit: `/bin/true`", ms(r.trueWall), "in the container, median of 9")
		t.add("process start to main and exit: `provision version`", ms(r.versionWall), "in the container, median of 9")
	}
	if r.init.end > 0 {
		t.add("  of which the runtime's start and package inits, to main", fmt.Sprintf("%.2f", r.init.end),
			fmt.Sprintf("GODEBUG=inittrace=1; inits %.2f ms in all, most: %s", r.init.total, r.init.top))
	}
	p := r.probe
	if p != nil && len(p.Noop) > 0 {
		how := fmt.Sprintf("in process, median of %d no-op runs", len(p.Noop))
		nr := medianRun(p.Noop)
		t.add("spec load: read and validate", ms(medOf(p.Noop, func(r probeRun) time.Duration { return r.Load })), how)
		t.add("D-Bus connect", ms(medOf(p.Noop, func(r probeRun) time.Duration { return r.Connect })), how)
		t.add("state reads from systemd ("+nr.callCounts(stateReads...)+")",
			ms(medOf(p.Noop, func(r probeRun) time.Duration { d, _ := r.systemdWall(stateReads...); return d })), how)
		t.add("state reads of files and accounts, and the comparisons (the rest of the steps)",
			ms(medOf(p.Noop, func(r probeRun) time.Duration { d, _ := r.systemdWall(); return r.Steps - d - r.execWall() - r.Waited })), how)
		inProcess := medOf(p.Noop, func(r probeRun) time.Duration { return r.Total })
		t.add("a no-op in process, all phases (the connection overlapping the spec and the first steps)", ms(inProcess), how)
		if pt := r.tool("provision"); pt != nil {
			wall := summarize(pt.noop).median
			t.add("around it: exec, runtime start, exit (no-op wall minus in process)", ms(wall-inProcess), "the table's no-op median minus the line above")
		}
	}
	if p != nil {
		for _, e := range p.First.Execs {
			v, how := e.Wall, "in process, as provision runs it, in the first converge"
			for _, rp := range p.Replays {
				if slices.Equal(rp.Argv, e.Argv) && len(rp.Walls) > 0 {
					v, how = median(rp.Walls), fmt.Sprintf("in process, as provision runs it: median of %d runs on the converged host (%s ms in the first converge)", len(rp.Walls), ms(e.Wall))
				}
			}
			t.add("helper: `"+strings.Join(e.Argv, " ")+"`", ms(v), how)
		}
		if d, n := p.First.systemdWall("Config"); n > 0 {
			t.add(fmt.Sprintf("systemd read-back of what it loaded (%d Config)", n), ms(d), "in process, in the first converge")
		}
	}
	if r.reloadWall > 0 {
		t.add("daemon-reload: `systemctl daemon-reload` alone", ms(r.reloadWall), "in the container, median of 3, after the runs")
		t.add("`provision apply` no-op after those reloads, the enabled unit loaded as after a boot", ms(r.loadedNoop), "in the container, median of 5")
	}
	if p != nil {
		if d, n := p.First.systemdWall("Reload"); n > 0 {
			t.add("daemon-reload over provision's D-Bus connection, in its first converge", ms(d), fmt.Sprintf("in process (%d call)", n))
		}
		if len(p.Reload) > 0 {
			t.add("daemon-reload over provision's D-Bus connection, again", ms(median(p.Reload)), fmt.Sprintf("in process, median of %d after the first converge", len(p.Reload)))
		}
	}
	if len(t.rows) == 0 {
		return nil
	}
	t.notes = append(t.notes, "On the example. \"In the container\": a fresh process timed from fork to wait, as in the table; \"in process\": inside one process that runs the steps with provision's packages (the probe). The helpers are those provision ran in that first converge, in order.")
	return t
}

// header is the run's circumstances, one sentence a line.
func (r *report) header() []string {
	static := "static"
	if !r.binStatic {
		static = "NOT static"
	}
	return []string{
		fmt.Sprintf("provision benchmark, %s, %d CPUs; took %s.", r.started.UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), r.elapsed.Round(time.Second)),
		fmt.Sprintf("Load average (1/5/15 min) %s at the start, %s at the end.", r.loadBefore, r.loadAfter),
		fmt.Sprintf("%s: %s, %s MB, %s; %s.", r.o.in.provision, r.version, mb(r.binSize/1024), static, r.ansible),
		fmt.Sprintf("Per tool: %d fresh containers (ansible: %d), each a first converge then %d no-op runs, the host verified after every run.",
			r.o.rounds, r.o.ansibleRounds, r.o.noop),
	}
}

// section is a titled part of the report: tables and text blocks.
type section struct {
	title  string
	tables []*table
	text   []string // preformatted blocks, after the tables
}

func (r *report) sections() []section {
	out := []section{
		{title: "Side by side", tables: []*table{r.toolsTable(), r.ratiosTable()}},
		{title: "Goals", tables: []*table{r.goalsTable()}},
	}
	if t := r.scaleTable(); t != nil {
		out = append(out, section{title: "Scaling", tables: []*table{t}})
	}
	out = append(out, section{title: "Every run", tables: []*table{r.detailTable()}})

	where := section{title: "Where the time goes"}
	if t := r.floorTable(); t != nil {
		t.title = "The floor of each phase"
		where.tables = append(where.tables, t)
	}
	if r.probe != nil {
		where.tables = append(where.tables,
			r.probe.breakdown("provision's phases and steps on the example, in process", true),
			r.probe.helpers("The helper commands of the example's first converge"))
	}
	if r.scaleProbe != nil {
		where.tables = append(where.tables,
			r.scaleProbe.breakdown(fmt.Sprintf("provision's phases with %d services, in process", r.scaleProbe.Services), false))
	}
	if len(r.traces) > 0 {
		var lines []string
		if r.init.end > 0 {
			lines = append(lines, r.init.describe())
		}
		for _, t := range r.tracesInOrder() {
			lines = append(lines, t.describe()...)
		}
		where.text = append(where.text, strings.Join(lines, "\n"))
	}
	if r.probe != nil {
		if prof := r.probe.profile(); prof != "" {
			where.text = append(where.text, prof)
		}
	}
	if len(where.tables) > 0 || len(where.text) > 0 {
		out = append(out, where)
	}
	for i := range out {
		out[i].tables = slices.DeleteFunc(out[i].tables, func(t *table) bool { return t == nil })
	}
	return out
}

// print writes the report as text.
func (r *report) print(w io.Writer) {
	fmt.Fprintln(w)
	for _, l := range r.header() {
		fmt.Fprintln(w, l)
	}
	for _, s := range r.sections() {
		fmt.Fprintf(w, "\n== %s\n", s.title)
		for _, t := range s.tables {
			t.text(w)
		}
		for _, b := range s.text {
			fmt.Fprintf(w, "\n%s\n", b)
		}
	}
}

// markdown writes the report as Markdown.
func (r *report) markdown(w io.Writer) {
	fmt.Fprintln(w, strings.Join(r.header(), "\n"))
	for _, s := range r.sections() {
		fmt.Fprintf(w, "\n### %s\n", s.title)
		for _, t := range s.tables {
			t.markdown(w)
		}
		for _, b := range s.text {
			fmt.Fprintf(w, "\n```\n%s\n```\n", b)
		}
	}
}

// limit formats a goal's threshold: "8 ms".
func limit(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
}

// dur formats d in ms, or in seconds from 10 s.
func dur(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	return ms(d) + " ms"
}
