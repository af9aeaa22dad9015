package dbusctl

import (
	"context"
	"fmt"
)

// SystemState is the state of the system as a whole, as systemd's manager
// reports it in its SystemState property and systemctl is-system-running
// prints it. States this package has no constant for are kept verbatim.
type SystemState string

// The system states systemd documents.
const (
	// SystemInitializing is early boot, before basic.target is reached.
	SystemInitializing SystemState = "initializing"
	// SystemStarting is late boot: jobs of the boot transaction are
	// still queued or running.
	SystemStarting SystemState = "starting"
	// SystemRunning means the boot finished and no unit failed.
	SystemRunning SystemState = "running"
	// SystemDegraded means the boot finished and some unit failed.
	SystemDegraded SystemState = "degraded"
	// SystemMaintenance means the rescue or emergency target is active.
	SystemMaintenance SystemState = "maintenance"
	// SystemStopping means the system is shutting down.
	SystemStopping SystemState = "stopping"
	// SystemOffline means the manager is not running.
	SystemOffline SystemState = "offline"
)

// Booting reports whether the system is still booting, that is whether
// systemd has not yet finished the jobs of its boot transaction. A start
// job queued then may wait, because of its ordering, for a boot job that
// is still running, such as the one of the unit the caller runs in.
func (s SystemState) Booting() bool {
	return s == SystemInitializing || s == SystemStarting
}

// SystemState returns the state of the system as a whole.
func (c *Conn) SystemState(ctx context.Context) (SystemState, error) {
	callCtx, explain, cancel := c.bounded(ctx, "read the system state")
	defer cancel()
	p, err := c.sd.SystemStateContext(callCtx)
	if err := explain(err); err != nil {
		return "", fmt.Errorf("read system state: %w", busError(err))
	}
	s, ok := p.Value.Value().(string)
	if !ok {
		return "", fmt.Errorf("read system state: unexpected value %s", p.Value.String())
	}
	return SystemState(s), nil
}
