package spec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits on what Load accepts.
const (
	// MaxSize is the largest spec Load reads, in bytes.
	MaxSize = 1 << 20
	// MaxValueSize is the longest single string value, file content and
	// verbatim units included, in bytes.
	MaxValueSize = 64 << 10
)

// Load parses a YAML spec, fills in defaults (see SetDefaults) and
// validates it. filename only names the spec in errors.
//
// The spec is one YAML document holding a mapping. Aliases are followed,
// up to MaxAliasExpansion values more than the document holds; merge keys
// (<<), unknown keys, duplicate keys, values of the wrong type, more than
// one document, and inputs or values over MaxSize or MaxValueSize are
// errors.
//
// A valid spec may still carry warnings (see Spec.Warnings).
//
// When the spec has problems, Load returns a nil *Spec and a
// *multierror.Error that lists every problem found (up to MaxErrors), each
// an *Error with its position and logical path, sorted by position; its
// Error method prints one per line:
//
//	provision.yaml:14:7: services[0].restart: must be one of no, on-success, ...
func Load(filename string, data []byte) (*Spec, error) {
	if len(data) > MaxSize {
		return nil, collect([]*Error{{File: filename, Msg: fmt.Sprintf("spec is %d bytes, more than the limit of %d", len(data), MaxSize)}})
	}
	if e := invalidUTF8(filename, data); e != nil {
		return nil, collect([]*Error{e})
	}
	root, errs := parse(filename, data)
	if len(errs) > 0 {
		return nil, collect(errs)
	}
	d := newDecoder(filename, root)
	var s Spec
	d.decode(root, reflect.ValueOf(&s).Elem(), "", false)
	s.SetDefaults()
	v := &validator{}
	v.validate(&s)
	errs = d.errs
	for _, pe := range v.errs {
		if d.decodeFailed(pe.path) {
			continue
		}
		errs = append(errs, d.locate(root, pe))
	}
	if len(errs) > 0 {
		return nil, collect(errs)
	}
	s.locate = func(pe pathError) *Error { return d.locate(root, pe) }
	for _, pe := range lint(&s) {
		w := s.locate(pe)
		w.Warning = true
		s.warnings = append(s.warnings, w)
	}
	s.warnings = SortErrors(s.warnings)
	return &s, nil
}

// invalidUTF8 positions the first byte of data that is not UTF-8, which
// YAML forbids (yaml.v3 reports it without a line), or returns nil.
func invalidUTF8(file string, data []byte) *Error {
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return &Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x): a spec is UTF-8 text", data[i])}
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}

// yamlLineError and reservedStart serve error messages only, and are
// compiled when the first is made.
var yamlLineError = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: line (\d+): (.*)$`) })

// syntaxError turns a yaml.v3 parse error into an *Error, with a hint for
// the two usual causes of "cannot start any token".
func syntaxError(file string, data []byte, err error) *Error {
	e := &Error{File: file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLineError().FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	if strings.HasPrefix(e.Msg, "found character that cannot start any token") {
		// yaml.v3 leaves the line out when it is the first.
		lines := strings.Split(string(data), "\n")
		n := max(e.Line, 1)
		if n <= len(lines) {
			line := lines[n-1]
			switch {
			case strings.HasPrefix(strings.TrimLeft(line, " "), "\t"):
				e.Line, e.Msg = n, e.Msg+": indent with spaces, not tabs"
			case reservedStart().MatchString(line):
				e.Line, e.Msg = n, e.Msg+`: quote values that start with %, @ or `+"`"+`, such as "%deploy"`
			}
		}
	}
	return e
}

// reservedStart matches a line with a plain value starting with a
// character YAML reserves.
var reservedStart = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile("(^\\s*|[:-]\\s+|[\\[{,]\\s*)[%@`]") })

// parse parses the single YAML document of a spec and returns its root
// mapping.
func parse(file string, data []byte) (*yaml.Node, []*Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []*Error{{File: file, Msg: "empty spec"}}
		}
		return nil, []*Error{syntaxError(file, data, err)}
	}
	var errs []*Error
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			errs = append(errs, syntaxError(file, data, err))
			break
		}
		if !emptyDocument(&next) {
			errs = append(errs, &Error{File: file, Line: next.Line, Col: next.Column, Msg: "multiple documents are not supported; merge them into one"})
			break
		}
	}
	if emptyDocument(&doc) {
		return nil, append(errs, &Error{File: file, Msg: "empty spec"})
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, append(errs, &Error{File: file, Line: root.Line, Col: root.Column,
			Msg: fmt.Sprintf("spec must be a mapping of users, directories, files, services and sudoers, got %s", kindName(root))})
	}
	return root, errs
}

