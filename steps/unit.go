package steps

import (
	"context"

	"github.com/provision-dev/provision/spec"
)

// writeUnit writes a service's unit file under /etc/systemd/system,
// root:root 0644. It does not reload systemd: it notifies daemonReload,
// which reloads once for every unit that changed, and touches the
// service's units, so that the reload restarts those that run.
type writeUnit struct {
	service spec.Service
}

func (s *writeUnit) ID() string { return "unit " + s.service.UnitPath() }

func (s *writeUnit) Converge(ctx context.Context, e *Env) ([]Change, error) {
	changes, err := e.convergeFile(ctx, fileTarget{path: s.service.UnitPath(), owner: "root", group: "root", perm: 0o644, content: spec.RenderUnit(s.service), rendered: true})
	if len(changes) > 0 {
		e.Touch(s.service.Units()...)
	}
	return changes, err
}
