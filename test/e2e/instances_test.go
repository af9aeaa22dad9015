//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
)

func workerSpec(n int) string {
	return fmt.Sprintf(`users:
  - name: deploy
services:
  - name: worker
    description: Worker %%i
    user: deploy
    exec_start: /usr/local/bin/fake-sidekiq --index %%i
    type: exec
    instances: %d
    state: started
    sudo: {group: deploy, allow: [restart, quiet]}
`, n)
}

// TestInstances: instances: N runs worker@1..N from one template; raising
// N starts only the new ones, lowering it stops and disables the extra
// ones, and the sudo rules follow.
func TestInstances(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, workerSpec(2))
	for _, u := range []string{"worker@1", "worker@2"} {
		if got := show(t, c, u, "ActiveState") + " " + show(t, c, u, "UnitFileState"); got != "active enabled" {
			t.Errorf("%s is %s, want active enabled", u, got)
		}
	}
	execAsOK(t, c, "deploy", "sudo", "-n", "/bin/systemctl", "restart", "worker@2")
	execAsOK(t, c, "deploy", "sudo", "-n", "/bin/systemctl", "kill", "-s", "TSTP", "worker@1")
	if code, _ := exitCode(t, c, "runuser", "-u", "deploy", "--", "sudo", "-n", "/bin/systemctl", "restart", "worker@3"); code == 0 {
		t.Error("deploy may restart worker@3, which does not exist yet")
	}
	pid1 := show(t, c, "worker@1", "MainPID")

	out := applyOK(t, c, workerSpec(3))
	if !strings.Contains(out, "worker@3.service: enable") || !strings.Contains(out, "worker@3.service: start") || strings.Contains(out, "worker@1.service:") {
		t.Errorf("raising to 3 should enable and start worker@3 only:\n%s", out)
	}
	if got := show(t, c, "worker@3", "ActiveState"); got != "active" {
		t.Errorf("worker@3 is %s", got)
	}
	if got := show(t, c, "worker@1", "MainPID"); got != pid1 {
		t.Errorf("worker@1 restarted: MainPID %s -> %s", pid1, got)
	}
	execAsOK(t, c, "deploy", "sudo", "-n", "/bin/systemctl", "restart", "worker@3")

	out = applyOK(t, c, workerSpec(1))
	for _, want := range []string{"worker@2.service: stop", "worker@2.service: disable", "worker@3.service: stop", "worker@3.service: disable"} {
		if !strings.Contains(out, want) {
			t.Errorf("lowering to 1 does not report %q:\n%s", want, out)
		}
	}
	for _, u := range []string{"worker@2", "worker@3"} {
		if got := show(t, c, u, "ActiveState") + " " + show(t, c, u, "UnitFileState"); got != "inactive disabled" {
			t.Errorf("%s is %s, want inactive disabled", u, got)
		}
	}
	if got := show(t, c, "worker@1", "MainPID"); got != pid1 {
		t.Errorf("worker@1 restarted: MainPID %s -> %s", pid1, got)
	}
	if code, _ := exitCode(t, c, "runuser", "-u", "deploy", "--", "sudo", "-n", "/bin/systemctl", "restart", "worker@2"); code == 0 {
		t.Error("deploy may still restart worker@2")
	}
	if n := recap(t, applyOK(t, c, workerSpec(1))); n[1] != 0 {
		t.Errorf("apply again: recap %v, want 0 changed", n)
	}
}
