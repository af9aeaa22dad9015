//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

// exampleExecStart is the example's ExecStart, which needs a Rails app;
// the tests run the stand-in worker testdata/fake-sidekiq instead.
const (
	exampleExecStart = "exec_start: /usr/local/rbenv/bin/rbenv exec bundle exec sidekiq -e production"
	fakeExecStart    = "exec_start: /usr/local/bin/fake-sidekiq -e production"
	app              = "/data/apps/outmuscleme"
)

// exampleSpec returns examples/sidekiq/provision.yaml with the stand-in
// worker as ExecStart, then each pair of edits applied (old, new), each
// of which must match exactly once: the tests prove the shipped example.
func exampleSpec(t *testing.T, edits ...string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "examples/sidekiq/provision.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	edits = append([]string{exampleExecStart, fakeExecStart}, edits...)
	for i := 0; i+1 < len(edits); i += 2 {
		if n := strings.Count(s, edits[i]); n != 1 {
			t.Fatalf("example spec: %q occurs %d times, want once", edits[i], n)
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

// withState adds a state to the example's service.
func withState(state string) []string {
	return []string{"    enabled: true\n", "    enabled: true\n    state: " + state + "\n"}
}

// bootForSidekiq boots a container with provision and the stand-in worker.
func bootForSidekiq(t *testing.T) *nspawn.Container {
	t.Helper()
	requireProvision(t)
	c := boot(t)
	installProvision(t, c)
	installWorker(t, c)
	return c
}

func installWorker(t *testing.T, c *nspawn.Container) {
	t.Helper()
	if err := c.CopyIn("testdata/fake-sidekiq", "/usr/local/bin/fake-sidekiq", 0o755); err != nil {
		t.Fatal(err)
	}
}

// provision writes spec to /etc/provision.yaml in c and runs provision
// with args, returning its exit code and output.
func provision(t *testing.T, c *nspawn.Container, spec string, args ...string) (int, string) {
	t.Helper()
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	start := time.Now()
	code, out := exitCode(t, c, append([]string{"provision"}, args...)...)
	t.Logf("provision %s: exit %d in %v\n%s", strings.Join(args, " "), code, time.Since(start).Round(time.Millisecond), out)
	return code, out
}

// applyOK runs provision apply and fails t unless it succeeds.
func applyOK(t *testing.T, c *nspawn.Container, spec string) string {
	t.Helper()
	code, out := provision(t, c, spec, "apply")
	if code != 0 {
		t.Fatalf("provision apply: exit %d", code)
	}
	return out
}

var recapRE = regexp.MustCompile(`(?m)^apply: (\d+) ok, (\d+) changed, (\d+) failed, (\d+) skipped`)

// recap returns the counts of apply's recap line: ok, changed, failed, skipped.
func recap(t *testing.T, out string) [4]int {
	t.Helper()
	m := recapRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no recap line in:\n%s", out)
	}
	var n [4]int
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return n
}

// stepLines returns the "STATUS ID" lines of provision's output.
func stepLines(out string, status string) []string {
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, status+" "); ok {
			id, _, _ := strings.Cut(strings.TrimSpace(rest), ":")
			ids = append(ids, id)
		}
	}
	return ids
}

func show(t *testing.T, c *nspawn.Container, unit, prop string) string {
	t.Helper()
	return strings.TrimSpace(execOK(t, c, "systemctl", "show", "-P", prop, unit))
}

// reloads counts the daemon-reloads systemd has logged since boot.
func reloads(t *testing.T, c *nspawn.Container) int {
	t.Helper()
	out := execOK(t, c, "journalctl", "-b", "_PID=1", "-o", "cat", "--no-pager")
	n := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Reloading") {
			n++
		}
	}
	return n
}

