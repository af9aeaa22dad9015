package steps

import (
	"context"
	"path"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// EnsureAuthorizedKeys writes HOME/.ssh/authorized_keys (0600) in HOME/.ssh
// (0700), both owned by the user. The listed keys are the whole file.
type EnsureAuthorizedKeys struct {
	deps
	User spec.User
}

// ID implements Step.
func (s *EnsureAuthorizedKeys) ID() string { return "authorized_keys " + s.User.Name }

func (s *EnsureAuthorizedKeys) targets() (dirTarget, fileTarget) {
	dir := path.Join(s.User.Home, ".ssh")
	content := strings.Join(s.User.AuthorizedKeys, "\n") + "\n"
	return dirTarget{path: dir, owner: s.User.Name, group: s.User.Group, perm: 0o700},
		fileTarget{path: path.Join(dir, "authorized_keys"), owner: s.User.Name, group: s.User.Group, perm: 0o600, content: []byte(content)}
}

// Check implements Step.
func (s *EnsureAuthorizedKeys) Check(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, false)
}

// Apply implements Step.
func (s *EnsureAuthorizedKeys) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return s.converge(ctx, h, true)
}

func (s *EnsureAuthorizedKeys) converge(ctx context.Context, h *Host, apply bool) ([]Change, error) {
	d, f := s.targets()
	dc, err := h.convergeDir(d, apply)
	if err != nil {
		return nil, err
	}
	for i := range dc {
		dc[i].Summary = d.path + ": " + dc[i].Summary
	}
	fc, err := h.convergeFile(ctx, f, apply)
	if err != nil {
		return nil, err
	}
	for i := range fc {
		fc[i].Summary = f.path + ": " + fc[i].Summary
	}
	return append(dc, fc...), nil
}
