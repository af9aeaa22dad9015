package steps

import (
	"path"
	"slices"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// Build turns a validated spec into the graph of steps that converge a
// host to it, in this order: groups, users and their keys, directories,
// files, sudoers drop-ins, unit files and their [Install] links, one
// daemon-reload, then services.
//
// Needs: each step needs the steps that create what it refers to (its
// owner, its parent directory; a service its unit, the reload, its user,
// group, working directory and environment file), so that a failure
// skips only what depends on it; the links of a unit need the unit.
//
// Notifications: a unit file that changed notifies the reload (touching
// the service's units), as do changed links (touching none); the reload
// notifies every service, which restarts the running units it touched.
func Build(sp *spec.Spec) *Graph {
	g := &Graph{}
	groupStep := map[string]Step{}
	userStep := map[string]Step{}
	dirStep := map[string]Step{}
	fileStep := map[string]Step{}

	for _, u := range sp.Users {
		if _, ok := groupStep[u.Group]; !ok {
			groupStep[u.Group] = g.Add(&ensureGroup{name: u.Group, system: u.System})
		}
	}
	for _, u := range sp.Users {
		userStep[u.Name] = g.Add(&ensureUser{user: u}, lookup(groupStep, append([]string{u.Group}, u.Groups...)...)...)
	}
	for _, u := range sp.Users {
		if u.AuthorizedKeys != nil {
			newHome := (&ensureUser{user: u}).home()
			g.Add(&ensureAuthorizedKeys{user: u, newHome: newHome}, userStep[u.Name])
		}
	}
	owners := func(p, user, grp string) []Step {
		needs := lookup(userStep, user)
		needs = append(needs, lookup(groupStep, grp)...)
		return append(needs, nearestDir(dirStep, p))
	}
	for _, d := range sortedByDepth(sp.Directories) {
		dirStep[d.Path] = g.Add(&ensureDirectory{dir: d}, owners(d.Path, d.Owner, d.Group)...)
	}
	for _, f := range sp.Files {
		fileStep[f.Path] = g.Add(&ensureFile{file: f}, owners(f.Path, f.Owner, f.Group)...)
	}
	for _, sf := range sp.SudoersFiles() {
		g.Add(&writeSudoers{sudoers: sf})
	}
	if len(sp.Services) == 0 {
		return g
	}

	reload := &daemonReload{}
	units := make([]Step, len(sp.Services))
	for i, svc := range sp.Services {
		units[i] = g.Add(&writeUnit{service: svc})
		reload.units = append(reload.units, svc.Units()...)
	}
	var enables []Step
	for i, svc := range sp.Services {
		enables = append(enables, g.Add(&enableUnit{service: svc}, units[i]))
	}
	g.Add(reload)
	for i := range sp.Services {
		g.Notify(units[i], reload)
		g.Notify(enables[i], reload)
	}
	for i, svc := range sp.Services {
		needs := []Step{units[i], reload}
		needs = append(needs, lookup(userStep, svc.User)...)
		needs = append(needs, lookup(groupStep, svc.Group)...)
		if svc.WorkingDirectory != "" {
			needs = append(needs, lookup(dirStep, svc.WorkingDirectory)...)
		}
		if envFile := strings.TrimPrefix(svc.EnvironmentFile, "-"); envFile != "" {
			needs = append(needs, lookup(fileStep, envFile)...)
		}
		service := g.Add(&ensureService{service: svc}, needs...)
		g.Notify(reload, service)
	}
	return g
}

// lookup returns the steps known for keys, skipping unknown keys.
func lookup(m map[string]Step, keys ...string) []Step {
	var out []Step
	for _, k := range keys {
		if s, ok := m[k]; ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// nearestDir returns the step of the closest managed ancestor of p, or
// nil.
func nearestDir(dirStep map[string]Step, p string) Step {
	for d := path.Dir(p); ; d = path.Dir(d) {
		if s, ok := dirStep[d]; ok {
			return s
		}
		if d == "/" {
			return nil
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
