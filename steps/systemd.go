package steps

import (
	"context"
	"time"
)

// Systemd is what steps need from a running service manager. In provision
// it is dbusctl's connection, adapted by cmd/provision; tests use a fake.
// On a tree that is not running (Host.Offline) there is none: enablement
// is a matter of links, which steps make themselves, and nothing starts.
type Systemd interface {
	// Reload makes systemd reread every unit file and [Install] link, as
	// systemctl daemon-reload does, and returns when it has.
	Reload(ctx context.Context) error
	// Start, Stop and Restart queue a job for unit and wait for its result;
	// an error says how the job ended.
	Start(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
	// Watch watches unit for window after a start or restart (verb) and
	// fails when it does not stay up: it fails, leaves the active state,
	// or systemd restarts it (Restart= looping).
	Watch(ctx context.Context, verb, unit string, window time.Duration) error
	// ResetFailed forgets that unit failed (systemctl reset-failed), so
	// that a unit whose file is gone is unloaded.
	ResetFailed(ctx context.Context, unit string) error
	// StartNoWait and RestartNoWait queue the job and return once systemd
	// has accepted it (see Env.booting).
	StartNoWait(ctx context.Context, unit string) error
	RestartNoWait(ctx context.Context, unit string) error
	// States returns the state of each of units, in order, without making
	// systemd load any of them.
	States(ctx context.Context, units ...string) ([]UnitState, error)
	// Loaded returns the state of the units systemd has loaded whose
	// names match the glob pattern ("worker@*.service").
	Loaded(ctx context.Context, pattern string) ([]UnitState, error)
	// SystemState returns the state of the system as a whole.
	SystemState(ctx context.Context) (SystemState, error)
	// Ran reports whether a service's main process has run since it was
	// last started, and succeeded: how a finished Type=oneshot service
	// is told from one that never ran.
	Ran(ctx context.Context, unit string) (bool, error)
	// Config returns what systemd loaded for unit (loading it if need
	// be): the configuration it runs, whatever the files say.
	Config(ctx context.Context, unit string) (UnitConfig, error)
}

// UnitConfig is what systemd loaded for a unit, as systemctl show prints
// it. See dbusctl.UnitConfig.
type UnitConfig struct {
	LoadState        LoadState
	LoadError        string
	FragmentPath     string
	DropInPaths      []string
	Description      string
	WantedBy         []string
	Type             string
	User, Group      string
	WorkingDirectory string
	// Environment holds NAME=VALUE assignments.
	Environment []string
	// EnvironmentFiles are paths, "-" first for a file that may be
	// missing.
	EnvironmentFiles []string
	// ExecStart holds the argument vector of each command.
	ExecStart        [][]string
	Restart          string
	RestartUSec      uint64
	SyslogIdentifier string
	Journal          []string
}

// UnitState is what steps know of one unit, as systemd reports it.
type UnitState struct {
	Name        string
	LoadState   LoadState
	ActiveState ActiveState
	// SubState is the unit type's own state ("running", "dead", ...).
	SubState string
	// NeedDaemonReload is set when the unit's file changed on disk since
	// systemd loaded it.
	NeedDaemonReload bool
	// Job is the type of the job queued for the unit, "" when none.
	Job JobType
}

// LoadState is whether and how systemd loaded a unit's configuration.
type LoadState string

// The load states steps tell apart. LoadUnloaded is not systemd's: it
// means systemd has not loaded the unit (it loads it afresh from disk
// when it is next used).
const (
	LoadUnloaded   LoadState = ""
	LoadLoaded     LoadState = "loaded"
	LoadNotFound   LoadState = "not-found"
	LoadBadSetting LoadState = "bad-setting"
	LoadError      LoadState = "error"
	LoadMasked     LoadState = "masked"
)

// ActiveState is systemd's high-level state of a unit.
type ActiveState string

// The active states systemd documents.
const (
	ActiveActive       ActiveState = "active"
	ActiveReloading    ActiveState = "reloading"
	ActiveInactive     ActiveState = "inactive"
	ActiveFailed       ActiveState = "failed"
	ActiveActivating   ActiveState = "activating"
	ActiveDeactivating ActiveState = "deactivating"
)

// JobType is the kind of a job queued for a unit.
type JobType string

// The job types steps look at.
const (
	JobNone    JobType = ""
	JobStart   JobType = "start"
	JobStop    JobType = "stop"
	JobRestart JobType = "restart"
)

// Active reports whether the unit is running or on its way there.
func (s UnitState) Active() bool {
	return s.ActiveState == ActiveActive || s.ActiveState == ActiveActivating || s.ActiveState == ActiveReloading
}

// StartQueued reports whether a job that will start the unit is queued
// for it: a start or restart job not yet run, e.g. one queued while the
// system boots that waits for the units the unit is ordered after.
func (s UnitState) StartQueued() bool {
	return s.Job == JobStart || s.Job == JobRestart
}

// SystemState is the state of the system as a whole, as systemctl
// is-system-running prints it.
type SystemState string

// The system states systemd documents.
const (
	SystemInitializing SystemState = "initializing"
	SystemStarting     SystemState = "starting"
	SystemRunning      SystemState = "running"
	SystemDegraded     SystemState = "degraded"
	SystemMaintenance  SystemState = "maintenance"
	SystemStopping     SystemState = "stopping"
	SystemOffline      SystemState = "offline"
)

// Booting reports whether systemd has not yet finished the jobs of its
// boot transaction: a start job queued then may wait, because of its
// ordering, for a boot job that is still running, such as the one of the
// unit provision runs in.
func (s SystemState) Booting() bool {
	return s == SystemInitializing || s == SystemStarting
}
