// Package online connects provision's steps to the running systemd: it
// adapts a dbusctl connection to steps.Systemd. steps owns the types of
// its interface and dbusctl its own, so neither imports the other.
package online

import (
	"context"
	"sync"
	"time"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/steps"
)

// Systemd is a dbusctl connection as steps need it.
type Systemd struct {
	*dbusctl.Conn
}

var _ steps.Systemd = Systemd{}

// States implements steps.Systemd.
func (s Systemd) States(ctx context.Context, units ...string) ([]steps.UnitState, error) {
	sts, err := s.Conn.Brief(ctx, units...)
	return unitStates(sts), err
}

// Loaded implements steps.Systemd.
func (s Systemd) Loaded(ctx context.Context, pattern string) ([]steps.UnitState, error) {
	sts, err := s.Conn.Loaded(ctx, pattern)
	return unitStates(sts), err
}

// SystemState implements steps.Systemd.
func (s Systemd) SystemState(ctx context.Context) (steps.SystemState, error) {
	st, err := s.Conn.SystemState(ctx)
	return steps.SystemState(st), err
}

// Watch implements steps.Systemd.
func (s Systemd) Watch(ctx context.Context, verb, unit string, window time.Duration) error {
	return s.Conn.Watch(ctx, dbusctl.Op(verb), unit, window)
}

// Config implements steps.Systemd.
func (s Systemd) Config(ctx context.Context, unit string) (steps.UnitConfig, error) {
	c, err := s.Conn.Config(ctx, unit)
	if err != nil {
		return steps.UnitConfig{}, err
	}
	out := steps.UnitConfig{
		LoadState: steps.LoadState(c.LoadState), LoadError: c.LoadError,
		FragmentPath: c.FragmentPath, DropInPaths: c.DropInPaths,
		Description: c.Description, WantedBy: c.WantedBy, Type: c.Type,
		User: c.User, Group: c.Group, WorkingDirectory: c.WorkingDirectory,
		Environment: c.Environment, Restart: c.Restart, RestartUSec: c.RestartUSec,
		SyslogIdentifier: c.SyslogIdentifier, Journal: c.Journal,
	}
	for _, f := range c.EnvironmentFiles {
		p := f.Path
		if f.IgnoreMissing {
			p = "-" + p
		}
		out.EnvironmentFiles = append(out.EnvironmentFiles, p)
	}
	for _, e := range c.ExecStart {
		out.ExecStart = append(out.ExecStart, e.Argv)
	}
	return out, nil
}

func unitStates(sts []dbusctl.UnitState) []steps.UnitState {
	out := make([]steps.UnitState, len(sts))
	for i, st := range sts {
		out[i] = steps.UnitState{
			Name:             st.Name,
			LoadState:        steps.LoadState(st.LoadState),
			ActiveState:      steps.ActiveState(st.ActiveState),
			SubState:         st.SubState,
			NeedDaemonReload: st.NeedDaemonReload,
			Job:              steps.JobType(st.Job),
		}
	}
	return out
}

// Dialing is steps.Systemd over a connection still being made (see
// steps.Host.Connected): the first call waits for the connection, and
// each call fails with its error when it could not be made.
type Dialing struct {
	conn func() (*dbusctl.Conn, error)
}

var _ steps.Systemd = Dialing{}

// NewDialing returns the Dialing of the connection wait returns; wait is
// called once.
func NewDialing(wait func() (*dbusctl.Conn, error)) Dialing {
	return Dialing{conn: sync.OnceValues(wait)}
}

// Connected waits for the connection and returns the error that kept it
// from being made: a steps.Host.Connected.
func (d Dialing) Connected() error {
	_, err := d.conn()
	return err
}

// Close waits for the connection and closes it, if it was made.
func (d Dialing) Close() {
	if c, err := d.conn(); err == nil {
		c.Close()
	}
}

// with calls f on the connection once it is made.
func with[T any](d Dialing, f func(Systemd) (T, error)) (T, error) {
	c, err := d.conn()
	if err != nil {
		var zero T
		return zero, err
	}
	return f(Systemd{Conn: c})
}

// do is with for the calls that return only an error.
func do(d Dialing, f func(Systemd) error) error {
	_, err := with(d, func(s Systemd) (struct{}, error) { return struct{}{}, f(s) })
	return err
}

// Reload implements steps.Systemd.
func (d Dialing) Reload(ctx context.Context) error {
	return do(d, func(s Systemd) error { return s.Reload(ctx) })
}

// Start implements steps.Systemd.
func (d Dialing) Start(ctx context.Context, unit string) error {
	return do(d, func(s Systemd) error { return s.Start(ctx, unit) })
}

// Stop implements steps.Systemd.
func (d Dialing) Stop(ctx context.Context, unit string) error {
	return do(d, func(s Systemd) error { return s.Stop(ctx, unit) })
}

// Restart implements steps.Systemd.
func (d Dialing) Restart(ctx context.Context, unit string) error {
	return do(d, func(s Systemd) error { return s.Restart(ctx, unit) })
}

// Watch implements steps.Systemd.
func (d Dialing) Watch(ctx context.Context, verb, unit string, window time.Duration) error {
	return do(d, func(s Systemd) error { return s.Watch(ctx, verb, unit, window) })
}

// ResetFailed implements steps.Systemd.
func (d Dialing) ResetFailed(ctx context.Context, unit string) error {
	return do(d, func(s Systemd) error { return s.ResetFailed(ctx, unit) })
}

// StartNoWait implements steps.Systemd.
func (d Dialing) StartNoWait(ctx context.Context, unit string) error {
	return do(d, func(s Systemd) error { return s.StartNoWait(ctx, unit) })
}

// RestartNoWait implements steps.Systemd.
func (d Dialing) RestartNoWait(ctx context.Context, unit string) error {
	return do(d, func(s Systemd) error { return s.RestartNoWait(ctx, unit) })
}

// States implements steps.Systemd.
func (d Dialing) States(ctx context.Context, units ...string) ([]steps.UnitState, error) {
	return with(d, func(s Systemd) ([]steps.UnitState, error) { return s.States(ctx, units...) })
}

// Loaded implements steps.Systemd.
func (d Dialing) Loaded(ctx context.Context, pattern string) ([]steps.UnitState, error) {
	return with(d, func(s Systemd) ([]steps.UnitState, error) { return s.Loaded(ctx, pattern) })
}

// SystemState implements steps.Systemd.
func (d Dialing) SystemState(ctx context.Context) (steps.SystemState, error) {
	return with(d, func(s Systemd) (steps.SystemState, error) { return s.SystemState(ctx) })
}

// Ran implements steps.Systemd.
func (d Dialing) Ran(ctx context.Context, unit string) (bool, error) {
	return with(d, func(s Systemd) (bool, error) { return s.Ran(ctx, unit) })
}

// Config implements steps.Systemd.
func (d Dialing) Config(ctx context.Context, unit string) (steps.UnitConfig, error) {
	return with(d, func(s Systemd) (steps.UnitConfig, error) { return s.Config(ctx, unit) })
}
