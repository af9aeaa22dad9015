package steps

import (
	"path"
	"slices"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// Build turns a validated spec into the graph of steps that converge a
// host to it, in this order: the stops of retired services; unit files
// (and their removal), drop-ins, [Install] links; one daemon-reload;
// groups, users and their keys, directories, files, sudoers drop-ins;
// services, the retired ones forgotten, units restarted for their
// drop-ins; and last what is to be absent: files, directories (deepest
// first), accounts. The reload runs while the accounts and files are made.
//
// Needs: each step needs the steps that create what it refers to (its
// owner, its parent directory; a service its unit, the reload, its user,
// group, working directory and environment file), so that a failure
// skips only what depends on it; the links of a unit need the unit; the
// removal of a retired service's unit needs its stop.
//
// Notifications: a unit file or drop-in that changed notifies the reload
// (touching the units it configures), as do changed links (touching
// none); the reload notifies every service, and every unit restarted for
// its drop-ins, which restart the running units it touched.
func Build(sp *spec.Spec) *Graph {
	g := &Graph{}
	groupStep := map[string]Step{}
	userStep := map[string]Step{}
	dirStep := map[string]Step{}
	fileStep := map[string]Step{}

	// Unit files, drop-ins, [Install] links and the reload come first:
	// they need nothing the accounts and files make, and the reload runs
	// while those are made (see daemonReload).
	var units *unitSteps
	if len(sp.Services) > 0 || len(sp.Dropins) > 0 {
		units = buildUnitFiles(g, sp)
	}

	var present, absent []spec.User
	for _, u := range sp.Users {
		if u.State == spec.Absent {
			absent = append(absent, u)
		} else {
			present = append(present, u)
		}
	}
	// A group that is a user's own (its name, no other user's group) is
	// made with the account, by one useradd -U.
	shared := map[string]bool{}
	for _, u := range present {
		if u.Group != u.Name {
			shared[u.Group] = true
		}
		for _, grp := range u.Groups {
			shared[grp] = true
		}
	}
	own := func(u spec.User) bool { return u.Group == u.Name && !shared[u.Name] }
	for _, u := range present {
		if _, ok := groupStep[u.Group]; !ok && !own(u) {
			groupStep[u.Group] = g.Add(&ensureGroup{name: u.Group, system: u.System})
		}
	}
	for _, u := range present {
		userStep[u.Name] = g.Add(&ensureUser{user: u, ownGroup: own(u)}, lookup(groupStep, append([]string{u.Group}, u.Groups...)...)...)
		if own(u) {
			groupStep[u.Group] = userStep[u.Name]
		}
	}
	for _, u := range present {
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
	dirs := sortedByDepth(sp.Directories)
	for _, d := range dirs {
		if d.State != spec.Absent {
			dirStep[d.Path] = g.Add(&ensureDirectory{dir: d}, owners(d.Path, d.Owner, d.Group)...)
		}
	}
	for _, f := range sp.Files {
		if f.State != spec.Absent {
			fileStep[f.Path] = g.Add(&ensureFile{file: f}, owners(f.Path, f.Owner, f.Group)...)
		}
	}
	// The drop-ins share one check of the whole configuration, made by
	// the last of them (see sudoersBatch).
	batch := &sudoersBatch{}
	for _, sf := range sp.SudoersFiles() {
		s := &writeSudoers{sudoers: sf, batch: batch}
		batch.members = append(batch.members, s)
		g.Add(s)
	}

	if units != nil {
		buildServices(g, sp, units, userStep, groupStep, dirStep, fileStep)
	}

	for _, f := range sp.Files {
		if f.State == spec.Absent {
			g.Add(&ensureFile{file: f})
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if d := dirs[i]; d.State == spec.Absent {
			g.Add(&ensureDirectory{dir: d})
		}
	}
	for _, u := range absent {
		g.Add(&ensureUser{user: u})
	}
	return g
}

// unitSteps are the steps buildUnitFiles adds that the services' steps
// refer to.
type unitSteps struct {
	units  []Step
	reload *daemonReload
	// own are the drop-ins of each service; foreignUnits the units,
	// not services of the spec, whose drop-ins restart them.
	own          [][]spec.Dropin
	foreignUnits []string
}

// buildUnitFiles adds the steps that write what systemd reads, and the
// reload: the stops of retired services, unit files (and their removal),
// drop-ins, [Install] links, one daemon-reload (see Build).
func buildUnitFiles(g *Graph, sp *spec.Spec) *unitSteps {
	// Which service, if any, each drop-in's unit belongs to.
	owner := func(unit string) int {
		for i, svc := range sp.Services {
			if unit == svc.UnitName() || templateOf(unit) == svc.UnitName() || slices.Contains(svc.Units(), unit) {
				return i
			}
		}
		return -1
	}
	u := &unitSteps{own: make([][]spec.Dropin, len(sp.Services))}
	for _, d := range sp.Dropins {
		if i := owner(d.Unit); i >= 0 {
			u.own[i] = append(u.own[i], d)
		} else if d.Restarts() && !slices.Contains(u.foreignUnits, d.Unit) {
			u.foreignUnits = append(u.foreignUnits, d.Unit)
		}
	}

	stops := make([]Step, len(sp.Services))
	for i, svc := range sp.Services {
		if svc.Absent() {
			stops[i] = g.Add(&ensureService{service: svc})
		}
	}
	reload := &daemonReload{}
	u.reload = reload
	u.units = make([]Step, len(sp.Services))
	for i, svc := range sp.Services {
		u.units[i] = g.Add(&writeUnit{service: svc}, stops[i])
		reload.units = append(reload.units, svc.Units()...)
		if !svc.Absent() {
			reload.readBack = append(reload.readBack, svc.Units()...)
		}
	}
	var dropins []Step
	for _, d := range sp.Dropins {
		dropins = append(dropins, g.Add(&writeDropin{dropin: d}))
		if !slices.Contains(reload.units, d.Unit) && !strings.Contains(d.Unit, "@.") {
			reload.units = append(reload.units, d.Unit)
		}
	}
	var enables []Step
	for i, svc := range sp.Services {
		enables = append(enables, g.Add(&enableUnit{service: svc}, u.units[i]))
	}
	g.Add(reload)
	for i := range sp.Services {
		g.Notify(u.units[i], reload)
		g.Notify(enables[i], reload)
	}
	for _, d := range dropins {
		g.Notify(d, reload)
	}
	return u
}

// buildServices adds the steps of the services, after the accounts and
// files they run with: each service, the retired ones forgotten, and the
// units restarted for their drop-ins (see Build).
func buildServices(g *Graph, sp *spec.Spec, u *unitSteps, userStep, groupStep, dirStep, fileStep map[string]Step) {
	reload := u.reload
	for i, svc := range sp.Services {
		if svc.Absent() {
			forget := g.Add(&forgetService{service: svc}, reload)
			g.Notify(reload, forget)
			continue
		}
		needs := []Step{u.units[i], reload}
		needs = append(needs, lookup(userStep, svc.User)...)
		needs = append(needs, lookup(groupStep, svc.Group)...)
		if svc.WorkingDirectory != "" {
			needs = append(needs, lookup(dirStep, svc.WorkingDirectory)...)
		}
		if envFile := strings.TrimPrefix(svc.EnvironmentFile, "-"); envFile != "" {
			needs = append(needs, lookup(fileStep, envFile)...)
		}
		service := g.Add(&ensureService{service: svc, dropins: u.own[i]}, needs...)
		g.Notify(reload, service)
	}
	for _, unit := range u.foreignUnits {
		restart := g.Add(&restartUnit{unit: unit}, reload)
		g.Notify(reload, restart)
	}
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
