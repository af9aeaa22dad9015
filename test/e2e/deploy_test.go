//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/nspawn"
)

// What each release of capistrano-sidekiq runs through sudo for a system
// unit named sidekiq, as its source spells it (SSHKit prefixes
// /usr/bin/env; no -n, no terminal).
var (
	capistranoSidekiq3 = []string{
		"/bin/systemctl kill -s TSTP sidekiq",    // quiet, after deploy:starting
		"/bin/systemctl stop sidekiq.service",    // after deploy:updated
		"/bin/systemctl start sidekiq.service",   // after deploy:published
		"/bin/systemctl restart sidekiq.service", // after deploy:failed
		"/bin/systemctl status sidekiq.service",  // cap sidekiq:status
	}
	capistranoSidekiq2 = []string{
		"systemctl kill -s TSTP sidekiq",  // quiet
		"systemd-cgls -u sidekiq.service", // restart: until idle
		"systemctl stop sidekiq",          // restart, and after deploy:updated
		"systemctl start sidekiq",         // restart, and after deploy:published
		"systemctl status sidekiq",        // cap sidekiq:status
	}
)

// deployAs runs a command line as deploy the way SSHKit does: through
// /usr/bin/env sudo, without -n, without a terminal.
func deployAs(t *testing.T, c *nspawn.Container, line string) (int, string) {
	t.Helper()
	return exitCode(t, c, append([]string{"runuser", "-u", "deploy", "--", "/usr/bin/env", "sudo"}, strings.Fields(line)...)...)
}

