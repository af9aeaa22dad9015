package steps

import (
	"context"
	"path"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// ensureAuthorizedKeys writes HOME/.ssh/authorized_keys (0600) in HOME/.ssh
// (0700), both owned by the user. The listed keys are the whole file.
type ensureAuthorizedKeys struct {
	user spec.User
}

func (s *ensureAuthorizedKeys) ID() string { return "authorized_keys " + s.user.Name }

func (s *ensureAuthorizedKeys) targets() (dirTarget, fileTarget) {
	dir := path.Join(s.user.Home, ".ssh")
	content := strings.Join(s.user.AuthorizedKeys, "\n") + "\n"
	return dirTarget{path: dir, owner: s.user.Name, group: s.user.Group, perm: 0o700},
		fileTarget{path: path.Join(dir, "authorized_keys"), owner: s.user.Name, group: s.user.Group, perm: 0o600, content: []byte(content)}
}

func (s *ensureAuthorizedKeys) Converge(ctx context.Context, e *Env) ([]Change, error) {
	d, f := s.targets()
	dc, err := e.convergeDir(d)
	if err != nil {
		return nil, err
	}
	for i := range dc {
		dc[i].Summary = d.path + ": " + dc[i].Summary
	}
	fc, err := e.convergeFile(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range fc {
		fc[i].Summary = f.path + ": " + fc[i].Summary
	}
	return append(dc, fc...), nil
}
