package dbusctl

import (
	"context"
	"fmt"
	"slices"
	"strings"

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
// (LoadUnit), and reads the properties UnitConfig holds, all at once. It
// is for reading back a unit after it changed, not for the fast path:
// loading a unit makes systemd send signals.
//
// The properties are asked for one by one, concurrently, rather than with
// one Properties.GetAll: a service has some 350 properties, and GetAll
// costs systemd and provision the encoding and decoding of all of them.
func (c *Conn) Config(ctx context.Context, unit string) (UnitConfig, error) {
	ctx, explain, cancel := c.bounded(ctx, "read the configuration of "+unit)
	defer cancel()
	var path dbus.ObjectPath
	if err := explain(c.managerCall(ctx, "LoadUnit", unit).Store(&path)); err != nil {
		return UnitConfig{}, fmt.Errorf("load %s: %w", unit, busError(err))
	}
	cfg := UnitConfig{Name: unit}
	var loadErr struct{ Name, Message string }
	var envFiles []struct {
		Path   string
		Ignore bool
	}
	// a(sasbttttuii): path, argv, ignore errors, timestamps, pid, code,
	// status.
	var execStart []struct {
		Path       string
		Argv       []string
		Ignore     bool
		T1, T2     uint64
		T3, T4     uint64
		PID        uint32
		Code, Stat int32
	}
	reads := []propertyRead{
		c.property(path, "Unit", "LoadState", &cfg.LoadState),
		c.property(path, "Unit", "LoadError", &loadErr),
		c.property(path, "Unit", "FragmentPath", &cfg.FragmentPath),
		c.property(path, "Unit", "DropInPaths", &cfg.DropInPaths),
		c.property(path, "Unit", "Description", &cfg.Description),
		c.property(path, "Unit", "WantedBy", &cfg.WantedBy),
	}
	var serviceErr error
	if strings.HasSuffix(unit, ".service") {
		service := []propertyRead{
			c.property(path, "Service", "Type", &cfg.Type),
			c.property(path, "Service", "User", &cfg.User),
			c.property(path, "Service", "Group", &cfg.Group),
			c.property(path, "Service", "WorkingDirectory", &cfg.WorkingDirectory),
			c.property(path, "Service", "Environment", &cfg.Environment),
			c.property(path, "Service", "EnvironmentFiles", &envFiles),
			c.property(path, "Service", "ExecStart", &execStart),
			c.property(path, "Service", "Restart", &cfg.Restart),
			c.property(path, "Service", "RestartUSec", &cfg.RestartUSec),
			c.property(path, "Service", "SyslogIdentifier", &cfg.SyslogIdentifier),
		}
		reads = append(reads, func(ctx context.Context) error {
			serviceErr = runReads(ctx, service)
			return nil
		})
	}
	if err := explain(runReads(ctx, reads)); err != nil {
		return UnitConfig{}, fmt.Errorf("properties of %s: %w", unit, err)
	}
	// A unit that did not load may have no [Service] settings to read.
	if err := explain(serviceErr); err != nil && cfg.LoadState == "loaded" {
		return UnitConfig{}, fmt.Errorf("properties of %s: %w", unit, err)
	}
	cfg.LoadError = loadErr.Message
	slices.Sort(cfg.WantedBy)
	for _, f := range envFiles {
		cfg.EnvironmentFiles = append(cfg.EnvironmentFiles, EnvironmentFile{Path: f.Path, IgnoreMissing: f.Ignore})
	}
	for _, e := range execStart {
		cfg.ExecStart = append(cfg.ExecStart, ExecCommand{Path: e.Path, Argv: e.Argv})
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