// sudoCheck runs provision sudo-check on lines and decodes its JSON.
func sudoCheck(t *testing.T, c *nspawn.Container, lines []string) (int, map[string]string) {
	t.Helper()
	cmd := c.Command(t.Context(), "provision", "sudo-check", "-u", "deploy", "--output", "json")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	out, _ := cmd.Output()
	var doc struct {
		Commands []struct {
			Command, Verdict string
		}
		ExitCode int `json:"exit_code"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("sudo-check output: %v\n%s", err, out)
	}
	verdicts := map[string]string{}
	for _, v := range doc.Commands {
		verdicts[v.Command] = v.Verdict
	}
	return doc.ExitCode, verdicts
}

// TestCapistranoSidekiqReplay: with sudo: for: capistrano-sidekiq, every
// command line of both plugin releases is allowed to deploy through real
// sudo, as SSHKit runs it, and does to the worker what the deploy needs:
// quieted, stopped, started, restarted. sudo-check agrees. The blog's
// allow: [restart, quiet] alone writes exactly its two lines, which deny
// 3.x's stop, start and restart.
func TestCapistranoSidekiqReplay(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	firstDeploy(t, c)
	spec := exampleSpec(t, append(withState("started"), "      allow: [restart, quiet]\n", "      allow: [restart, quiet]\n      for: capistrano-sidekiq\n")...)
	applyOK(t, c, spec)

	code, verdicts := sudoCheck(t, c, append(append([]string{}, capistranoSidekiq3...), capistranoSidekiq2...))
	if code != 0 {
		t.Errorf("sudo-check: exit %d, verdicts %v", code, verdicts)
	}
	for _, l := range append(append([]string{}, capistranoSidekiq3...), capistranoSidekiq2...) {
		if verdicts[l] != "allowed" {
			t.Errorf("sudo-check: %q is %q", l, verdicts[l])
		}
	}

	for _, release := range []struct {
		name  string
		lines []string
	}{{"3.2", capistranoSidekiq3}, {"2.3", capistranoSidekiq2}} {
		pid := show(t, c, "sidekiq", "MainPID")
		for _, line := range release.lines {
			code, out := deployAs(t, c, line)
			if code != 0 {
				t.Errorf("%s: sudo %s as deploy: exit %d\n%s", release.name, line, code, out)
				continue
			}
			switch {
			case strings.Contains(line, "TSTP"):
				waitJournal(t, c, "sidekiq", "received TSTP")
			case strings.Contains(line, " stop "):
				if got := show(t, c, "sidekiq", "ActiveState"); got != "inactive" {
					t.Errorf("%s: after %q sidekiq is %s", release.name, line, got)
				}
			case strings.Contains(line, " start "), strings.Contains(line, " restart "):
				if got := show(t, c, "sidekiq", "ActiveState"); got != "active" {
					t.Errorf("%s: after %q sidekiq is %s", release.name, line, got)
				}
			}
		}
		if got := show(t, c, "sidekiq", "MainPID"); got == pid {
			t.Errorf("%s: the worker was never started again (MainPID %s)", release.name, pid)
		}
	}

	// The blog's two lines, and nothing more: 3.x's spellings are denied.
	applyOK(t, c, exampleSpec(t, withState("started")...))
	if got := execOK(t, c, "cat", "/etc/sudoers.d/sidekiq-users"); got != "# Managed by provision. Local changes will be overwritten.\n%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq\n%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq\n" {
		t.Errorf("allow: [restart, quiet]:\n%s", got)
	}
	code, verdicts = sudoCheck(t, c, append(capistranoSidekiq3, "/usr/bin/env sudo /bin/systemctl restart sidekiq"))
	if code != 1 || verdicts["/bin/systemctl stop sidekiq.service"] != "denied" || verdicts["/bin/systemctl kill -s TSTP sidekiq"] != "allowed" || verdicts["/bin/systemctl restart sidekiq"] != "allowed" {
		t.Errorf("sudo-check with the blog's rules: exit %d, %v", code, verdicts)
	}
	if code, _ := deployAs(t, c, "/bin/systemctl stop sidekiq.service"); code == 0 {
		t.Error("the blog's rules let deploy stop sidekiq.service")
	}
}

// TestSudoCheck: the text output, lines with and without sudo or env,
// PATH lookups through sudo's secure_path, a rule that needs a password,
// and an unknown command.
func TestSudoCheck(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	writeFile(t, c, "/etc/sudoers.d/zz-password", "deploy ALL= /usr/bin/true\n", 0o440)
	cmd := c.Command(t.Context(), "provision", "sudo-check")
	cmd.Stdin = strings.NewReader(`# a deploy log
sudo /bin/systemctl kill -s TSTP sidekiq
/usr/bin/env sudo systemctl restart sidekiq
systemctl restart sidekiq.service
sudo true
sudo /bin/sh -c id
`)
	out, err := cmd.CombinedOutput()
	want := "allowed   /bin/systemctl kill -s TSTP sidekiq\n" +
		"allowed   systemctl restart sidekiq\n" +
		"denied    systemctl restart sidekiq.service\n" +
		"password  true\n" +
		"denied    /bin/sh -c id\n"
	if err == nil || string(out) != want {
		t.Errorf("sudo-check: %v\n%s\nwant:\n%s", err, out, want)
	}
}

// TestSettleWindowOnRealSystemd: a service with Restart=on-failure that
// exits a second after it started is a failed step with its journal lines,
// not a change, while a steady service started after it in the same run,
// inside its window, is a change reported after it; with --settle 0 it
// passes for started.
func TestSettleWindowOnRealSystemd(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	spec := `services:
  - name: flaky
    type: exec
    exec_start: /bin/sh -c 'echo flaky starts; sleep 1; echo flaky gives up; exit 1'
    restart: on-failure
    restart_sec: 500ms
    state: started
  - name: steady
    type: exec
    exec_start: /bin/sleep infinity
    restart: on-failure
    state: started
`
	code, out := provision(t, c, spec, "apply")
	const failed = "failed   service flaky: start flaky.service: done, but the unit did not stay up"
	if code != 1 || !strings.Contains(out, failed) || !strings.Contains(out, "flaky gives up") {
		t.Errorf("apply: exit %d, want the start failed with the journal:\n%s", code, out)
	}
	if strings.Contains(out, "changed  service flaky") {
		t.Errorf("the start counted as a change:\n%s", out)
	}
	steady := strings.Index(out, "changed  service steady")
	if steady < 0 || steady < strings.Index(out, failed) {
		t.Errorf("want steady started and reported after flaky:\n%s", out)
	}
	execOK(t, c, "systemctl", "stop", "flaky")
	if code, out := provision(t, c, spec, "apply", "--settle", "0"); code != 0 {
		t.Errorf("apply --settle 0: exit %d\n%s", code, out)
	}
}
