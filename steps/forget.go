package steps

import (
	"context"
	"fmt"

	"github.com/provision-dev/provision/spec"
)

// forgetService finishes retiring a service (state: absent), after the
// reload that dropped its unit: a unit of it that failed is reset
// (systemctl reset-failed), so that systemd unloads it and it reads
// LoadState=not-found, as a unit that never was.
type forgetService struct {
	service spec.Service
}

func (s *forgetService) ID() string { return "forget " + s.service.Name }

func (s *forgetService) asksSystemd() {}

func (s *forgetService) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if e.Host.Offline {
		return nil, nil
	}
	units, err := e.unitsOf(ctx, s.service)
	if err != nil {
		return nil, err
	}
	var changes []Change
	for _, st := range units {
		if st.ActiveState != ActiveFailed {
			continue
		}
		if err := e.act(&changes, fmt.Sprintf("%s: reset-failed (failed -> forgotten)", st.Name), func() error {
			return e.Host.Systemd.ResetFailed(ctx, st.Name)
		}); err != nil {
			return changes, err
		}
	}
	return changes, nil
}
