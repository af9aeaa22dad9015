package steps

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/spec"
)

// ensureUser makes a local account exist (useradd) and fixes drift of
// what the spec says of it (usermod): its primary group, and, when the
// spec gives them, its supplementary groups, home and shell. What the spec
// leaves out of an existing account is left as it is: users:
// [{name: root, authorized_keys: [...]}] manages root's keys and nothing
// else. A new account gets the defaults (home /home/NAME, none for a
// system user; shell /bin/bash, /usr/sbin/nologin for a system user). The
// primary group must exist; ensureGroup creates it first. It never changes
// an existing account's uid, and never moves a home directory; a home
// that is missing (a useradd killed after writing /etc/passwd, a home
// removed by hand) is made as useradd -m makes it (see createHome).
type ensureUser struct {
	user spec.User
	// ownGroup says the primary group is the user's own (its name, no
	// other user's group): a new account gets it from useradd -U, in
	// the same program.
	ownGroup bool
}

func (s *ensureUser) ID() string { return "user " + s.user.Name }

// home is the home a new account gets, "" for none.
func (s *ensureUser) home() string {
	if s.user.Home != "" || s.user.System {
		return s.user.Home
	}
	return path.Join(spec.DefaultHomeParent, s.user.Name)
}

// shell is the shell a new account gets.
func (s *ensureUser) shell() string {
	switch {
	case s.user.Shell != "":
		return s.user.Shell
	case s.user.System:
		return spec.DefaultSystemShell
	}
	return spec.DefaultShell
}

func (s *ensureUser) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.user.State == spec.Absent {
		return s.retire(ctx, e)
	}
	u := s.user
	accts, err := e.accounts()
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	grps, err := e.groups()
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	_, groupExists := grps[u.Group]
	makeGroup := s.ownGroup && !groupExists
	if e.Apply {
		for _, g := range append([]string{u.Group}, u.Groups...) {
			if _, ok := grps[g]; !ok && !(makeGroup && g == u.Group) {
				return nil, fmt.Errorf("user %s: group %s does not exist", u.Name, g)
			}
		}
	}
	wantGroups := slices.Clone(u.Groups)
	slices.Sort(wantGroups)

	a, exists := accts[u.Name]
	if !exists {
		home, shell := s.home(), s.shell()
		c := Change{Summary: fmt.Sprintf("create user, group %s, home %s, shell %s", u.Group, orNone(home), shell)}
		if makeGroup {
			c.Summary = fmt.Sprintf("create user and its group %s, home %s, shell %s", u.Group, orNone(home), shell)
		}
		if len(wantGroups) > 0 {
			c.Summary += ", groups " + strings.Join(wantGroups, ",")
		}
		if e.Apply {
			args := append(e.rootArgs(), "-g", u.Group, "-s", shell)
			if makeGroup {
				args = append(e.rootArgs(), "-U", "-s", shell)
			}
			if u.System {
				args = append(args, "--system")
			}
			if home != "" {
				args = append(args, "-d", home, "-m")
			} else {
				args = append(args, "-M")
			}
			if len(wantGroups) > 0 {
				args = append(args, "-G", strings.Join(wantGroups, ","))
			}
			if _, err := e.exec(ctx, distro.Useradd, append(args, u.Name)...); err != nil {
				return nil, fmt.Errorf("create user %s: %w", u.Name, err)
			}
		}
		return []Change{c}, nil
	}

	var changes []Change
	var args []string
	if g, ok := grps[u.Group]; !ok || g.gid != a.gid {
		changes = append(changes, Change{Summary: fmt.Sprintf("group %s -> %s", groupName(grps, a.gid), u.Group)})
		args = append(args, "-g", u.Group)
	}
	if u.Groups != nil {
		if have := memberOf(grps, u.Name, u.Group); !slices.Equal(have, wantGroups) {
			changes = append(changes, Change{Summary: fmt.Sprintf("groups [%s] -> [%s]", strings.Join(have, " "), strings.Join(wantGroups, " "))})
			args = append(args, "-G", strings.Join(wantGroups, ","))
		}
	}
	home := a.home
	if u.Home != "" && a.home != u.Home {
		changes = append(changes, Change{Summary: fmt.Sprintf("home %s -> %s", a.home, u.Home)})
		args = append(args, "-d", u.Home)
		home = u.Home
	}
	if u.Shell != "" && a.shell != u.Shell {
		changes = append(changes, Change{Summary: fmt.Sprintf("shell %s -> %s", orNone(a.shell), u.Shell)})
		args = append(args, "-s", u.Shell)
	}
	if e.Apply && len(args) > 0 {
		args = append(e.rootArgs(), args...)
		if _, err := e.exec(ctx, distro.Usermod, append(args, u.Name)...); err != nil {
			return nil, fmt.Errorf("modify user %s: %w", u.Name, err)
		}
	}
	c, err := s.ensureHome(e, home, a)
	if err != nil {
		return changes, err
	}
	return append(changes, c...), nil
}

