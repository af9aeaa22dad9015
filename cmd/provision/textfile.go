package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/steps"
)

// textfile is what verify --textfile writes: the run's result in the
// text exposition format of Prometheus, for node_exporter's textfile
// collector, which reads every *.prom file of its directory at each
// scrape. The file is replaced atomically (rootfs.WriteFileAtomic: a
// temporary file in the same directory, whose name does not end in .prom,
// renamed over it), so a scrape never sees half a file. It is written
// whatever the run's outcome, once the flags are parsed: a spec that does
// not load or a host that cannot be reached gives provision_verify_success
// 0 and no step series.
type textfile struct {
	path  string
	start time.Time
	// results are the steps' results, nil until the steps have run.
	results []steps.Result
}

// newTextfile returns the textfile to write at path, or nil when path is
// empty; the methods of a nil *textfile do nothing.
func newTextfile(path string) *textfile {
	if path == "" {
		return nil
	}
	return &textfile{path: path, start: time.Now()}
}

// wrap returns r, recording the results it is given for the textfile.
func (t *textfile) wrap(r reporter) reporter {
	if t == nil {
		return r
	}
	return textfileReporter{reporter: r, t: t}
}

type textfileReporter struct {
	reporter
	t *textfile
}

func (r textfileReporter) recap(results []steps.Result, d time.Duration, exit int) {
	r.t.results = results
	r.reporter.recap(results, d, exit)
}

// finish writes the textfile for a run that exits with exit, and returns
// the exit code: exit, or exitFailed when the file cannot be written.
func (t *textfile) finish(exit int, stderr io.Writer) int {
	if t == nil {
		return exit
	}
	now := time.Now()
	if err := writeTextfile(t.path, t.render(exit, now.Sub(t.start), now)); err != nil {
		fmt.Fprintf(stderr, "provision verify: --textfile: %v\n", err)
		return exitFailed
	}
	return exit
}

// writeTextfile replaces the file at path (relative to the working
// directory, or absolute) with data, mode 0644.
func writeTextfile(path string, data []byte) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return rootfs.FS{}.WriteFileAtomic(abs, data, 0o644, os.Geteuid(), os.Getegid(), nil)
}

// render returns the textfile of a run that took d, ended at now and exits
// with exit.
func (t *textfile) render(exit int, d time.Duration, now time.Time) []byte {
	var b strings.Builder
	gauge := func(name, help string, series ...string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, escapeHelp(help), name)
		for _, s := range series {
			fmt.Fprintf(&b, "%s%s\n", name, s)
		}
	}
	value := func(v float64) string { return " " + strconv.FormatFloat(v, 'f', -1, 64) }
	success := 0.0
	if t.results != nil && (exit == exitOK || exit == exitDrift) {
		success = 1
	}
	gauge("provision_verify_success", "1 when the last provision verify checked every step (exit 0 or 3), 0 when it could not: invalid spec, host unreachable, a step failed.", value(success))
	gauge("provision_verify_exit_code", "Exit code of the last provision verify: 0 matches the spec, 1 failed, 2 invalid spec, 3 drift.", value(float64(exit)))
	if t.results != nil {
		n := steps.Counts(t.results)
		gauge("provision_verify_steps", "Steps of the spec the last provision verify checked.", value(float64(len(t.results))))
		gauge("provision_verify_drifted_steps", "Steps where the host differs from the spec.", value(float64(n[steps.StatusChanged])))
		gauge("provision_verify_failed_steps", "Steps that could not be checked.", value(float64(n[steps.StatusFailed])))
		var drifted []string
		for _, r := range t.results {
			if r.Status == steps.StatusChanged {
				drifted = append(drifted, `{step="`+escapeLabel(r.ID)+`"}`+value(1))
			}
		}
		if len(drifted) > 0 {
			gauge("provision_verify_step_drifted", "One series per step where the host differs from the spec, labelled with the step.", drifted...)
		}
	}
	gauge("provision_verify_duration_seconds", "How long the last provision verify took.", value(d.Seconds()))
	gauge("provision_verify_timestamp_seconds", "When the last provision verify ended, in seconds since the Unix epoch.", value(float64(now.UnixMilli())/1000))
	gauge("provision_build_info", "The version of provision that wrote this file.", `{version="`+escapeLabel(version)+`"}`+value(1))
	return []byte(b.String())
}

// escapeLabel escapes a label value as the text format wants it:
// backslash, double quote and line feed.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
