package steps

import (
	"context"

	"github.com/provision-dev/provision/spec"
)

// EnsureDirectory makes a directory exist with its owner, group and mode.
type EnsureDirectory struct {
	deps
	Dir spec.Directory
}

// ID implements Step.
func (s *EnsureDirectory) ID() string { return "directory " + s.Dir.Path }

func (s *EnsureDirectory) target() dirTarget {
	return dirTarget{path: s.Dir.Path, owner: s.Dir.Owner, group: s.Dir.Group, perm: permMode(uint32(s.Dir.Mode))}
}

// Check implements Step.
func (s *EnsureDirectory) Check(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeDir(s.target(), false)
}

// Apply implements Step.
func (s *EnsureDirectory) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeDir(s.target(), true)
}

// deps carries the IDs of the steps a step needs.
type deps struct{ needs []string }

// Needs implements Step.
func (d deps) Needs() []string { return d.needs }
