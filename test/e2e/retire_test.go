//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/nspawn"
)

// etcState lists /etc and /run/provision (files, links, modes, owners,
// checksums), for showing that a plan changed nothing.
func etcState(t *testing.T, c *nspawn.Container) string {
	t.Helper()
	return execOK(t, c, "sh", "-c", `find /etc /run/provision -xdev ! -path /etc/provision.yaml \( -type f -o -type d -o -type l \) -printf '%p %m %u:%g %y %l\n' 2>/dev/null | sort;
		find /etc -xdev -type f ! -path /etc/provision.yaml -exec sha256sum {} + | sort`)
}

// TestRetireService: a started template service with sudo: and two
// instances, retired with state: absent: the plan lists the removals and
// changes nothing; the apply stops the instances and leaves no unit file,
// no template, no link, no drop-in, the units not-found, visudo -c clean,
// with one reload; the next apply changes nothing.
func TestRetireService(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, workerSpec(2))
	for _, u := range []string{"worker@1", "worker@2"} {
		if got := show(t, c, u, "ActiveState"); got != "active" {
			t.Fatalf("%s is %s", u, got)
		}
	}
	retired := "users:\n  - name: deploy\nservices:\n  - name: worker\n    state: absent\n"
	before, reloadsBefore := etcState(t, c), reloads(t, c)
	code, plan := provision(t, c, retired, "plan")
	if code != 0 {
		t.Fatalf("plan: exit %d", code)
	}
	if after := etcState(t, c); after != before {
		t.Errorf("plan changed the host:\n%s", lineDiff(before, after))
	}
	for _, want := range []string{
		"worker@1.service: stop (active -> inactive, the service is to be absent)",
		"worker@2.service: stop (active -> inactive, the service is to be absent)",
		"worker@.service: remove file",
		"worker@1.service: disable: remove /etc/systemd/system/multi-user.target.wants/worker@1.service",
		"worker@2.service: disable: remove /etc/systemd/system/multi-user.target.wants/worker@2.service",
		"change   sudoers /etc/sudoers.d/worker-users\n         remove file",
		"reload systemd:",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan does not say %q", want)
		}
	}
	if got := show(t, c, "worker@1", "ActiveState"); got != "active" {
		t.Errorf("plan stopped worker@1: %s", got)
	}

	applyOK(t, c, retired)
	if got := reloads(t, c) - reloadsBefore; got != 1 {
		t.Errorf("retiring: %d daemon-reloads, want 1", got)
	}
	if code, out := exitCode(t, c, "sh", "-c", "ls -d /etc/systemd/system/worker* /etc/systemd/system/*.wants/worker* /etc/sudoers.d/worker-users 2>/dev/null"); code == 0 {
		t.Errorf("left behind:\n%s", out)
	}
	for _, u := range []string{"worker@1", "worker@2"} {
		if got := show(t, c, u, "ActiveState") + " " + show(t, c, u, "LoadState"); got != "inactive not-found" {
			t.Errorf("%s is %s, want inactive not-found", u, got)
		}
	}
	execOK(t, c, "visudo", "-c")
	if n := recap(t, applyOK(t, c, retired)); n[1] != 0 {
		t.Errorf("apply again: recap %v, want 0 changed", n)
	}
}

// TestDropinOnRedis: a drop-in on Debian's redis-server.service, which
// provision does not own, gives the running Redis its LimitNOFILE after
// one restart; a re-apply changes and restarts nothing; state: absent on
// the drop-in gives Redis the vendor's limit back. (The limit is one under
// the containers' hard limit, 20000 here, which caps the vendor's 65535.)
func TestDropinOnRedis(t *testing.T) {
	t.Parallel()
	requireProvision(t)
	c := bootWith(t, nspawn.Options{Unmask: []string{"redis-server.service"}})
	installProvision(t, c)
	execOK(t, c, "systemctl", "start", "redis-server")
	limit := func() string {
		pid := show(t, c, "redis-server", "MainPID")
		out := execOK(t, c, "sh", "-c", "grep 'Max open files' /proc/"+pid+"/limits")
		return strings.Fields(out)[3]
	}
	vendor := limit()
	spec := func(state string) string {
		return "dropins:\n  - unit: redis-server.service\n    name: provision\n    options: [{section: Service, name: LimitNOFILE, value: \"16384\"}]\n" + state
	}
	pid := show(t, c, "redis-server", "MainPID")
	out := applyOK(t, c, spec(""))
	if !strings.Contains(out, "changed  restart redis-server.service") {
		t.Errorf("apply did not restart redis:\n%s", out)
	}
	if got := limit(); got != "16384" || vendor == "16384" {
		t.Errorf("redis runs with Max open files %s (vendor %s), want 16384", got, vendor)
	}
	if show(t, c, "redis-server", "MainPID") == pid {
		t.Error("redis was not restarted")
	}
	pid = show(t, c, "redis-server", "MainPID")
	if n := recap(t, applyOK(t, c, spec(""))); n[1] != 0 {
		t.Errorf("apply again: recap %v", n)
	}
	if got := show(t, c, "redis-server", "MainPID"); got != pid {
		t.Errorf("apply again restarted redis: %s -> %s", pid, got)
	}
	applyOK(t, c, spec("    state: absent\n"))
	if got := limit(); got != vendor {
		t.Errorf("after state: absent, Max open files %s, want the vendor's %s", got, vendor)
	}
}

