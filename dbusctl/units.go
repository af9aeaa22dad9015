package dbusctl

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
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

// Reload makes systemd reread all unit files, as systemctl daemon-reload
// does, and returns when it has. It is by far the most expensive call here
// (hundreds of milliseconds): make it only after a unit file changed.
func (c *Conn) Reload(ctx context.Context) error {
	callCtx, explain, cancel := c.bounded(ctx, "Manager.Reload")
	defer cancel()
	if err := explain(c.sd.ReloadContext(callCtx)); err != nil {
		return fmt.Errorf("call Manager.Reload: %w", busError(err))
	}
	return nil
}

// ResetFailed resets the failed state of unit, as systemctl reset-failed
// does, so that systemd unloads a unit whose file is gone. A unit that is
// not loaded is not an error.
func (c *Conn) ResetFailed(ctx context.Context, unit string) error {
	callCtx, explain, cancel := c.bounded(ctx, "Manager.ResetFailedUnit")
	defer cancel()
	err := explain(c.sd.ResetFailedUnitContext(callCtx, unit))
	if err != nil && !errors.Is(busError(err), ErrNoSuchUnit) {
		return fmt.Errorf("reset-failed %s: %w", unit, busError(err))
	}
	return nil
}

// Kill sends signal to all processes of unit, main and control processes
// alike, as systemctl kill does by default. It returns without waiting for
// them to react. A unit that is not running gives an error matching
// ErrNoSuchUnit. Note that the kernel drops SIGTSTP, SIGTTIN and SIGTTOU for
// processes that do not handle them, as a service's orphaned process group
// cannot be stopped by them.
func (c *Conn) Kill(ctx context.Context, unit string, signal syscall.Signal) error {
	callCtx, explain, cancel := c.bounded(ctx, "Manager.KillUnit")
	defer cancel()
	if err := explain(c.sd.KillUnitWithTarget(callCtx, unit, sdbus.All, int32(signal))); err != nil {
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
// the name asked for. MainPID and NRestarts are read for services only.
//
// States never makes systemd load a unit. systemd unloads units that are
// inactive and that nothing references, and loads them afresh from disk
// when they are next used; asking for such a unit's properties would load
// it, with its dependencies, and flood every connection with signals. So a
// unit systemd has not loaded is described from its unit file alone:
// LoadState "" (not loaded), ActiveState "inactive", SubState "dead",
// UnitFileState as on disk, NeedDaemonReload false (its next load reads the
// file as it is). A unit with no unit file at all has LoadState
// "not-found". A unit systemd keeps as not-found while a file now exists
// has NeedDaemonReload set: systemd needs a daemon-reload to see it.
//
// The units are read in one ListUnitsByPatterns call, which lists the
// loaded ones among them and loads none, then, all at once, one property
// read per field of each loaded unit and one ListUnitFilesByPatterns call
// for the unit files of those not loaded.
func (c *Conn) States(ctx context.Context, units ...string) ([]UnitState, error) {
	if len(units) == 0 {
		return nil, nil
	}
	ctx, explain, cancel := c.bounded(ctx, "read unit states")
	defer cancel()
	byName, err := c.listLoaded(ctx, explain, units)
	if err != nil {
		return nil, err
	}
	states := make([]UnitState, len(units))
	var reads []propertyRead
	var unloaded []*UnitState
	for i, u := range units {
		s := &states[i]
		*s = UnitState{Name: u, ActiveState: "inactive", SubState: "dead"}
		st, ok := byName[u]
		if !ok {
			unloaded = append(unloaded, s)
			continue
		}
		s.LoadState, s.ActiveState, s.SubState, s.Job = st.LoadState, st.ActiveState, st.SubState, st.JobType
		if s.LoadState == "not-found" {
			// systemd keeps the unit as not-found; a file that exists
			// now needs a daemon-reload to be seen.
			reads = append(reads, func(ctx context.Context) error {
				if err := c.fileState(ctx, s); err != nil {
					return err
				}
				s.LoadState, s.NeedDaemonReload = "not-found", s.UnitFileState != ""
				return nil
			})
			continue
		}
		reads = append(reads,
			c.property(st.Path, "Unit", "UnitFileState", &s.UnitFileState),
			c.property(st.Path, "Unit", "NeedDaemonReload", &s.NeedDaemonReload),
		)
		if strings.HasSuffix(u, ".service") {
			reads = append(reads,
				c.property(st.Path, "Service", "MainPID", &s.MainPID),
				c.property(st.Path, "Service", "NRestarts", &s.NRestarts),
			)
		}
	}
	if len(unloaded) > 0 {
		reads = append(reads, func(ctx context.Context) error { return c.fileStates(ctx, unloaded) })
	}
	if err := explain(runReads(ctx, reads)); err != nil {
		return nil, fmt.Errorf("read unit states: %w", err)
	}
	return states, nil
}

// listLoaded checks that units are unit names (no patterns) and returns
// those systemd has loaded among them, by name, from one
// ListUnitsByPatterns call, which loads none.
func (c *Conn) listLoaded(ctx context.Context, explain func(error) error, units []string) (map[string]sdbus.UnitStatus, error) {
	for _, u := range units {
		if !hasUnitType(u) || strings.ContainsAny(u, "*?[]") {
			return nil, fmt.Errorf("state of %s: not a unit name: it needs a type suffix such as .service", u)
		}
	}
	loaded, err := c.sd.ListUnitsByPatternsContext(ctx, nil, units)
	if err := explain(err); err != nil {
		return nil, fmt.Errorf("list units %s: %w", strings.Join(units, " "), busError(err))
	}
	byName := make(map[string]sdbus.UnitStatus, len(loaded))
	for _, st := range loaded {
		byName[st.Name] = st
	}
	return byName, nil
}

// Brief returns, for each of units, in order, what a run of provision
// needs of it, in fewer calls than States: LoadState, ActiveState,
// SubState and Job from one ListUnitsByPatterns call, and one
// NeedDaemonReload read per loaded unit (for a unit systemd keeps as
// not-found, whether a file exists now). A unit systemd has not loaded has
// LoadState "" and no other call; MainPID, NRestarts and UnitFileState
// are left zero. Like States it loads nothing.
func (c *Conn) Brief(ctx context.Context, units ...string) ([]UnitState, error) {
	if len(units) == 0 {
		return nil, nil
	}
	ctx, explain, cancel := c.bounded(ctx, "read unit states")
	defer cancel()
	byName, err := c.listLoaded(ctx, explain, units)
	if err != nil {
		return nil, err
	}
	states := make([]UnitState, len(units))
	var reads []propertyRead
	for i, u := range units {
		s := &states[i]
		*s = UnitState{Name: u, ActiveState: "inactive", SubState: "dead"}
		st, ok := byName[u]
		if !ok {
			continue
		}
		s.LoadState, s.ActiveState, s.SubState, s.Job = st.LoadState, st.ActiveState, st.SubState, st.JobType
		if s.LoadState == "not-found" {
			reads = append(reads, func(ctx context.Context) error {
				if err := c.fileState(ctx, s); err != nil {
					return err
				}
				s.LoadState, s.NeedDaemonReload, s.UnitFileState = "not-found", s.UnitFileState != "", ""
				return nil
			})
			continue
		}
		reads = append(reads, c.property(st.Path, "Unit", "NeedDaemonReload", &s.NeedDaemonReload))
	}
	if err := explain(runReads(ctx, reads)); err != nil {
		return nil, fmt.Errorf("read unit states: %w", err)
	}
	return states, nil
}

// Loaded returns the state of the units systemd has loaded whose names
// match the glob pattern (as systemctl list-units PATTERN matches them,
// e.g. "worker@*.service"), sorted by name. Like States it loads nothing;
// MainPID, NRestarts, UnitFileState and NeedDaemonReload are left zero.
func (c *Conn) Loaded(ctx context.Context, pattern string) ([]UnitState, error) {
	ctx, explain, cancel := c.bounded(ctx, "Manager.ListUnitsByPatterns")
	defer cancel()
	loaded, err := c.sd.ListUnitsByPatternsContext(ctx, nil, []string{pattern})
	if err := explain(err); err != nil {
		return nil, fmt.Errorf("list units %s: %w", pattern, busError(err))
	}
	out := make([]UnitState, 0, len(loaded))
	for _, st := range loaded {
		out = append(out, UnitState{Name: st.Name, LoadState: st.LoadState, ActiveState: st.ActiveState, SubState: st.SubState, Job: st.JobType})
	}
	slices.SortFunc(out, func(a, b UnitState) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Ran reports whether the service unit's main process has run since the
// unit was last started, and ended well: systemd has loaded the unit, its
// ExecMainStartTimestamp is set and its Result is "success". It is how a
// Type=oneshot service without RemainAfterExit=, inactive again once its
// job is done, is told from one that never ran or failed. It loads
// nothing: a unit systemd does not hold has not run as far as it knows.
func (c *Conn) Ran(ctx context.Context, unit string) (bool, error) {
	ctx, explain, cancel := c.bounded(ctx, "read the last run of "+unit)
	defer cancel()
	loaded, err := c.sd.ListUnitsByPatternsContext(ctx, nil, []string{unit})
	if err := explain(err); err != nil {
		return false, fmt.Errorf("last run of %s: %w", unit, busError(err))
	}
	if len(loaded) != 1 || loaded[0].LoadState == "not-found" {
		return false, nil
	}
	var result string
	var started uint64
	if err := explain(runReads(ctx, []propertyRead{
		c.property(loaded[0].Path, "Service", "Result", &result),
		c.property(loaded[0].Path, "Service", "ExecMainStartTimestampMonotonic", &started),
	})); err != nil {
		return false, fmt.Errorf("last run of %s: %w", unit, err)
	}
	return started != 0 && result == "success", nil
}

// fileStates fills in the states of units systemd has not loaded from
// their unit files: one ListUnitFilesByPatterns call for them all, and
// one GetUnitFileState call per template instance, whose state is that
// of its enablement links rather than of a file of its own name.
func (c *Conn) fileStates(ctx context.Context, states []*UnitState) error {
	var names []string
	var reads []propertyRead
	for _, s := range states {
		if strings.Contains(s.Name, "@") {
			reads = append(reads, func(ctx context.Context) error { return c.fileState(ctx, s) })
		} else {
			names = append(names, s.Name)
		}
	}
	if len(names) > 0 {
		reads = append(reads, func(ctx context.Context) error {
			files, err := c.sd.ListUnitFilesByPatternsContext(ctx, nil, names)
			if err != nil {
				return fmt.Errorf("list unit files: %w", busError(err))
			}
			byName := make(map[string]string, len(files))
			for _, f := range files {
				byName[path.Base(f.Path)] = f.Type
			}
			for _, s := range states {
				if strings.Contains(s.Name, "@") {
					continue
				}
				if state, ok := byName[s.Name]; ok {
					s.UnitFileState = state
				} else {
					s.LoadState = "not-found"
				}
			}
			return nil
		})
	}
	return runReads(ctx, reads)
}

// fileState fills in s from the unit file on disk, for a unit systemd has
// not loaded: its UnitFileState, or LoadState "not-found" without a file.
func (c *Conn) fileState(ctx context.Context, s *UnitState) error {
	err := c.managerCall(ctx, "GetUnitFileState", s.Name).Store(&s.UnitFileState)
	if errors.Is(busError(err), ErrNoSuchUnit) {
		s.LoadState = "not-found"
		return nil
	}
	if err != nil {
		return fmt.Errorf("state of %s: unit file: %w", s.Name, busError(err))
	}
	return nil
}

// propertyRead is one D-Bus call that fills in part of a UnitState.
type propertyRead func(ctx context.Context) error

// property reads property prop of interface org.freedesktop.systemd1.iface
// of the unit at path into dst, which must have the property's type.
func (c *Conn) property(path dbus.ObjectPath, iface, prop string, dst any) propertyRead {
	return func(ctx context.Context) error {
		var v dbus.Variant
		err := c.bus.Object(systemdDest, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.systemd1."+iface, prop).Store(&v)
		if err != nil {
			return fmt.Errorf("%s: %w", prop, busError(err))
		}
		if err := v.Store(dst); err != nil {
			return fmt.Errorf("%s: unexpected value %s", prop, v.String())
		}
		return nil
	}
}

// runReads runs reads concurrently and joins their errors.
func runReads(ctx context.Context, reads []propertyRead) error {
	errs := make([]error, len(reads))
	var wg sync.WaitGroup
	for i, r := range reads {
		wg.Go(func() { errs[i] = r(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
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
