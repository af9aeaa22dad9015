package steps

import (
	"context"

	"github.com/provision-dev/provision/spec"
)

// ensureDirectory makes a directory exist with its owner, group and mode;
// or, with state: absent, removes it when it is empty (see Env.removeDir).
type ensureDirectory struct {
	dir spec.Directory
}

func (s *ensureDirectory) ID() string { return "directory " + s.dir.Path }

func (s *ensureDirectory) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.dir.State == spec.Absent {
		return e.removeDir(s.dir.Path)
	}
	return e.convergeDir(dirTarget{path: s.dir.Path, owner: s.dir.Owner, group: s.dir.Group, perm: permMode(uint32(s.dir.Mode))})
}
