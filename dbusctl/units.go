package dbusctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
	"golang.org/x/sys/unix"
)

// ErrNoSuchUnit means systemd knows no unit or unit file of that name or,
// from Kill, that the unit is not loaded because nothing of it runs.
var ErrNoSuchUnit = errors.New("no such unit")

// ErrNoInstallSection means a unit file cannot be enabled because it has no
// [Install] section. *NoInstallSectionError matches it with errors.Is.
var ErrNoInstallSection = errors.New("unit has no [Install] section")

// NoInstallSectionError is returned by Enable for a unit file that has no
// [Install] section (no WantedBy=, RequiredBy=, Alias= or Also=): systemd
// has nothing to enable, and the unit can only be started, or pulled in by
// another unit.
type NoInstallSectionError struct {
	// Unit is the unit that could not be enabled.
	Unit string
}

// Error names the unit and says why it cannot be enabled.
func (e *NoInstallSectionError) Error() string {
	return fmt.Sprintf("enable %s: the unit file has no [Install] section (WantedBy=, RequiredBy=, Alias= or Also=), so there is nothing to enable", e.Unit)
}

// Is reports whether target is ErrNoInstallSection.
func (e *NoInstallSectionError) Is(target error) bool { return target == ErrNoInstallSection }

// Reload makes systemd reread all unit files, as systemctl daemon-reload
// does, and returns when it has. It is by far the most expensive call here
// (hundreds of milliseconds): make it only after a unit file changed.
func (c *Conn) Reload(ctx context.Context) error {
	if err := c.sd.ReloadContext(ctx); err != nil {
		return fmt.Errorf("daemon-reload: %w", err)
	}
	return nil
}

// Enable enables the unit files of units persistently (symlinks under
// /etc, as systemctl enable makes) without replacing symlinks to other
// units, and reports whether any symlink changed. It neither reloads
// systemd nor starts anything; the units' UnitFileState reflects the change
// at once all the same. A unit without an [Install] section gives a
// *NoInstallSectionError, a unit without a unit file an error matching
// ErrNoSuchUnit. Units are enabled one by one, in order, so that the unit
// without [Install] can be named; on error, changed reports what the units
// before it changed.
func (c *Conn) Enable(ctx context.Context, units ...string) (changed bool, err error) {
	for _, u := range units {
		carriesInstallInfo, changes, err := c.sd.EnableUnitFilesContext(ctx, []string{u}, false, false)
		if err != nil {
			return changed, fmt.Errorf("enable %s: %w", u, busError(err))
		}
		if len(changes) > 0 {
			changed = true
		} else if !carriesInstallInfo {
			return changed, &NoInstallSectionError{Unit: u}
		}
	}
	return changed, nil
}

// Disable removes the symlinks that enable units, in /etc, as systemctl
// disable does, and reports whether any were removed. It neither reloads
// systemd nor stops anything.
func (c *Conn) Disable(ctx context.Context, units ...string) (changed bool, err error) {
	if len(units) == 0 {
		return false, nil
	}
	changes, err := c.sd.DisableUnitFilesContext(ctx, units, false)
	if err != nil {
		return false, fmt.Errorf("disable %s: %w", strings.Join(units, " "), busError(err))
	}
	return len(changes) > 0, nil
}

// Kill sends signal to all processes of unit, main and control processes
// alike, as systemctl kill does by default. It returns without waiting for
// them to react. A unit that is not running gives an error matching
// ErrNoSuchUnit. Note that the kernel drops SIGTSTP, SIGTTIN and SIGTTOU for
// processes that do not handle them, as a service's orphaned process group
// cannot be stopped by them.
func (c *Conn) Kill(ctx context.Context, unit string, signal syscall.Signal) error {
	if err := c.sd.KillUnitWithTarget(ctx, unit, sdbus.All, int32(signal)); err != nil {
		return fmt.Errorf("kill %s with %s: %w", unit, signalName(signal), busError(err))
	}
	return nil
}

// signalName names sig as in SIGTSTP, or by number when it has no name.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// State returns the state of one unit; see States.
func (c *Conn) State(ctx context.Context, unit string) (UnitState, error) {
	states, err := c.States(ctx, unit)
	if err != nil {
		return UnitState{}, err
	}
	return states[0], nil
}

