package steps

import (
	"context"
	"path"

	"github.com/provision-dev/provision/spec"
)

// writeUnit writes a service's unit file under /etc/systemd/system,
// root:root 0644, or removes it for a retired service (state: absent). It does not reload systemd: it notifies daemonReload,
// which reloads once for every unit that changed, and touches the
// service's units, so that the reload restarts those that run.
type writeUnit struct {
	service spec.Service
}

func (s *writeUnit) ID() string { return "unit " + s.service.UnitPath() }

func (s *writeUnit) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.service.Absent() {
		// The plain unit and the template of instances:, whichever
		// there are: the spec of a retired service need not say which.
		var changes []Change
		for _, name := range []string{s.service.Name + ".service", s.service.Name + "@.service"} {
			c, err := e.removeFile(path.Join(spec.UnitDir, name))
			if err != nil {
				return changes, err
			}
			for i := range c {
				c[i].Summary = name + ": " + c[i].Summary
			}
			changes = append(changes, c...)
		}
		if len(changes) > 0 {
			e.Touch(s.service.Name + ".service")
		}
		return changes, nil
	}
	changes, err := e.convergeFile(ctx, fileTarget{path: s.service.UnitPath(), owner: "root", group: "root", perm: 0o644, content: spec.RenderUnit(s.service), rendered: true})
	if len(changes) > 0 {
		e.Touch(s.service.Units()...)
	}
	return changes, err
}
