package steps

import (
	"context"
	"fmt"
)

// EnsureGroup makes a local group exist (groupadd). It never changes the
// id of an existing group.
type EnsureGroup struct {
	deps
	Name   string
	System bool
}

// ID implements Step.
func (s *EnsureGroup) ID() string { return "group " + s.Name }

// Check implements Step.
func (s *EnsureGroup) Check(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, false)
}

// Apply implements Step.
func (s *EnsureGroup) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, true)
}

func (s *EnsureGroup) converge(ctx context.Context, h *Host, apply bool) ([]Change, error) {
	grps, err := h.groups()
	if err != nil {
		return nil, fmt.Errorf("read groups: %w", err)
	}
	if _, ok := grps[s.Name]; ok {
		return nil, nil
	}
	c := Change{Summary: "create group"}
	if s.System {
		c.Summary = "create system group"
	}
	if apply {
		args := h.rootArgs()
		if s.System {
			args = append(args, "--system")
		}
		if _, err := h.run(ctx, GroupaddCmd, append(args, s.Name)...); err != nil {
			return nil, fmt.Errorf("create group %s: %w", s.Name, err)
		}
	}
	return []Change{c}, nil
}

// Helper commands, overridable for tests and unusual hosts.
var (
	GroupaddCmd = "groupadd"
	UseraddCmd  = "useradd"
	UsermodCmd  = "usermod"
	VisudoCmd   = "visudo"
)

// rootArgs are the leading arguments that make shadow-utils work on the
// tree at h.Root instead of the running system.
func (h *Host) rootArgs() []string {
	if h.root() == "/" {
		return nil
	}
	return []string{"--root", h.root()}
}