// States returns the state of each of units, in the order given; Name is
// the name asked for even when systemd knows the unit by another. A unit
// systemd cannot find is no error: its LoadState is "not-found", and its
// UnitFileState comes from the unit file on disk ("" when there is none);
// NeedDaemonReload is then true when such a file exists, since systemd needs
// a daemon-reload to load it. MainPID and NRestarts are read for services
// only.
//
// systemd unloads units that are inactive and that nothing references, and
// loads them afresh from disk when asked about them: for those, States
// shows a new or changed unit file without a daemon-reload, and
// NeedDaemonReload stays false. It is true only for units that stayed loaded
// (running, or wanted by another unit) while their files changed.
//
// States makes one call for the load, active and sub states of all units
// and then reads the other properties one by one, all at once.
func (c *Conn) States(ctx context.Context, units ...string) ([]UnitState, error) {
	if len(units) == 0 {
		return nil, nil
	}
	// systemd skips names it cannot parse without saying so.
	for _, u := range units {
		if !hasUnitType(u) {
			return nil, fmt.Errorf("state of %s: not a unit name: it needs a type suffix such as .service", u)
		}
	}
	statuses, err := c.sd.ListUnitsByNamesContext(ctx, units)
	if err != nil {
		return nil, fmt.Errorf("list units %s: %w", strings.Join(units, " "), busError(err))
	}
	if len(statuses) != len(units) {
		return nil, fmt.Errorf("list units %s: systemd returned %d units for %d names; it skips invalid names", strings.Join(units, " "), len(statuses), len(units))
	}
	states := make([]UnitState, len(units))
	var reads []propertyRead
	for i, st := range statuses {
		s := &states[i]
		*s = UnitState{Name: units[i], LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState, Job: st.JobType}
		if s.LoadState == "not-found" {
			reads = append(reads, propertyRead{unit: s.Name, read: c.unitFileStateOnDisk(s)})
			continue
		}
		reads = append(reads,
			c.unitProperty(s, "Unit", "UnitFileState", func(v any) bool { return store(v, &s.UnitFileState) }),
			c.unitProperty(s, "Unit", "NeedDaemonReload", func(v any) bool { return store(v, &s.NeedDaemonReload) }),
		)
		if strings.HasSuffix(s.Name, ".service") {
			reads = append(reads,
				c.unitProperty(s, "Service", "MainPID", func(v any) bool { return store(v, &s.MainPID) }),
				c.unitProperty(s, "Service", "NRestarts", func(v any) bool { return store(v, &s.NRestarts) }),
			)
		}
	}

	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, r := range reads {
		wg.Go(func() {
			if err := r.read(ctx); err != nil {
				errs[i] = fmt.Errorf("read state of %s: %w", r.unit, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return states, nil
}

// unitTypes are the suffixes of unit names.
var unitTypes = []string{".service", ".socket", ".target", ".device", ".mount", ".automount", ".swap", ".timer", ".path", ".slice", ".scope"}

// hasUnitType reports whether name is something followed by a unit type suffix.
func hasUnitType(name string) bool {
	for _, t := range unitTypes {
		if len(name) > len(t) && strings.HasSuffix(name, t) {
			return true
		}
	}
	return false
}

// propertyRead is one D-Bus call that fills in part of a UnitState.
type propertyRead struct {
	unit string
	read func(ctx context.Context) error
}

// unitProperty reads property prop of interface org.freedesktop.systemd1.iface
// of s's unit and hands its value to set, which reports whether the value had
// the expected type.
func (c *Conn) unitProperty(s *UnitState, iface, prop string, set func(any) bool) propertyRead {
	return propertyRead{unit: s.Name, read: func(ctx context.Context) error {
		p, err := c.sd.GetUnitTypePropertyContext(ctx, s.Name, iface, prop)
		if err != nil {
			return fmt.Errorf("%s: %w", prop, busError(err))
		}
		if !set(p.Value.Value()) {
			return fmt.Errorf("%s: unexpected value %s", prop, p.Value.String())
		}
		return nil
	}}
}

// unitFileStateOnDisk asks systemd for the state of the unit file of s,
// whose unit it could not load, and sets NeedDaemonReload when a file
// exists.
func (c *Conn) unitFileStateOnDisk(s *UnitState) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var state string
		err := c.managerCall(ctx, "GetUnitFileState", s.Name).Store(&state)
		if err != nil {
			if errors.Is(busError(err), ErrNoSuchUnit) {
				return nil
			}
			return fmt.Errorf("UnitFileState: %w", err)
		}
		s.UnitFileState = state
		s.NeedDaemonReload = true
		return nil
	}
}

// store sets *dst to v when v has dst's type.
func store[T any](v any, dst *T) bool {
	t, ok := v.(T)
	if ok {
		*dst = t
	}
	return ok
}

// busError adds a sentinel to the D-Bus errors callers may want to tell
// apart, keeping systemd's message.
func busError(err error) error {
	var de dbus.Error
	if !errors.As(err, &de) {
		var pde *dbus.Error
		if !errors.As(err, &pde) {
			return err
		}
		de = *pde
	}
	switch de.Name {
	case "org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.DBus.Error.FileNotFound":
		return &sentinelError{sentinel: ErrNoSuchUnit, err: err}
	}
	return err
}

// sentinelError is err, matching sentinel too with errors.Is.
type sentinelError struct {
	sentinel error
	err      error
}

func (e *sentinelError) Error() string   { return e.err.Error() }
func (e *sentinelError) Unwrap() []error { return []error{e.sentinel, e.err} }
