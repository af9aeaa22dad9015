package dbusctl

// UnitState is a snapshot of one unit as systemd sees it.
type UnitState struct {
	Name             string
	LoadState        string // "loaded", "not-found", "masked", ..., or "" when systemd has not loaded the unit
	ActiveState      string // "active", "inactive", "failed", "activating", ...
	SubState         string // "running", "dead", ...
	UnitFileState    string // "enabled", "disabled", "static", "" when unknown
	MainPID          uint32
	NRestarts        uint32
	NeedDaemonReload bool
	// Job is the type of the job queued for the unit ("start", "stop",
	// "restart", ...), "" when there is none; e.g. "start" right after
	// StartNoWait, until systemd runs the job.
	Job string
}

// Active reports whether the unit is running or on its way there.
func (s UnitState) Active() bool {
	return s.ActiveState == "active" || s.ActiveState == "activating" || s.ActiveState == "reloading"
}

// StartQueued reports whether a job that will start the unit is queued
// for it: a start or restart job not yet run, e.g. one queued by
// StartNoWait that waits for the units the unit is ordered after.
func (s UnitState) StartQueued() bool {
	return s.Job == string(OpStart) || s.Job == string(OpRestart)
}

// Enabled reports whether the unit file is enabled.
func (s UnitState) Enabled() bool {
	return s.UnitFileState == "enabled" || s.UnitFileState == "enabled-runtime"
}
