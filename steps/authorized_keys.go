package steps

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// ensureAuthorizedKeys writes HOME/.ssh/authorized_keys (0600) in HOME/.ssh
// (0700), both owned by the user, HOME being the account's home as
// /etc/passwd has it (or, before the account exists, the one it will get).
// The listed keys are the whole file: an empty list empties it, so that a
// key taken out of the spec stops working.
type ensureAuthorizedKeys struct {
	user spec.User
	// newHome is the home the account gets when ensureUser makes it.
	newHome string
}

func (s *ensureAuthorizedKeys) ID() string { return "authorized_keys " + s.user.Name }

func (s *ensureAuthorizedKeys) Converge(ctx context.Context, e *Env) ([]Change, error) {
	accts, err := e.accounts()
	if err != nil {
		return nil, err
	}
	home := s.newHome
	if a, ok := accts[s.user.Name]; ok {
		home = a.home
	}
	if !path.IsAbs(home) || home == "/" {
		return nil, fmt.Errorf("the account's home is %q: there is nowhere to put .ssh/authorized_keys", home)
	}
	dir := path.Join(home, ".ssh")
	content := ""
	if len(s.user.AuthorizedKeys) > 0 {
		content = strings.Join(s.user.AuthorizedKeys, "\n") + "\n"
	}
	d := dirTarget{path: dir, owner: s.user.Name, group: s.user.Group, perm: 0o700}
	f := fileTarget{path: path.Join(dir, "authorized_keys"), owner: s.user.Name, group: s.user.Group, perm: 0o600, content: []byte(content)}
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