// TestForeignDropin: a hand-made override.conf with User=root on a managed
// service is drift for verify (exit 3, the file named) and fails apply's
// service step, naming it; listed with state: absent, apply removes it and
// the service runs as the spec's user again.
func TestForeignDropin(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	firstDeploy(t, c)
	started := exampleSpec(t, withState("started")...)
	applyOK(t, c, started)
	const override = "/etc/systemd/system/sidekiq.service.d/override.conf"
	writeFile(t, c, override, "[Service]\nUser=root\n", 0o644)
	execOK(t, c, "systemctl", "daemon-reload")
	execOK(t, c, "systemctl", "restart", "sidekiq")
	if got := show(t, c, "sidekiq", "User"); got != "root" {
		t.Fatalf("the override did not take: User=%s", got)
	}
	code, out := provision(t, c, started, "verify")
	if code != 3 || !strings.Contains(out, "foreign drop-ins "+override) {
		t.Errorf("verify: exit %d, want 3 naming %s", code, override)
	}
	code, out = provision(t, c, started, "apply")
	if code != 1 || !strings.Contains(out, "failed   service sidekiq: foreign drop-ins "+override) {
		t.Errorf("apply: exit %d, want the service step failed naming %s:\n%s", code, override, out)
	}
	out = applyOK(t, c, started+"dropins:\n  - {unit: sidekiq.service, name: override, state: absent}\n")
	if !strings.Contains(out, "restart (unit changed)") {
		t.Errorf("the service was not restarted without the drop-in:\n%s", out)
	}
	if got := show(t, c, "sidekiq", "User"); got != "deploy" {
		t.Errorf("User=%s, want deploy", got)
	}
	pid := show(t, c, "sidekiq", "MainPID")
	if got := strings.TrimSpace(execOK(t, c, "ps", "-o", "user=", "-p", pid)); got != "deploy" {
		t.Errorf("sidekiq runs as %s, want deploy", got)
	}
}

// TestRetireFilesDirectoriesSudoersUser: each kind of thing retired, and
// each refusal: a non-empty directory (what is left named), a link, a
// second hard link, a user with a process, a drop-in sudo needs.
func TestRetireFilesDirectoriesSudoersUser(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	execOK(t, c, "useradd", "-m", "olduser")
	execOK(t, c, "mkdir", "-p", "/srv/old/empty", "/srv/full")
	execOK(t, c, "sh", "-c", "echo x > /srv/full/left; echo A=1 > /srv/old/app.env; echo s > /srv/linked; ln /srv/linked /srv/other; ln -s /etc/shadow /srv/link")
	// Another drop-in includes old-rules: sudo's configuration is
	// invalid without it.
	writeFile(t, c, "/etc/sudoers.d/old-rules", "Defaults:olduser !lecture\n", 0o440)
	writeFile(t, c, "/etc/sudoers.d/uses-old", "@include /etc/sudoers.d/old-rules\n", 0o440)
	execOK(t, c, "visudo", "-c")
	// A process of olduser's.
	execOK(t, c, "systemd-run", "--uid", "olduser", "--unit", "olduser-sleep", "/bin/sleep", "300")
	spec := `users:
  - {name: olduser, state: absent}
files:
  - {path: /srv/old/app.env, state: absent}
  - {path: /srv/linked, state: absent}
  - {path: /srv/link, state: absent}
directories:
  - {path: /srv/old, state: absent}
  - {path: /srv/old/empty, state: absent}
  - {path: /srv/full, state: absent}
sudoers:
  - {name: old-rules, state: absent}
`
	code, out := provision(t, c, spec, "apply")
	if code != 1 {
		t.Errorf("apply: exit %d, want 1", code)
	}
	for _, want := range []string{
		"changed  file /srv/old/app.env",
		"changed  directory /srv/old/empty",
		"changed  directory /srv/old\n",
		"failed   file /srv/linked: /srv/linked: has more than one hard link",
		"failed   file /srv/link: /srv/link: is a symbolic link",
		"failed   directory /srv/full: /srv/full: is to be absent but is not empty: left;",
		"failed   sudoers /etc/sudoers.d/old-rules: /etc/sudoers.d/old-rules: not removed: the sudo configuration is invalid without it, so it was put back",
		"failed   user olduser: user olduser has running processes: ",
		"(sleep)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply does not say %q", want)
		}
	}
	execOK(t, c, "visudo", "-c")
	execOK(t, c, "test", "-f", "/etc/sudoers.d/old-rules")
	execOK(t, c, "getent", "passwd", "olduser")
	execOK(t, c, "test", "-f", "/srv/full/left")
	execOK(t, c, "test", "-f", "/etc/shadow")

	// With what blocked them gone, the rest goes; the home stays.
	execOK(t, c, "systemctl", "stop", "olduser-sleep")
	execOK(t, c, "rm", "/etc/sudoers.d/uses-old", "/srv/full/left", "/srv/other", "/srv/link")
	applyOK(t, c, spec)
	if code, _ := exitCode(t, c, "getent", "passwd", "olduser"); code == 0 {
		t.Error("olduser is still there")
	}
	execOK(t, c, "test", "-d", "/home/olduser")
	for _, p := range []string{"/srv/old", "/srv/full", "/srv/linked", "/etc/sudoers.d/old-rules"} {
		if code, _ := exitCode(t, c, "test", "-e", p); code == 0 {
			t.Errorf("%s is still there", p)
		}
	}
	execOK(t, c, "visudo", "-c")
	if n := recap(t, applyOK(t, c, spec)); n[1] != 0 {
		t.Errorf("apply again: recap %v", n)
	}
}