// waitJournal waits until the unit's journal contains want.
func waitJournal(t *testing.T, c *nspawn.Container, unit, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := execOK(t, c, "journalctl", "-u", unit, "-o", "cat", "--no-pager")
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal of %s never said %q:\n%s", unit, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// firstDeploy does as user deploy what Capistrano's first deploy does to
// the app's directories: a release and the current link to it.
func firstDeploy(t *testing.T, c *nspawn.Container) {
	t.Helper()
	execAsOK(t, c, "deploy", "mkdir", "-p", app+"/releases/1")
	execAsOK(t, c, "deploy", "ln", "-sfn", app+"/releases/1", app+"/current")
}

// stamps describes files by inode, mtime, mode and owner, to show that a
// run rewrote none of them.
func stamps(t *testing.T, c *nspawn.Container, paths ...string) string {
	t.Helper()
	return execOK(t, c, append([]string{"stat", "-c", "%n %i %Y.%y %a %U:%G"}, paths...)...)
}

var managed = []string{
	"/etc/systemd/system/sidekiq.service",
	"/etc/sudoers.d/sidekiq-users",
	app + "/shared/.env",
	app + "/shared",
	app,
}

// TestSidekiqHost is the main job, end to end: apply the example on a
// fresh host, deploy as Capistrano would with the sudo rules it installed,
// apply again (nothing changes, nothing restarts), then change ExecStart
// (one reload, one restart).
func TestSidekiqHost(t *testing.T) {
	c := bootForSidekiq(t)

	// 1. A fresh host: everything created, the service enabled, not started.
	out := applyOK(t, c, exampleSpec(t))
	if n := recap(t, out); n[2] != 0 || n[1] != 10 {
		t.Errorf("first apply: recap %v, want 10 changed (all), 0 failed", n)
	}
	if got := execOK(t, c, "id", "deploy"); !strings.Contains(got, "gid=") || !strings.Contains(got, "(deploy)") {
		t.Errorf("id deploy = %q", got)
	}
	if got := execOK(t, c, "getent", "passwd", "deploy"); !strings.HasSuffix(strings.TrimSpace(got), ":/home/deploy:/bin/bash") {
		t.Errorf("passwd entry: %q", got)
	}
	if got := execOK(t, c, "stat", "-c", "%a %U:%G", "/etc/sudoers.d/sidekiq-users"); got != "440 root:root\n" {
		t.Errorf("sudoers drop-in is %q, want 440 root:root", got)
	}
	wantRules := "%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq\n%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq\n"
	if got := execOK(t, c, "grep", "-v", "^#", "/etc/sudoers.d/sidekiq-users"); got != wantRules {
		t.Errorf("sudoers rules:\n%s\nwant:\n%s", got, wantRules)
	}
	execOK(t, c, "visudo", "-c")
	if got := show(t, c, "sidekiq", "UnitFileState"); got != "enabled" {
		t.Errorf("sidekiq is %s, want enabled", got)
	}
	if got := show(t, c, "sidekiq", "ActiveState"); got != "inactive" {
		t.Errorf("sidekiq is %s before the first deploy, want inactive (no state in the example)", got)
	}
	if got := execOK(t, c, "stat", "-c", "%a %U:%G", app+"/shared/.env"); got != "600 deploy:deploy\n" {
		t.Errorf(".env is %q, want 600 deploy:deploy", got)
	}

	// 2. Capistrano, logged in as deploy: the release, then restart and
	// quiet through sudo, and nothing else.
	firstDeploy(t, c)
	execAsOK(t, c, "deploy", "sudo", "-n", "/bin/systemctl", "restart", "sidekiq")
	if got := show(t, c, "sidekiq", "ActiveState"); got != "active" {
		t.Fatalf("sidekiq is %s after the deploy user restarted it, want active", got)
	}
	pid := show(t, c, "sidekiq", "MainPID")
	if got := strings.TrimSpace(execOK(t, c, "ps", "-o", "user=", "-p", pid)); got != "deploy" {
		t.Errorf("sidekiq runs as %q, want deploy", got)
	}
	waitJournal(t, c, "sidekiq", "fake-sidekiq "+pid+" ready")
	execAsOK(t, c, "deploy", "sudo", "-n", "systemctl", "kill", "-s", "TSTP", "sidekiq")
	waitJournal(t, c, "sidekiq", "fake-sidekiq "+pid+" received TSTP")
	for _, denied := range [][]string{
		{"sudo", "-n", "systemctl", "stop", "sidekiq"},
		{"sudo", "-n", "systemctl", "restart", "ssh"},
		{"sudo", "-n", "/bin/systemctl", "restart", "sidekiq.service"},
		{"sudo", "-n", "/bin/sh"},
	} {
		if code, out := exitCode(t, c, append([]string{"runuser", "-u", "deploy", "--"}, denied...)...); code == 0 {
			t.Errorf("deploy may run %q:\n%s", denied, out)
		}
	}
	if got := show(t, c, "sidekiq", "ActiveState"); got != "active" {
		t.Errorf("sidekiq is %s after the denied commands, want active", got)
	}

	// 3. Again, asking for it to be started: it is, so nothing changes,
	// nothing is rewritten, reloaded or restarted.
	spec := exampleSpec(t, withState("started")...)
	before, reloadsBefore := stamps(t, c, managed...), reloads(t, c)
	out = applyOK(t, c, spec)
	if n := recap(t, out); n[1] != 0 || n[2] != 0 {
		t.Errorf("second apply: recap %v, want 0 changed", n)
	}
	if after := stamps(t, c, managed...); after != before {
		t.Errorf("second apply touched files:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := reloads(t, c); got != reloadsBefore {
		t.Errorf("second apply: %d daemon-reloads, want none", got-reloadsBefore)
	}
	if got := show(t, c, "sidekiq", "MainPID"); got != pid {
		t.Errorf("second apply: MainPID %s -> %s, want unchanged", pid, got)
	}

	// 4. ExecStart changes: one reload, one restart, a new MainPID.
	spec = exampleSpec(t, append(withState("started"), "-e production", "-e production -c 5")...)
	reloadsBefore = reloads(t, c)
	nrestarts := show(t, c, "sidekiq", "NRestarts")
	out = applyOK(t, c, spec)
	if got := stepLines(out, "changed"); !slices.Equal(got, []string{"unit /etc/systemd/system/sidekiq.service", "daemon-reload", "service sidekiq"}) {
		t.Errorf("changed steps = %q, want the unit, daemon-reload and the service", got)
	}
	if !strings.Contains(out, "-ExecStart=/usr/local/bin/fake-sidekiq -e production\n") || !strings.Contains(out, "+ExecStart=/usr/local/bin/fake-sidekiq -e production -c 5") {
		t.Errorf("apply does not show the unit's diff:\n%s", out)
	}
	if got := reloads(t, c); got != reloadsBefore+1 {
		t.Errorf("changing ExecStart: %d daemon-reloads, want 1", got-reloadsBefore)
	}
	newPID := show(t, c, "sidekiq", "MainPID")
	if newPID == pid || newPID == "0" {
		t.Errorf("changing ExecStart: MainPID %s -> %s, want a new process", pid, newPID)
	}
	if got := show(t, c, "sidekiq", "NRestarts"); got != nrestarts {
		t.Errorf("NRestarts %s -> %s: the restart was not provision's", nrestarts, got)
	}
	waitJournal(t, c, "sidekiq", "fake-sidekiq "+newPID+" started as deploy in "+app+"/releases/1 with: -e production -c 5")
}

// TestPlanOnFreshHost shows that plan changes nothing on a fresh host and
// lists exactly the steps that apply then changes.
func TestPlanOnFreshHost(t *testing.T) {
	c := bootForSidekiq(t)
	spec := exampleSpec(t)
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	listing := func() string {
		return execOK(t, c, "sh", "-c",
			`find /etc /home /data -xdev \( -type f -o -type d -o -type l \) -printf '%p %m %u:%g %y\n' 2>/dev/null | sort;
			 find /etc /home /data -xdev -type f -exec md5sum {} + 2>/dev/null | sort`)
	}
	before := listing()
	code, plan := provision(t, c, spec, "plan")
	if code != 0 {
		t.Fatalf("plan: exit %d", code)
	}
	if after := listing(); after != before {
		t.Errorf("plan changed the host:\n%s", lineDiff(before, after))
	}
	if got := show(t, c, "sidekiq", "LoadState"); got != "not-found" {
		t.Errorf("after plan, sidekiq.service is %s, want not-found", got)
	}
	for _, want := range []string{
		"create user and its group deploy, home /home/deploy, shell /bin/bash",
		"create directory, mode 0750, owner deploy:deploy",
		"+%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq",
		"+ExecStart=/usr/local/bin/fake-sidekiq -e production",
		"reload systemd: sidekiq.service",
		"enable",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not mention %q", want)
		}
	}
	out := applyOK(t, c, spec)
	planned, applied := stepLines(plan, "change"), stepLines(out, "changed")
	if !slices.Equal(planned, applied) || len(applied) != 10 {
		t.Errorf("plan listed %q, apply changed %q; want the same 10 steps", planned, applied)
	}
}

// lineDiff lists the lines only in a or only in b.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}

// TestFailedStartKeepsIndependentSteps: a service whose ExecStart does not
// exist fails apply with its journal lines, while the steps that do not
// depend on it are still applied.
func TestFailedStartKeepsIndependentSteps(t *testing.T) {
	c := bootForSidekiq(t)
	spec := `
users:
  - name: deploy
files:
  - path: /etc/independent.conf
    content: "applied anyway\n"
services:
  - name: broken
    exec_start: /nonexistent/worker --run
    user: deploy
    state: started
`
	code, out := provision(t, c, spec, "apply")
	if code != 1 {
		t.Errorf("apply: exit %d, want 1", code)
	}
	if n := recap(t, out); n[2] != 1 {
		t.Errorf("recap %v, want exactly 1 failed", n)
	}
	if got := stepLines(out, "failed"); !slices.Equal(got, []string{"service broken"}) {
		t.Errorf("failed steps = %q, want service broken", got)
	}
	if !strings.Contains(out, "/nonexistent/worker") || !strings.Contains(out, "journal") {
		t.Errorf("the failure does not carry the unit's journal lines:\n%s", out)
	}
	if got := execOK(t, c, "cat", "/etc/independent.conf"); got != "applied anyway\n" {
		t.Errorf("independent file: %q", got)
	}
	if got := show(t, c, "broken", "UnitFileState"); got != "enabled" {
		t.Errorf("broken.service is %s, want enabled (enable does not depend on start)", got)
	}
}

// TestOfflineRootThenBoot converges an unbooted tree with --root, then
// boots it: the service is enabled and starts at boot.
func TestOfflineRootThenBoot(t *testing.T) {
	requireProvision(t)
	c := bootWith(t, nspawn.Options{NoBoot: true})
	root := c.Root()
	spec := exampleSpec(t, withState("started")...)
	specPath := filepath.Join(t.TempDir(), "provision.yaml")
	if err := os.WriteFile(specPath, []byte(spec), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/local/bin/fake-sidekiq"), mustRead(t, "testdata/fake-sidekiq"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func() string {
		out, err := execHost(provisionBin, "apply", "-f", specPath, "--root", root)
		t.Logf("provision apply --root:\n%s", out)
		if err != nil {
			t.Fatalf("apply --root: %v", err)
		}
		return out
	}
	out := run()
	if n := recap(t, out); n[1] != 9 || n[2] != 0 {
		t.Errorf("offline apply: recap %v, want 9 changed", n)
	}
	if n := recap(t, run()); n[1] != 0 {
		t.Errorf("second offline apply: recap %v, want 0 changed", n)
	}
	if dest, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/sidekiq.service")); err != nil || dest != "/etc/systemd/system/sidekiq.service" {
		t.Errorf("wants link = %q, %v", dest, err)
	}
	// Capistrano's first deploy, laid into the tree.
	rel := filepath.Join(root, app, "releases/1")
	if err := os.MkdirAll(rel, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(app+"/releases/1", filepath.Join(root, app, "current")); err != nil {
		t.Fatal(err)
	}
	if err := c.Boot(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := show(t, c, "sidekiq", "UnitFileState"); got != "enabled" {
		t.Errorf("after boot sidekiq is %s, want enabled", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for show(t, c, "sidekiq", "ActiveState") != "active" {
		if time.Now().After(deadline) {
			t.Fatalf("sidekiq did not start at boot: %s", execOK(t, c, "systemctl", "status", "--no-pager", "sidekiq"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := strings.TrimSpace(execOK(t, c, "ps", "-o", "user=", "-p", show(t, c, "sidekiq", "MainPID"))); got != "deploy" {
		t.Errorf("sidekiq runs as %q, want deploy", got)
	}
	execOK(t, c, "visudo", "-c")
	// Online, the booted tree is already converged.
	installProvision(t, c)
	if n := recap(t, applyOK(t, c, spec)); n[1] != 0 {
		t.Errorf("online apply after the offline one: recap %v, want 0 changed", n)
	}
}

// TestDriftIsPutBack: a unit edited by hand, a mode changed and a shell
// changed are put back, exactly those, and reported.
func TestDriftIsPutBack(t *testing.T) {
	c := bootForSidekiq(t)
	spec := exampleSpec(t)
	applyOK(t, c, spec)
	execOK(t, c, "sh", "-c", `sed -i 's/^RestartSec=1$/RestartSec=30/' /etc/systemd/system/sidekiq.service`)
	execOK(t, c, "chmod", "0644", app+"/shared/.env")
	execOK(t, c, "usermod", "-s", "/bin/sh", "deploy")
	out := applyOK(t, c, spec)
	if got := stepLines(out, "changed"); !slices.Equal(got, []string{"unit /etc/systemd/system/sidekiq.service", "daemon-reload", "user deploy", "file " + app + "/shared/.env"}) {
		t.Errorf("changed steps = %q", got)
	}
	for _, want := range []string{"shell /bin/sh -> /bin/bash", "mode 0644 -> 0600", "-RestartSec=30", "+RestartSec=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply does not report %q", want)
		}
	}
	if got := execOK(t, c, "stat", "-c", "%a", app+"/shared/.env"); got != "600\n" {
		t.Errorf(".env mode %q", got)
	}
	if got := show(t, c, "sidekiq", "RestartUSec"); got != "1s" {
		t.Errorf("systemd has RestartSec %s, want 1s (reloaded)", got)
	}
	if n := recap(t, applyOK(t, c, spec)); n[1] != 0 {
		t.Errorf("apply after repair: recap %v", n)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// execHost runs a command on the host and returns its combined output.
func execHost(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return string(out), nil
}
