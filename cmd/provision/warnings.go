package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/provision-dev/provision/internal/hostcheck"
	"github.com/provision-dev/provision/spec"
)

// hostChecks returns the warnings cmd shows for a valid spec, sorted by
// position: the spec's own (validate, plan, apply, verify), and, for the
// commands that look at the host, the programs its services run that the
// host (or the tree at root) lacks, or that their users cannot run. Those commands also get errors: the
// sudoers commands whose programs, as the host resolves them, are not safe
// as root. render shows none: its output is the files.
func hostChecks(sp *spec.Spec, cmd, root string) (warnings, errs []*spec.Error) {
	if cmd == "render" {
		return nil, nil
	}
	warnings = sp.Warnings()
	if cmd == "plan" || cmd == "apply" || cmd == "verify" {
		warnings = append(warnings, hostcheck.MissingExecutables(sp, root)...)
		warnings = append(warnings, hostcheck.ProgramsAsUser(sp, root)...)
		for _, e := range hostcheck.SudoPrograms(sp, root) {
			if e.Warning {
				warnings = append(warnings, e)
			} else {
				errs = append(errs, e)
			}
		}
	}
	slices.SortStableFunc(warnings, func(a, b *spec.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return warnings, errs
}

// asErrors turns positioned errors into errors.
func asErrors(list []*spec.Error) []error {
	out := make([]error, len(list))
	for i, e := range list {
		out[i] = e
	}
	return out
}

// printWarnings prints one warning per line, as
// FILE:LINE:COL: warning: PATH: MESSAGE.
func printWarnings(w io.Writer, warnings []*spec.Error) {
	var b strings.Builder
	for _, warning := range warnings {
		fmt.Fprintln(&b, warning)
	}
	io.WriteString(w, b.String())
}

// warningsJSON is the warnings array of a JSON document; never null.
func warningsJSON(warnings []*spec.Error) []jsonSpecError {
	out := []jsonSpecError{}
	for _, e := range warnings {
		out = append(out, jsonSpecError{File: e.File, Line: e.Line, Col: e.Col, Path: e.Path, Message: e.Msg})
	}
	return out
}
