//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

const restartSpec = `users:
  - name: deploy
services:
  - name: worker
    user: deploy
    type: exec
    exec_start: /usr/local/bin/fake-sidekiq ARGS
    state: started
`

// TestInterruptedRestart: a run killed between the daemon-reload and the
// restart of a running service leaves it running its old command line;
// the next run, which finds every file right, still restarts it, once.
func TestInterruptedRestart(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, strings.Replace(restartSpec, "ARGS", "-c 1", 1))
	pid := show(t, c, "worker", "MainPID")

	spec := strings.Replace(restartSpec, "ARGS", "-c 2", 1)
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	code, out := exitCode(t, c, "env", "PROVISION_CRASH_AT_NAME=daemon-reload", "provision", "apply")
	if code == 0 || !strings.Contains(out, "daemon-reload systemd: done: killed") {
		t.Fatalf("apply was not killed after the reload: exit %d\n%s", code, out)
	}
	if got := show(t, c, "worker", "ExecStart"); !strings.Contains(got, "-c 2") {
		t.Fatalf("systemd did not load the new unit: %s", got)
	}
	if got := show(t, c, "worker", "MainPID"); got != pid {
		t.Fatalf("the killed run restarted the worker: MainPID %s -> %s", pid, got)
	}

	code, plan := provision(t, c, spec, "plan")
	if code != 0 || !strings.Contains(plan, "restart (unit changed in an earlier run that stopped before restarting it)") {
		t.Errorf("plan does not show the pending restart:\n%s", plan)
	}
	out = applyOK(t, c, spec)
	if got := stepLines(out, "changed"); len(got) != 1 || got[0] != "service worker" {
		t.Errorf("changed steps %q, want only the service", got)
	}
	newPID := show(t, c, "worker", "MainPID")
	if newPID == pid {
		t.Errorf("the worker was not restarted")
	}
	waitJournal(t, c, "worker", "fake-sidekiq "+newPID+" started as deploy in / with: -c 2")
	if n := recap(t, applyOK(t, c, spec)); n[1] != 0 {
		t.Errorf("apply after the restart: recap %v, want 0 changed", n)
	}
}
