package steps

import (
	"path"
	"slices"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// Build turns a validated spec into the ordered steps that converge a host
// to it: groups, users and their keys, directories, files, sudoers
// drop-ins, unit files, one daemon-reload, then services. Each step needs
// the steps that create what it refers to (its owner, its parent
// directory, its unit file), so a failure skips only what depends on it.
func Build(sp *spec.Spec) []Step {
	var out []Step
	groupStep := map[string]string{}
	userStep := map[string]string{}
	dirStep := map[string]string{}
	fileStep := map[string]string{}

	for _, u := range sp.Users {
		if _, ok := groupStep[u.Group]; !ok {
			g := &EnsureGroup{Name: u.Group, System: u.System}
			groupStep[u.Group] = g.ID()
			out = append(out, g)
		}
	}
	for _, u := range sp.Users {
		s := &EnsureUser{User: u}
		s.needs = lookup(groupStep, append([]string{u.Group}, u.Groups...)...)
		userStep[u.Name] = s.ID()
		out = append(out, s)
	}
	for _, u := range sp.Users {
		if len(u.AuthorizedKeys) > 0 {
			out = append(out, &EnsureAuthorizedKeys{User: u, deps: deps{needs: []string{userStep[u.Name]}}})
		}
	}
	owners := func(p, user, grp string) []string {
		needs := lookup(userStep, user)
		needs = append(needs, lookup(groupStep, grp)...)
		if d := nearestDir(dirStep, p); d != "" {
			needs = append(needs, d)
		}
		return needs
	}
	for _, d := range sortedByDepth(sp.Directories) {
		s := &EnsureDirectory{Dir: d}
		s.needs = owners(d.Path, d.Owner, d.Group)
		dirStep[d.Path] = s.ID()
		out = append(out, s)
	}
	for _, f := range sp.Files {
		s := &EnsureFile{File: f}
		s.needs = owners(f.Path, f.Owner, f.Group)
		fileStep[f.Path] = s.ID()
		out = append(out, s)
	}
	for _, sf := range sp.SudoersFiles() {
		out = append(out, &WriteSudoers{Sudoers: sf})
	}
	reload := &DaemonReload{Units: map[string]string{}}
	var services []Step
	for _, svc := range sp.Services {
		unit := &WriteUnit{Service: svc}
		out = append(out, unit)
		for _, u := range svc.Units() {
			reload.Units[u] = unit.ID()
		}
		s := &EnsureService{Service: svc, UnitStep: unit.ID()}
		s.needs = []string{unit.ID(), reload.ID()}
		s.needs = append(s.needs, lookup(userStep, svc.User)...)
		s.needs = append(s.needs, lookup(groupStep, svc.Group)...)
		if svc.WorkingDirectory != "" {
			s.needs = append(s.needs, lookup(dirStep, svc.WorkingDirectory)...)
		}
		if envFile := strings.TrimPrefix(svc.EnvironmentFile, "-"); envFile != "" {
			s.needs = append(s.needs, lookup(fileStep, envFile)...)
		}
		services = append(services, s)
	}
	if len(sp.Services) > 0 {
		out = append(out, reload)
	}
	return append(out, services...)
}

// lookup returns the step IDs known for keys, skipping unknown keys.
func lookup(m map[string]string, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if id, ok := m[k]; ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// nearestDir returns the step of the closest managed ancestor of p.
func nearestDir(dirStep map[string]string, p string) string {
	for d := path.Dir(p); ; d = path.Dir(d) {
		if id, ok := dirStep[d]; ok {
			return id
		}
		if d == "/" {
			return ""
		}
	}
}

// sortedByDepth orders directories so that parents come before children,
// keeping the spec's order otherwise.
func sortedByDepth(dirs []spec.Directory) []spec.Directory {
	out := slices.Clone(dirs)
	slices.SortStableFunc(out, func(a, b spec.Directory) int {
		return strings.Count(path.Clean(a.Path), "/") - strings.Count(path.Clean(b.Path), "/")
	})
	return out
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
