package steps

import (
	"context"
	"path"

	"github.com/provision-dev/provision/spec"
)

// writeDropin writes a drop-in for a unit, /etc/systemd/system/UNIT.d/
// NAME.conf, root:root 0644, making UNIT.d when it is missing; or removes
// it (state: absent). Like writeUnit it does not reload systemd: it
// notifies daemonReload, touching the unit, so that the reload restarts
// it if it runs (see restartUnit, and ensureService for a managed
// service).
type writeDropin struct {
	dropin spec.Dropin
}

func (s *writeDropin) ID() string { return "dropin " + s.dropin.Path() }

func (s *writeDropin) Converge(ctx context.Context, e *Env) ([]Change, error) {
	p := s.dropin.Path()
	var changes []Change
	var err error
	if s.dropin.State == spec.Absent {
		changes, err = e.removeFile(p)
	} else {
		if e.Apply {
			if err := e.fs().MkdirAll(path.Dir(p)); err != nil {
				return nil, err
			}
		}
		changes, err = e.convergeFile(ctx, fileTarget{path: p, owner: "root", group: "root", perm: 0o644, content: spec.RenderDropin(s.dropin), rendered: true})
	}
	if len(changes) > 0 {
		e.Touch(s.dropin.Unit)
	}
	return changes, err
}
