package dbusctl

import "testing"

func TestSystemStateBooting(t *testing.T) {
	for _, tc := range []struct {
		state SystemState
		want  bool
	}{
		{SystemInitializing, true},
		{SystemStarting, true},
		{SystemRunning, false},
		{SystemDegraded, false},
		{SystemMaintenance, false},
		// Shutting down: a start job would be canceled, not wait.
		{SystemStopping, false},
		{SystemOffline, false},
		// A state this package does not know is not taken for a boot.
		{"unknown", false},
	} {
		if got := tc.state.Booting(); got != tc.want {
			t.Errorf("%s.Booting() = %v, want %v", tc.state, got, tc.want)
		}
	}
}

func TestUnitStateStartQueued(t *testing.T) {
	for _, tc := range []struct {
		job  string
		want bool
	}{
		{"", false},
		{"start", true},
		{"restart", true},
		{"stop", false},
		{"reload", false},
	} {
		if got := (UnitState{Job: tc.job}).StartQueued(); got != tc.want {
			t.Errorf("Job %q: StartQueued() = %v, want %v", tc.job, got, tc.want)
		}
	}
}
