package steps

import (
	"context"
	"fmt"

	"github.com/provision-dev/provision/internal/distro"
)

// ensureGroup makes a local group exist (groupadd). It never changes the
// id of an existing group.
type ensureGroup struct {
	name   string
	system bool
}

func (s *ensureGroup) ID() string { return "group " + s.name }

func (s *ensureGroup) Converge(ctx context.Context, e *Env) ([]Change, error) {
	grps, err := e.groups()
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	if _, ok := grps[s.name]; ok {
		return nil, nil
	}
	c := Change{Summary: "create group"}
	if s.system {
		c.Summary = "create system group"
	}
	if e.Apply {
		args := e.rootArgs()
		if s.system {
			args = append(args, "--system")
		}
		if _, err := e.exec(ctx, distro.Groupadd, append(args, s.name)...); err != nil {
			return nil, fmt.Errorf("create group %s: %w", s.name, err)
		}
	}
	return []Change{c}, nil
}

// rootArgs are the leading arguments that make shadow-utils work on the
// tree at Host.Root instead of the running system.
func (e *Env) rootArgs() []string {
	if e.root() == "/" {
		return nil
	}
	return []string{"--root", e.root()}
}
