package steps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// enableUnit converges the [Install] links of a service's units, as
// systemctl enable and disable make them, against the [Install] section
// of the unit the spec renders (which writeUnit, before it, has put on
// disk): WantedBy=, RequiredBy= and UpheldBy= give a link in
// /etc/systemd/system/TARGET.wants, .requires and .upholds, Alias= a link
// in /etc/systemd/system itself, each pointing to the unit file. Links to
// the unit that the section does not ask for (a target the spec no longer
// names, an instance beyond instances:, everything when enabled is false)
// are removed.
//
// The links are the whole of enablement, online and on a tree that is not
// running (--root) alike: this step makes them itself, without following
// a symbolic link on the way, and notifies daemonReload, since systemd
// learns of changed links only when it reloads.
type enableUnit struct {
	service spec.Service
}

func (s *enableUnit) ID() string { return "enable " + s.service.UnitName() }

// link is one [Install] link: a symbolic link at path pointing to target,
// which enables unit.
type link struct {
	path, target, unit string
}

func (s *enableUnit) Converge(ctx context.Context, e *Env) ([]Change, error) {
	want, err := s.wanted()
	if err != nil {
		return nil, err
	}
	links, err := e.links()
	if err != nil {
		return nil, err
	}
	have, err := links.of(e, s.service)
	if err != nil {
		return nil, err
	}
	var add, drop []link
	for _, l := range want {
		h, ok := have[l.path]
		switch {
		case !ok:
			add = append(add, l)
		case h.target != l.target:
			drop = append(drop, h)
			add = append(add, l)
		}
	}
	for _, h := range have {
		if !slices.ContainsFunc(want, func(l link) bool { return l.path == h.path }) {
			drop = append(drop, h)
		}
	}
	byPath := func(a, b link) int { return strings.Compare(a.path, b.path) }
	slices.SortFunc(add, byPath)
	slices.SortFunc(drop, byPath)
	changes := s.describe(want, have, add, drop)
	if len(changes) == 0 || !e.Apply {
		return changes, nil
	}
	for _, l := range drop {
		if err := links.remove(e, l.path); err != nil {
			return nil, err
		}
	}
	for _, l := range add {
		if err := links.make(e, l); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// describe says, one change per unit, which links are made and removed:
// "enable: link PATH" for a unit that had none, "disable: remove PATH"
// for one that is to have none, "links: ..." otherwise. The changes of a
// template's instances start with the instance's name.
func (s *enableUnit) describe(want []link, have map[string]link, add, drop []link) []Change {
	what := map[string][]string{}
	units := slices.Clone(s.service.Units())
	note := func(unit, msg string) {
		if !slices.Contains(units, unit) {
			units = append(units, unit)
		}
		what[unit] = append(what[unit], msg)
	}
	for _, l := range drop {
		if !slices.ContainsFunc(add, func(a link) bool { return a.path == l.path }) {
			note(l.unit, "remove "+l.path)
		}
	}
	for _, l := range add {
		if h, ok := have[l.path]; ok {
			note(l.unit, fmt.Sprintf("link %s to %s (not %s)", l.path, l.target, h.target))
		} else {
			note(l.unit, "link "+l.path)
		}
	}
	slices.Sort(units[len(s.service.Units()):])
	had, wanted := map[string]bool{}, map[string]bool{}
	for _, h := range have {
		had[h.unit] = true
	}
	for _, l := range want {
		wanted[l.unit] = true
	}
	var changes []Change
	for _, unit := range units {
		msgs := what[unit]
		if len(msgs) == 0 {
			continue
		}
		slices.Sort(msgs)
		verb := "links"
		switch {
		case !had[unit]:
			verb = "enable"
		case !wanted[unit]:
			verb = "disable"
		}
		prefix := ""
		if s.service.Instances > 0 || unit != s.service.UnitName() {
			prefix = unit + ": "
		}
		changes = append(changes, Change{Summary: prefix + verb + ": " + strings.Join(msgs, ", ")})
	}
	return changes
}

// linkDirSuffixes map the [Install] settings that make links in a
// target's directory to that directory's suffix.
var linkDirSuffixes = map[string]string{
	"WantedBy":   ".wants",
	"RequiredBy": ".requires",
	"UpheldBy":   ".upholds",
}

// errNoInstallSection is returned for a service that is to be enabled
// but whose unit has no [Install] section that makes a link.
var errNoInstallSection = errors.New("the unit has no [Install] section (WantedBy=, RequiredBy=, UpheldBy= or Alias=), so there is nothing to enable; set enabled: false, or wanted_by")

// wanted returns the links that enabling the service's units makes, none
// when the service is not to be enabled.
func (s *enableUnit) wanted() ([]link, error) {
	if !s.service.IsEnabled() || s.service.Absent() {
		return nil, nil
	}
	target := s.service.UnitPath()
	var out []link
	for _, set := range s.service.Settings() {
		if set.Section != "Install" {
			continue
		}
		values := strings.Fields(set.Value)
		if strings.Contains(set.Value, "%") {
			return nil, fmt.Errorf("[Install] %s=%s: specifiers in [Install] are not supported", set.Name, set.Value)
		}
		switch set.Name {
		case "WantedBy", "RequiredBy", "UpheldBy":
			for _, t := range values {
				for _, u := range s.service.Units() {
					out = append(out, link{path.Join(spec.UnitDir, t+linkDirSuffixes[set.Name], u), target, u})
				}
			}
		case "Alias":
			if s.service.Instances > 0 {
				return nil, fmt.Errorf("[Install] Alias=%s: aliases of template instances are not supported", set.Value)
			}
			for _, a := range values {
				out = append(out, link{path.Join(spec.UnitDir, a), target, s.service.UnitName()})
			}
		case "Also", "DefaultInstance":
			return nil, fmt.Errorf("[Install] %s= is not supported: list each service in the spec", set.Name)
		}
	}
	if len(out) == 0 {
		return nil, errNoInstallSection
	}
	slices.SortFunc(out, func(a, b link) int { return strings.Compare(a.path, b.path) })
	return slices.CompactFunc(out, func(a, b link) bool { return a == b }), nil
}

// installLinks is what the links of /etc/systemd/system are, read once
// per run: the names of the symbolic links in each *.wants, *.requires and
// *.upholds directory, and the symbolic links at its top (aliases and
// masks) with their targets. enableUnit keeps it up to date as it changes
// links.
type installLinks struct {
	// dirs maps the service a link is named for (serviceOf) to the
	// links in the link directories: a directory name
	// ("multi-user.target.wants") and the link's name in it. Keyed so,
	// a service's links are found without going through every link of
	// the host's other services, a hundred or a thousand of them.
	dirs map[string][]dirLink
	// top maps the name of each symbolic link at the top to its target.
	top map[string]string
}

// dirLink is a symbolic link in one of the link directories.
type dirLink struct{ dir, name string }

// serviceOf is the service a link in a link directory is named for: the
// name without ".service" and without an instance ("worker" for
// worker@1.service and worker.service); "" for a link to another kind of
// unit.
func serviceOf(name string) string {
	base, ok := strings.CutSuffix(name, ".service")
	if !ok {
		return ""
	}
	base, _, _ = strings.Cut(base, "@")
	return base
}

func (l *installLinks) add(dir, name string) {
	if svc := serviceOf(name); svc != "" {
		l.dirs[svc] = append(l.dirs[svc], dirLink{dir, name})
	}
}

// links returns the run's view of the [Install] links, reading it the
// first time.
func (e *Env) links() (*installLinks, error) {
	if e.run.links != nil {
		return e.run.links, nil
	}
	entries, err := e.fs().ReadDir(spec.UnitDir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", spec.UnitDir, err)
	}
	l := &installLinks{dirs: map[string][]dirLink{}, top: map[string]string{}}
	for _, ent := range entries {
		switch {
		case ent.Mode&os.ModeSymlink != 0:
			target, err := e.fs().Readlink(path.Join(spec.UnitDir, ent.Name))
			if err != nil {
				return nil, err
			}
			l.top[ent.Name] = target
		case ent.Mode.IsDir() && isLinkDir(ent.Name):
			sub, err := e.fs().ReadDir(path.Join(spec.UnitDir, ent.Name))
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", path.Join(spec.UnitDir, ent.Name), err)
			}
			for _, s := range sub {
				if s.Mode&os.ModeSymlink != 0 {
					l.add(ent.Name, s.Name)
				}
			}
		}
	}
	e.run.links = l
	return l, nil
}

func isLinkDir(name string) bool {
	for _, suffix := range linkDirSuffixes {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// of returns the links that enable one of the service's units, or, for a
// template, any instance of it, by path.
func (l *installLinks) of(e *Env, svc spec.Service) (map[string]link, error) {
	ours := func(name string) bool {
		instance := func() bool {
			inst, ok := strings.CutPrefix(name, svc.Name+"@")
			return ok && strings.HasSuffix(inst, ".service") && inst != ".service"
		}
		switch {
		case svc.Absent():
			// A retired service's spec need not say which it was.
			return name == svc.Name+".service" || instance()
		case svc.Instances == 0:
			return name == svc.UnitName()
		}
		return instance()
	}
	out := map[string]link{}
	for _, dl := range l.dirs[svc.Name] {
		if !ours(dl.name) {
			continue
		}
		p := path.Join(spec.UnitDir, dl.dir, dl.name)
		target, err := e.fs().Readlink(p)
		if err != nil {
			return nil, err
		}
		out[p] = link{p, target, dl.name}
	}
	if svc.Instances == 0 {
		for name, target := range l.top {
			if name != svc.UnitName() && path.Base(target) == svc.UnitName() {
				p := path.Join(spec.UnitDir, name)
				out[p] = link{p, target, svc.UnitName()}
			}
		}
	}
	return out, nil
}

// remove removes the link at p, which must still be a symbolic link.
func (l *installLinks) remove(e *Env, p string) error {
	n, err := e.fs().Lstat(p)
	if err != nil {
		return err
	}
	if n.Exists {
		if n.Mode&os.ModeSymlink == 0 {
			return fmt.Errorf("%s: is not a symbolic link; refusing to remove it", p)
		}
		if err := e.fs().Remove(p); err != nil {
			return err
		}
	}
	dir, name := path.Dir(p), path.Base(p)
	if dir == spec.UnitDir {
		delete(l.top, name)
		return nil
	}
	gone := dirLink{path.Base(dir), name}
	l.dirs[serviceOf(name)] = slices.DeleteFunc(l.dirs[serviceOf(name)], func(dl dirLink) bool { return dl == gone })
	return nil
}

// make creates the link lk, and the directory it goes in when missing.
func (l *installLinks) make(e *Env, lk link) error {
	dir := path.Dir(lk.path)
	if err := e.fs().MkdirAll(dir); err != nil {
		return err
	}
	n, err := e.fs().Lstat(lk.path)
	if err != nil {
		return err
	}
	if n.Exists {
		return fmt.Errorf("%s: exists and is not a link to %s; refusing to replace it", lk.path, lk.target)
	}
	if err := e.fs().Symlink(lk.target, lk.path); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	name := path.Base(lk.path)
	if dir == spec.UnitDir {
		l.top[name] = lk.target
		return nil
	}
	l.add(path.Base(dir), name)
	return nil
}
