package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/go-multierror"
)

// MaxErrors is how many errors Load reports at most; the rest are counted
// in a last error.
const MaxErrors = 200

// Error is one problem in a spec: where it is and what is wrong.
type Error struct {
	// File is the name given to Load.
	File string
	// Line and Col are 1-based; 0 when unknown (Col alone may be unknown).
	Line, Col int
	// Path is the logical path of the value, such as "services[0].restart";
	// empty for problems with the document as a whole.
	Path string
	Msg  string
	// Warning marks a questionable setting that does not make the spec
	// invalid (see Spec.Warnings).
	Warning bool
}

// Error renders the problem as "FILE:LINE:COL: PATH: MSG", or
// "FILE:LINE:COL: warning: PATH: MSG" for a warning, leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Warning {
		b.WriteString("warning: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// formatErrors prints one error per line, with no header.
func formatErrors(errs []error) string {
	lines := make([]string, len(errs))
	for i, err := range errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// collect turns the problems found into the error Load returns: a
// *multierror.Error whose Errors are *Error sorted by position, printed one
// per line, or nil when there are none.
func collect(errs []*Error) error {
	errs = SortErrors(errs)
	if len(errs) > MaxErrors {
		more := len(errs) - MaxErrors
		errs = append(errs[:MaxErrors:MaxErrors], &Error{File: errs[0].File, Msg: fmt.Sprintf("too many errors (%d more)", more)})
	}
	var merr *multierror.Error
	for _, e := range errs {
		merr = multierror.Append(merr, e)
	}
	if merr != nil {
		merr.ErrorFormat = formatErrors
	}
	return merr.ErrorOrNil()
}

// SortErrors sorts errors by position, then path and message, and drops
// duplicates. It sorts errs in place and returns it.
func SortErrors(errs []*Error) []*Error {
	slices.SortStableFunc(errs, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	return slices.CompactFunc(errs, func(a, b *Error) bool { return *a == *b })
}

// Warning returns a warning about the value at the logical path p (such as
// "services[0].exec_start"), positioned in the document Load read; a Spec
// built in code gives a warning with the path alone.
func (s *Spec) Warning(p, msg string) *Error {
	w := &Error{Path: p, Msg: msg}
	if s.locate != nil {
		w = s.locate(pathError{path: p, msg: msg})
	}
	w.Warning = true
	return w
}

// Errorf returns an error about the value at the logical path p, positioned
// like Warning's.
func (s *Spec) Errorf(p, format string, args ...any) *Error {
	e := s.Warning(p, fmt.Sprintf(format, args...))
	e.Warning = false
	return e
}
