package dbusctl

import (
	"context"
	"fmt"
	"slices"

	"github.com/godbus/dbus/v5"
)

// UnitConfig is what systemd loaded for a unit: the configuration it will
// run, whatever the files say, as systemctl show prints it.
type UnitConfig struct {
	Name string
	// LoadState is "loaded", or "not-found", "bad-setting", "error",
	// "masked"; LoadError is systemd's reason when it is not loaded.
	LoadState string
	LoadError string
	// FragmentPath is the unit file systemd read; DropInPaths the drop-ins
	// it read after it, in order.
	FragmentPath string
	DropInPaths  []string
	Description  string
	// WantedBy lists the units that want this one, as systemd's
	// dependency graph has it now.
	WantedBy []string

	// The [Service] settings, for a service unit.
	Type             string
	User, Group      string
	WorkingDirectory string
	Environment      []string
	EnvironmentFiles []EnvironmentFile
	ExecStart        []ExecCommand
	Restart          string
	RestartUSec      uint64
	SyslogIdentifier string
	// Journal holds the unit's last journal lines when it did not load,
	// for systemd's parse errors.
	Journal []string
}

// EnvironmentFile is one EnvironmentFile= as systemd loaded it.
type EnvironmentFile struct {
	Path string
	// IgnoreMissing is the "-" prefix.
	IgnoreMissing bool
}

// ExecCommand is one command of an Exec*= setting as systemd loaded it:
// the program it runs and its argument vector (argv[0] first).
type ExecCommand struct {
	Path string
	Argv []string
}

// Config returns what systemd loaded for unit, loading it if it is not
// (LoadUnit), with every property in one call (Properties.GetAll of all
// its interfaces). It is for reading back a unit after it changed, not for
// the fast path: loading a unit makes systemd send signals.
func (c *Conn) Config(ctx context.Context, unit string) (UnitConfig, error) {
	ctx, explain, cancel := c.bounded(ctx, "read the configuration of "+unit)
	defer cancel()
	var path dbus.ObjectPath
	if err := explain(c.managerCall(ctx, "LoadUnit", unit).Store(&path)); err != nil {
		return UnitConfig{}, fmt.Errorf("load %s: %w", unit, busError(err))
	}
	props := map[string]dbus.Variant{}
	err := c.bus.Object(systemdDest, path).CallWithContext(ctx, "org.freedesktop.DBus.Properties.GetAll", 0, "").Store(&props)
	if err := explain(err); err != nil {
		return UnitConfig{}, fmt.Errorf("properties of %s: %w", unit, busError(err))
	}
	cfg := UnitConfig{Name: unit}
	get := func(name string, dst any) {
		if v, ok := props[name]; ok {
			_ = v.Store(dst)
		}
	}
	get("LoadState", &cfg.LoadState)
	var loadErr []any
	if v, ok := props["LoadError"]; ok {
		if parts, ok := v.Value().([]any); ok && len(parts) == 2 {
			loadErr = parts
		}
	}
	if len(loadErr) == 2 {
		if msg, _ := loadErr[1].(string); msg != "" {
			cfg.LoadError = msg
		}
	}
	get("FragmentPath", &cfg.FragmentPath)
	get("DropInPaths", &cfg.DropInPaths)
	get("Description", &cfg.Description)
	get("WantedBy", &cfg.WantedBy)
	slices.Sort(cfg.WantedBy)
	get("Type", &cfg.Type)
	get("User", &cfg.User)
	get("Group", &cfg.Group)
	get("WorkingDirectory", &cfg.WorkingDirectory)
	get("Environment", &cfg.Environment)
	get("Restart", &cfg.Restart)
	get("RestartUSec", &cfg.RestartUSec)
	get("SyslogIdentifier", &cfg.SyslogIdentifier)
	if v, ok := props["EnvironmentFiles"]; ok {
		var files []struct {
			Path   string
			Ignore bool
		}
		if v.Store(&files) == nil {
			for _, f := range files {
				cfg.EnvironmentFiles = append(cfg.EnvironmentFiles, EnvironmentFile{Path: f.Path, IgnoreMissing: f.Ignore})
			}
		}
	}
	if v, ok := props["ExecStart"]; ok {
		// a(sasbttttuii): path, argv, ignore errors, timestamps, pid,
		// code, status.
		if list, ok := v.Value().([][]any); ok {
			for _, e := range list {
				if len(e) < 2 {
					continue
				}
				p, _ := e[0].(string)
				argv, _ := e[1].([]string)
				cfg.ExecStart = append(cfg.ExecStart, ExecCommand{Path: p, Argv: argv})
			}
		}
	}
	if cfg.LoadState != "loaded" {
		// Each load logs the same parse errors again: keep each once.
		seen := map[string]bool{}
		for _, l := range journalTail(ctx, unit) {
			if !seen[l] {
				seen[l] = true
				cfg.Journal = append(cfg.Journal, l)
			}
		}
	}
	return cfg, nil
}