// emptyDocument reports whether a document holds nothing: "---" alone.
func emptyDocument(doc *yaml.Node) bool {
	return len(doc.Content) == 0 || isNull(doc.Content[0]) && doc.Content[0].Value == ""
}

// decodeFailed reports whether the value at path, or one that contains it
// (the document aside), could not be decoded, so that checks on it would
// only repeat the error.
func (d *decoder) decodeFailed(p string) bool {
	for p != "" {
		if d.failed[p] {
			return true
		}
		p = parentPath(p)
	}
	return false
}

// locate gives a validation problem the position of its value, or of its
// key, or of the closest enclosing value when the value is absent.
func (d *decoder) locate(root *yaml.Node, pe pathError) *Error {
	e := &Error{File: d.file, Path: pe.path, Msg: pe.msg}
	n := d.values[pe.path]
	if pe.onKey && d.keys[pe.path] != nil {
		n = d.keys[pe.path]
	}
	for p := pe.path; n == nil && p != ""; {
		p = parentPath(p)
		n = d.values[p]
	}
	if n == nil {
		n = root
	}
	e.Line, e.Col = n.Line, n.Column
	return e
}

// SetDefaults fills in the fields a spec leaves empty. Load calls it; call it
// on a Spec built in code before rendering from it.
//
//   - User.Group: the user's name.
//   - Directory and File Owner and Group: root.
//   - Directory.Mode: 0755. File.Mode: 0644.
//   - Service.Enabled: true.
//   - Service.WantedBy: [multi-user.target] when the unit is structured.
//   - ServiceSudo.File: NAME-users, NAME being the service's.
//
// SudoersRule.NoPasswd has no default: it is false unless set. Service.State
// stays empty (the service is not started or stopped) unless set. User.Home
// and User.Shell stay empty unless set: an existing account keeps its own,
// and a new one gets DefaultHomeParent/NAME (none for a system user) and
// DefaultShell (DefaultSystemShell) when it is made.
func (s *Spec) SetDefaults() {
	for i := range s.Users {
		u := &s.Users[i]
		if u.Name == "" {
			continue
		}
		if u.Group == "" {
			u.Group = u.Name
		}
	}
	for i := range s.Users {
		s.Users[i].State = presence(s.Users[i].State)
	}
	for i := range s.Sudoers {
		s.Sudoers[i].State = presence(s.Sudoers[i].State)
	}
	for i := range s.Dropins {
		s.Dropins[i].State = presence(s.Dropins[i].State)
	}
	for i := range s.Directories {
		dir := &s.Directories[i]
		dir.State = presence(dir.State)
		dir.Owner = cmp.Or(dir.Owner, DefaultOwner)
		dir.Group = cmp.Or(dir.Group, DefaultOwner)
		if dir.Mode == 0 {
			dir.Mode = DefaultDirMode
		}
	}
	for i := range s.Files {
		f := &s.Files[i]
		f.State = presence(f.State)
		f.Owner = cmp.Or(f.Owner, DefaultOwner)
		f.Group = cmp.Or(f.Group, DefaultOwner)
		if f.Mode == 0 {
			f.Mode = DefaultFileMode
		}
	}
	for i := range s.Services {
		svc := &s.Services[i]
		if svc.Enabled == nil {
			enabled := true
			svc.Enabled = &enabled
		}
		if svc.Unit == "" && len(svc.WantedBy) == 0 && !svc.Absent() {
			svc.WantedBy = []string{DefaultWantedBy}
		}
		if svc.Sudo != nil && svc.Sudo.File == "" && svc.Name != "" {
			svc.Sudo.File = svc.Name + DefaultSudoFileSuffix
		}
	}
}

// presence reads "present" as the default it is.
func presence(p Presence) Presence {
	if p == "present" {
		return Present
	}
	return p
}
