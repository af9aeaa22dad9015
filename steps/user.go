package steps

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/spec"
)

// ensureUser makes a local account exist (useradd) and fixes drift of its
// primary group, supplementary groups, home and shell (usermod). The
// primary group must exist; EnsureGroup creates it first. It never changes
// an existing account's uid, and never moves a home directory.
type ensureUser struct {
	user spec.User
}

func (s *ensureUser) ID() string { return "user " + s.user.Name }

func (s *ensureUser) Converge(ctx context.Context, e *Env) ([]Change, error) {
	u := s.user
	accts, err := e.accounts()
	if err != nil {
		return nil, fmt.Errorf("read accounts: %w", err)
	}
	grps, err := e.groups()
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	if e.Apply {
		for _, g := range append([]string{u.Group}, u.Groups...) {
			if _, ok := grps[g]; !ok {
				return nil, fmt.Errorf("user %s: group %s does not exist", u.Name, g)
			}
		}
	}
	wantGroups := slices.Clone(u.Groups)
	slices.Sort(wantGroups)

	a, exists := accts[u.Name]
	if !exists {
		c := Change{Summary: fmt.Sprintf("create user, group %s, home %s, shell %s", u.Group, orNone(u.Home), u.Shell)}
		if len(wantGroups) > 0 {
			c.Summary += ", groups " + strings.Join(wantGroups, ",")
		}
		if e.Apply {
			args := append(e.rootArgs(), "-g", u.Group, "-s", u.Shell)
			if u.System {
				args = append(args, "--system")
			}
			if u.Home != "" {
				args = append(args, "-d", u.Home, "-m")
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
	have := memberOf(grps, u.Name, u.Group)
	if !slices.Equal(have, wantGroups) {
		changes = append(changes, Change{Summary: fmt.Sprintf("groups [%s] -> [%s]", strings.Join(have, " "), strings.Join(wantGroups, " "))})
		args = append(args, "-G", strings.Join(wantGroups, ","))
	}
	if u.Home != "" && a.home != u.Home {
		changes = append(changes, Change{Summary: fmt.Sprintf("home %s -> %s", a.home, u.Home)})
		args = append(args, "-d", u.Home)
	}
	if a.shell != u.Shell {
		changes = append(changes, Change{Summary: fmt.Sprintf("shell %s -> %s", orNone(a.shell), u.Shell)})
		args = append(args, "-s", u.Shell)
	}
	if e.Apply && len(args) > 0 {
		args = append(e.rootArgs(), args...)
		if _, err := e.exec(ctx, distro.Usermod, append(args, u.Name)...); err != nil {
			return nil, fmt.Errorf("modify user %s: %w", u.Name, err)
		}
	}
	return changes, nil
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