// ensureHome makes the account's home when it is missing, unless the
// account is not to have one: a system account the spec gives no home,
// or a home such as /nonexistent that says "none".
func (s *ensureUser) ensureHome(e *Env, home string, a account) ([]Change, error) {
	if home == "" || home == "/" || home == "/nonexistent" || s.user.System && s.user.Home == "" || !path.IsAbs(home) {
		return nil, nil
	}
	n, err := e.fs().Lstat(home)
	if err != nil || n.Exists {
		return nil, err
	}
	mode := homeMode(e)
	c := Change{Summary: fmt.Sprintf("home %s is missing: create it as useradd -m does (mode %s, from /etc/skel)", home, modeString(mode))}
	if !e.Apply {
		return []Change{c}, nil
	}
	uid, gid := a.uid, a.gid
	if err := e.fs().Mkdir(home, mode, uid, gid); err != nil {
		return nil, fmt.Errorf("create home %s: %w", home, err)
	}
	if err := copySkel(e, "/etc/skel", home, uid, gid); err != nil {
		return nil, fmt.Errorf("create home %s: %w", home, err)
	}
	return []Change{c}, nil
}

// homeMode is the mode useradd -m gives a home: HOME_MODE of
// /etc/login.defs, else 0777 less its UMASK (022 when unset).
func homeMode(e *Env) os.FileMode {
	defs, _, err := e.fs().ReadFile("/etc/login.defs", maxDiffSize)
	umask, homeMode := uint64(0o022), uint64(0)
	if err == nil {
		for _, line := range strings.Split(string(defs), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			v, err := strconv.ParseUint(f[1], 8, 32)
			if err != nil {
				continue
			}
			switch f[0] {
			case "UMASK":
				umask = v
			case "HOME_MODE":
				homeMode = v
			}
		}
	}
	if homeMode == 0 {
		homeMode = 0o777 &^ umask
	}
	return permMode(uint32(homeMode))
}

// copySkel copies the skeleton directory skel into home, as useradd -m
// does: directories, regular files and symbolic links, owned by uid:gid,
// modes kept. Nothing is followed: a link is copied as a link.
func copySkel(e *Env, skel, home string, uid, gid int) error {
	entries, err := e.fs().ReadDir(skel)
	if err != nil {
		return err
	}
	for _, ent := range entries {
		from, to := path.Join(skel, ent.Name), path.Join(home, ent.Name)
		switch {
		case ent.Mode.IsDir():
			if err := e.fs().Mkdir(to, ent.Perm(), uid, gid); err != nil {
				return err
			}
			if err := copySkel(e, from, to, uid, gid); err != nil {
				return err
			}
		case ent.Mode.IsRegular():
			data, _, err := e.fs().ReadFile(from, 16<<20)
			if err != nil {
				return err
			}
			if err := e.fs().WriteFileAtomic(to, data, ent.Perm(), uid, gid, nil); err != nil {
				return err
			}
		case ent.Mode&os.ModeSymlink != 0:
			target, err := e.fs().Readlink(from)
			if err != nil {
				return err
			}
			if err := e.fs().Symlink(target, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// retire removes the account (userdel), keeping its home unless the spec
// says remove_home. It refuses while the user has processes, naming them:
// userdel would leave them running under a uid no name has, which the
// next account to get that uid inherits.
func (s *ensureUser) retire(ctx context.Context, e *Env) ([]Change, error) {
	accts, err := e.accounts()
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	a, ok := accts[s.user.Name]
	if !ok {
		return nil, nil
	}
	if !e.Host.Offline {
		procs, err := processesOf(a.uid)
		if err != nil {
			return nil, err
		}
		if len(procs) > 0 {
			return nil, fmt.Errorf("user %s has running processes: %s; stop them first (retire the services that run as %s in the same spec, or kill them)", s.user.Name, strings.Join(procs, ", "), s.user.Name)
		}
	}
	summary := fmt.Sprintf("remove user (uid %d); the home %s stays", a.uid, orNone(a.home))
	args := e.rootArgs()
	if s.user.RemoveHome {
		summary = fmt.Sprintf("remove user (uid %d) and its home %s", a.uid, orNone(a.home))
		args = append(args, "--remove")
	}
	if e.Apply {
		if _, err := e.exec(ctx, distro.Userdel, append(args, s.user.Name)...); err != nil {
			return nil, fmt.Errorf("remove user %s: %w", s.user.Name, err)
		}
	}
	return []Change{{Summary: summary}}, nil
}

// processesOf lists, as "PID (NAME)", the processes whose real uid is uid.
func processesOf(uid int) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []string
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile("/proc/" + ent.Name() + "/status")
		if err != nil {
			continue // gone
		}
		var name string
		real := -1
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, "Name:"); ok {
				name = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					real, _ = strconv.Atoi(f[0])
				}
			}
		}
		if real == uid {
			out = append(out, fmt.Sprintf("%d (%s)", pid, name))
		}
	}
	return out, nil
}

// memberOf lists, sorted, the supplementary groups of user: those that
// name it as a member, less its primary group.
func memberOf(grps map[string]group, user, primary string) []string {
	var out []string
	for _, g := range grps {
		if g.name != primary && slices.Contains(g.members, user) {
			out = append(out, g.name)
		}
	}
	slices.Sort(out)
	return out
}

func groupName(grps map[string]group, gid int) string {
	for _, g := range grps {
		if g.gid == gid {
			return g.name
		}
	}
	return fmt.Sprint(gid)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
