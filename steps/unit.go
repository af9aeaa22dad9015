package steps

import (
	"context"

	"github.com/provision-dev/provision/spec"
)

// WriteUnit writes a service's unit file under /etc/systemd/system,
// root:root 0644. It does not reload systemd: DaemonReload does, once for
// all units that changed.
type WriteUnit struct {
	deps
	Service spec.Service
}

// ID implements Step.
func (s *WriteUnit) ID() string { return "unit " + s.Service.UnitPath() }

func (s *WriteUnit) target() fileTarget {
	return fileTarget{path: s.Service.UnitPath(), owner: "root", group: "root", perm: 0o644, content: spec.RenderUnit(s.Service)}
}

// Check implements Step.
func (s *WriteUnit) Check(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeFile(ctx, s.target(), false)
}

// Apply implements Step.
func (s *WriteUnit) Apply(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeFile(ctx, s.target(), true)
}
