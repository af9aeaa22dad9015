package steps

import (
	"context"

	"github.com/provision-dev/provision/spec"
)

// EnsureFile makes a regular file exist with its owner, group, mode and,
// when the spec gives one, its content.
type EnsureFile struct {
	deps
	File spec.File
}

// ID implements Step.
func (s *EnsureFile) ID() string { return "file " + s.File.Path }

func (s *EnsureFile) target() fileTarget {
	perm := permMode(uint32(s.File.Mode))
	t := fileTarget{path: s.File.Path, owner: s.File.Owner, group: s.File.Group, perm: perm, secret: perm&0o004 == 0}
	if s.File.Content != nil {
		t.content = []byte(*s.File.Content)
	}
	return t
}

// Check implements Step.
func (s *EnsureFile) Check(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeFile(ctx, s.target(), false)
}

// Apply implements Step.
func (s *EnsureFile) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeFile(ctx, s.target(), true)
}
