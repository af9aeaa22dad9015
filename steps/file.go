package steps

import (
	"context"

	"github.com/provision-dev/provision/spec"
)

// ensureFile makes a regular file exist with its owner, group, mode and,
// when the spec gives one, its content; or, with state: absent, makes it
// not exist (see Env.removeFile).
type ensureFile struct {
	file spec.File
}

func (s *ensureFile) ID() string { return "file " + s.file.Path }

func (s *ensureFile) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.file.State == spec.Absent {
		return e.removeFile(s.file.Path)
	}
	perm := permMode(uint32(s.file.Mode))
	t := fileTarget{path: s.file.Path, owner: s.file.Owner, group: s.file.Group, perm: perm, secret: perm&0o004 == 0}
	if s.file.Content != nil {
		t.content = []byte(*s.file.Content)
	}
	return e.convergeFile(ctx, t)
}
