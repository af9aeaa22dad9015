package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/provision-dev/provision/spec"
	"github.com/provision-dev/provision/steps"
)

// reporter prints a run's results as they come and its recap at the end.
type reporter interface {
	step(r steps.Result)
	recap(results []steps.Result, d time.Duration, exit int)
}

func newReporter(format, cmd string, w io.Writer, warnings []*spec.Error) reporter {
	if format == "json" {
		return &jsonReport{w: w, doc: jsonRun{Command: cmd, Version: version, Warnings: warningsJSON(warnings), Steps: []jsonStep{}}}
	}
	return &textReport{w: w, cmd: cmd}
}

// textReport prints one line per step, its changes indented below it, and
// a recap line.
type textReport struct {
	w   io.Writer
	cmd string
}

// label is the word for a status: what apply did, what plan would do,
// what verify found.
func (t *textReport) label(s steps.Status) string {
	if s != steps.StatusChanged {
		return string(s)
	}
	switch t.cmd {
	case "plan":
		return "change"
	case "verify":
		return "drift"
	}
	return string(s)
}

// step prints a step's lines in one write: a run with many steps makes
// as many writes, not several per step.
func (t *textReport) step(r steps.Result) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s %s", t.label(r.Status), r.ID)
	if r.Err != nil {
		b.WriteString(": " + indentRest(r.Err.Error(), "         "))
	}
	b.WriteString("\n")
	for _, c := range r.Changes {
		fmt.Fprintf(&b, "         %s\n", c.Summary)
		if c.Diff != "" {
			fmt.Fprintf(&b, "%s\n", indent(c.Diff, "           "))
		}
	}
	io.WriteString(t.w, b.String())
}

func (t *textReport) recap(results []steps.Result, d time.Duration, exit int) {
	n := steps.Counts(results)
	ok, changed, failed, skipped := n[steps.StatusOK], n[steps.StatusChanged], n[steps.StatusFailed], n[steps.StatusSkipped]
	switch t.cmd {
	case "plan":
		fmt.Fprintf(t.w, "plan: %d to change, %d ok, %d failed, %d skipped\n", changed, ok, failed, skipped)
	case "verify":
		fmt.Fprintf(t.w, "verify: %d drifted, %d ok, %d failed, %d skipped\n", changed, ok, failed, skipped)
	default:
		fmt.Fprintf(t.w, "apply: %d ok, %d changed, %d failed, %d skipped in %s\n", ok, changed, failed, skipped, d.Round(time.Millisecond))
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func indentRest(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}

// jsonRun is the document --output json prints for apply, plan and
// verify. Its shape is documented in the README; change it only by adding
// fields. Warnings are the spec's (see spec.Spec.Warnings) and the programs
// its services run that the host lacks; never null.
type jsonRun struct {
	Command    string          `json:"command"`
	Version    string          `json:"version"`
	Steps      []jsonStep      `json:"steps"`
	Summary    jsonSummary     `json:"summary"`
	DurationMS float64         `json:"duration_ms"`
	ExitCode   int             `json:"exit_code"`
	Warnings   []jsonSpecError `json:"warnings"`
}

// jsonStep is one step's result. Status is one of ok, changed (apply),
// would_change (plan, verify), failed, skipped.
type jsonStep struct {
	ID         string       `json:"id"`
	Status     string       `json:"status"`
	Changes    []jsonChange `json:"changes"`
	Error      string       `json:"error,omitempty"`
	DurationMS float64      `json:"duration_ms"`
}

type jsonChange struct {
	Summary string `json:"summary"`
	Diff    string `json:"diff,omitempty"`
}

type jsonSummary struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	WouldChange int `json:"would_change"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
}

// jsonReport collects the results and prints one JSON document at the end.
type jsonReport struct {
	w   io.Writer
	doc jsonRun
}

func (j *jsonReport) status(s steps.Status) string {
	if s == steps.StatusChanged && j.doc.Command != "apply" {
		return "would_change"
	}
	return string(s)
}

func (j *jsonReport) step(r steps.Result) {
	s := jsonStep{ID: r.ID, Status: j.status(r.Status), Changes: []jsonChange{}, DurationMS: ms(r.Duration)}
	if r.Err != nil {
		s.Error = r.Err.Error()
	}
	for _, c := range r.Changes {
		s.Changes = append(s.Changes, jsonChange{Summary: c.Summary, Diff: c.Diff})
	}
	j.doc.Steps = append(j.doc.Steps, s)
	switch s.Status {
	case "ok":
		j.doc.Summary.OK++
	case "changed":
		j.doc.Summary.Changed++
	case "would_change":
		j.doc.Summary.WouldChange++
	case "failed":
		j.doc.Summary.Failed++
	case "skipped":
		j.doc.Summary.Skipped++
	}
}

func (j *jsonReport) recap(results []steps.Result, d time.Duration, exit int) {
	j.doc.DurationMS = ms(d)
	j.doc.ExitCode = exit
	writeJSON(j.w, j.doc)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// jsonSpecErrors is what --output json prints for an invalid spec.
type jsonSpecErrors struct {
	Command  string          `json:"command"`
	Errors   []jsonSpecError `json:"errors"`
	ExitCode int             `json:"exit_code"`
}

type jsonSpecError struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func specErrorsJSON(cmd string, err error) jsonSpecErrors {
	doc := jsonSpecErrors{Command: cmd, ExitCode: exitInvalid}
	for _, e := range specErrors(err) {
		doc.Errors = append(doc.Errors, jsonSpecError{File: e.File, Line: e.Line, Col: e.Col, Path: e.Path, Message: e.Msg})
	}
	return doc
}

// specErrors flattens an error from spec.Load into its positioned errors;
// an error without a position (an unreadable file) becomes one without.
func specErrors(err error) []*spec.Error {
	var out []*spec.Error
	for _, e := range unwrapAll(err) {
		if se, ok := e.(*spec.Error); ok {
			out = append(out, se)
		} else {
			out = append(out, &spec.Error{Msg: e.Error()})
		}
	}
	return out
}

func unwrapAll(err error) []error {
	switch m := err.(type) {
	case interface{ WrappedErrors() []error }:
		return m.WrappedErrors()
	case interface{ Unwrap() []error }:
		return m.Unwrap()
	}
	return []error{err}
}
