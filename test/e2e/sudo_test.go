//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
)

// TestSudoersSelfCheck: a drop-in that visudo accepts but that sudo does
// not honour (a later rule denies quiet) fails apply, naming the command.
func TestSudoersSelfCheck(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	writeFile(t, c, "/etc/sudoers.d/zz-deny", "%deploy ALL=(ALL) !/bin/systemctl kill -s TSTP sidekiq\n", 0o440)
	code, out := provision(t, c, exampleSpec(t), "apply")
	if code != 1 {
		t.Errorf("apply: exit %d, want 1", code)
	}
	if !strings.Contains(out, `deploy may not run "/bin/systemctl kill -s TSTP sidekiq"`) || strings.Contains(out, "may not run \"/bin/systemctl restart") {
		t.Errorf("apply does not name exactly the refused command:\n%s", out)
	}
	if got := stepLines(out, "failed"); len(got) != 1 || got[0] != "sudoers /etc/sudoers.d/sidekiq-users" {
		t.Errorf("failed steps %q", got)
	}
	// The host's sudo configuration is valid, and restart works.
	execOK(t, c, "visudo", "-c")
	execAsOK(t, c, "deploy", "sudo", "-n", "-l", "/bin/systemctl", "restart", "sidekiq")
}

// TestSudoersRollback: when the whole configuration fails visudo -c with
// the new drop-in installed, the previous drop-in is put back and sudo
// keeps working as before.
func TestSudoersRollback(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	before := execOK(t, c, "sha256sum", "/etc/sudoers.d/sidekiq-users")
	// Another drop-in, written by hand and broken: sudo skips its bad line
	// silently, only visudo -c tells.
	writeFile(t, c, "/etc/sudoers.d/broken", "%deploy ALL= NOPASSWD /bin/true\n", 0o440)
	spec := exampleSpec(t, "allow: [restart, quiet]", "allow: [restart, quiet, status]")
	code, out := provision(t, c, spec, "apply")
	if code != 1 {
		t.Errorf("apply: exit %d, want 1", code)
	}
	if !strings.Contains(out, "previous state restored") || !strings.Contains(out, "broken") {
		t.Errorf("apply does not report the rollback with visudo's message:\n%s", out)
	}
	if got := execOK(t, c, "sha256sum", "/etc/sudoers.d/sidekiq-users"); got != before {
		t.Errorf("drop-in after rollback: %s, want the previous one %s", got, before)
	}
	if got := execOK(t, c, "stat", "-c", "%a %U:%G", "/etc/sudoers.d/sidekiq-users"); got != "440 root:root\n" {
		t.Errorf("restored drop-in is %s", got)
	}
	if code, out := exitCode(t, c, "sh", "-c", "ls -A /etc/sudoers.d | grep provision"); code == 0 {
		t.Errorf("temporary files left in sudoers.d:\n%s", out)
	}
	execAsOK(t, c, "deploy", "sudo", "-n", "-l", "/bin/systemctl", "restart", "sidekiq")
	// With the broken file gone, the new drop-in goes in.
	execOK(t, c, "rm", "/etc/sudoers.d/broken")
	applyOK(t, c, spec)
	execAsOK(t, c, "deploy", "sudo", "-n", "-l", "/bin/systemctl", "status", "sidekiq")
}

// TestSudoersRollbackOfTheRunsDropins: the drop-ins a run installs share
// one check of the whole configuration; when visudo -c rejects it, every
// one of them is put back (the changed one with its old content, the new
// one removed), each step fails naming visudo's complaint, and sudo keeps
// working as before. Once the cause is gone both go in.
func TestSudoersRollbackOfTheRunsDropins(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	before := execOK(t, c, "sha256sum", "/etc/sudoers.d/sidekiq-users")
	writeFile(t, c, "/etc/sudoers.d/broken", "%deploy ALL= NOPASSWD /bin/true\n", 0o440)
	spec := exampleSpec(t, "allow: [restart, quiet]", "allow: [restart, quiet, status]") + `
sudoers:
  - name: ops
    rules:
      - who: "%deploy"
        nopasswd: true
        commands: [/bin/systemctl show sidekiq]
`
	code, out := provision(t, c, spec, "apply")
	if code != 1 {
		t.Errorf("apply: exit %d, want 1", code)
	}
	failed := stepLines(out, "failed")
	slices.Sort(failed)
	if want := []string{"sudoers /etc/sudoers.d/ops", "sudoers /etc/sudoers.d/sidekiq-users"}; !slices.Equal(failed, want) {
		t.Errorf("failed steps %q, want %q:\n%s", failed, want, out)
	}
	if !strings.Contains(out, "with the 2 drop-ins this run installed") || !strings.Contains(out, "previous state restored") || !strings.Contains(out, "broken") {
		t.Errorf("apply does not report the rollback of both with visudo's message:\n%s", out)
	}
	if got := execOK(t, c, "sha256sum", "/etc/sudoers.d/sidekiq-users"); got != before {
		t.Errorf("sidekiq-users after the rollback: %s, want the previous one %s", got, before)
	}
	if code, _ := exitCode(t, c, "test", "-e", "/etc/sudoers.d/ops"); code == 0 {
		t.Error("the new drop-in ops is still there after the rollback")
	}
	execAsOK(t, c, "deploy", "sudo", "-n", "-l", "/bin/systemctl", "restart", "sidekiq")
	execOK(t, c, "rm", "/etc/sudoers.d/broken")
	applyOK(t, c, spec)
	execAsOK(t, c, "deploy", "sudo", "-n", "-l", "/bin/systemctl", "show", "sidekiq")
	execAsOK(t, c, "deploy", "sudo", "-n", "-l", "/bin/systemctl", "status", "sidekiq")
}
