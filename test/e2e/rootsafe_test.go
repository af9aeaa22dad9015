//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sudoersSpec is the example with one more drop-in: a rule for %deploy
// with the given extra rule keys and commands.
func sudoersSpec(t *testing.T, keys string, commands ...string) string {
	t.Helper()
	return exampleSpec(t) + fmt.Sprintf("sudoers:\n  - name: extra\n    rules:\n      - who: \"%%deploy\"\n        nopasswd: true\n%s        commands: [%s]\n",
		keys, strings.Join(commands, ", "))
}

// TestSudoEscalationsRefused: every program of Debian's that gives whoever
// may run it as root a root shell is refused as a sudoers command, under
// its own name or disguised by a link, even with unchecked: true; so is a
// program deploy can replace. Nothing is written, and deploy stays
// without root. A program provision does not know goes in only with
// unchecked: true, and then without exec unless the rule says exec: true.
func TestSudoEscalationsRefused(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	// A root-made link that hides an editor; a program in a directory
	// deploy owns.
	execOK(t, c, "ln", "-s", "/usr/bin/editor", "/usr/local/bin/fix-perms")
	execOK(t, c, "install", "-d", "-o", "deploy", "-g", "deploy", "/srv/deploy-bin")
	execOK(t, c, "install", "-m", "0755", "/usr/bin/true", "/srv/deploy-bin/restart")
	listing := func() string {
		return execOK(t, c, "sh", "-c", `find /etc /srv /usr/local -xdev ! -path /etc/provision.yaml \( -type f -o -type d -o -type l \) -printf '%p %m %u:%g %y %l\n' | sort;
			find /etc -xdev -type f ! -path /etc/provision.yaml -exec sha256sum {} + | sort`)
	}
	before := listing()

	attacks := []struct{ program, says string }{
		{"/usr/bin/editor", "an editor"},
		{"/usr/bin/view", "an editor"},
		{"/usr/bin/ex", "an editor"},
		{"/usr/bin/vim.basic", "an editor"},
		{"/usr/bin/pager", "a pager"},
		{"/usr/bin/rbash", "a shell"},
		{"/usr/bin/unshare", "a tool that runs another program"},
		{"/usr/bin/nsenter", "a tool that runs another program"},
		{"/usr/bin/script", "a tool that runs another program"},
		{"/usr/bin/gdb", "an interpreter"},
		{"/usr/sbin/visudo", "an account or privilege tool"},
		{"/usr/local/bin/fix-perms", "/usr/local/bin/fix-perms resolves to /usr/bin/vim.basic: runs /usr/bin/vim.basic, an editor"},
		{"/srv/deploy-bin/restart", "/srv/deploy-bin is a directory owned by uid"},
	}
	for _, a := range attacks {
		code, out := provision(t, c, sudoersSpec(t, "        unchecked: true\n", a.program), "apply")
		if code != 2 || !strings.Contains(out, "sudoers[0].rules[0].commands[0]: ") || !strings.Contains(out, a.says) {
			t.Errorf("%s: exit %d, want 2 and %q:\n%s", a.program, code, a.says, out)
		}
	}
	if after := listing(); after != before {
		t.Errorf("refused specs changed the host:\n%s", lineDiff(before, after))
	}
	for _, a := range attacks {
		if code, _ := exitCode(t, c, "runuser", "-u", "deploy", "--", "sudo", "-n", a.program, "-c", "id"); code == 0 {
			t.Errorf("deploy may run %s as root", a.program)
		}
	}

	// An unknown program: refused without unchecked, installed with it
	// (and warned about), and run under NOEXEC: it cannot start another.
	writeFile(t, c, "/usr/local/bin/whoami-child", "#!/bin/sh\n/usr/bin/id -un\n", 0o755)
	code, out := provision(t, c, sudoersSpec(t, "", "/usr/local/bin/whoami-child"), "apply")
	if code != 2 || !strings.Contains(out, "which provision does not know to be safe as root") {
		t.Errorf("unknown program without unchecked: exit %d\n%s", code, out)
	}
	out = applyOK(t, c, sudoersSpec(t, "        unchecked: true\n", "/usr/local/bin/whoami-child"))
	if !strings.Contains(out, "warning: sudoers[0].rules[0].commands[0]: %deploy may run /usr/local/bin/whoami-child as root unchecked") {
		t.Errorf("no warning for the unchecked rule:\n%s", out)
	}
	if got := execOK(t, c, "cat", "/etc/sudoers.d/extra"); !strings.Contains(got, "%deploy ALL= NOPASSWD: NOEXEC: /usr/local/bin/whoami-child \"\"\n") {
		t.Errorf("drop-in:\n%s", got)
	}
	if code, out := exitCode(t, c, "runuser", "-u", "deploy", "--", "sudo", "-n", "/usr/local/bin/whoami-child"); code == 0 || strings.Contains(out, "root") {
		t.Errorf("under NOEXEC the program started another: exit %d %q", code, out)
	}
	applyOK(t, c, sudoersSpec(t, "        unchecked: true\n        exec: true\n", "/usr/local/bin/whoami-child"))
	if got := execAsOK(t, c, "deploy", "sudo", "-n", "/usr/local/bin/whoami-child"); got != "root\n" {
		t.Errorf("with exec: true: %q, want root", got)
	}
	// The shorthand's lines are as they were: no NOEXEC.
	if got := execOK(t, c, "cat", "/etc/sudoers.d/sidekiq-users"); strings.Contains(got, "NOEXEC") {
		t.Errorf("the sudo: shorthand changed:\n%s", got)
	}
}

// TestUntrustedSpecRefused: a spec that someone other than root can
// change is refused before anything is read from the host, naming the
// path that is wrong; standard input is allowed.
func TestUntrustedSpecRefused(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	execOK(t, c, "useradd", "-m", "deploy")
	uid := strings.TrimSpace(execOK(t, c, "id", "-u", "deploy"))
	spec := exampleSpec(t)
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	execOK(t, c, "chown", "deploy", "/etc/provision.yaml")
	execOK(t, c, "install", "-d", "-o", "root", "/home/deploy/specs")
	writeFile(t, c, "/home/deploy/specs/provision.yaml", spec, 0o600)
	writeFile(t, c, "/etc/provision-open.yaml", spec, 0o666)
	execOK(t, c, "chmod", "0666", "/etc/provision-open.yaml")
	before := etcListing(t, c)
	for _, tc := range []struct{ file, says string }{
		{"/etc/provision.yaml", "/etc/provision.yaml is owned by uid " + uid + ", not root"},
		{"/etc/provision-open.yaml", "/etc/provision-open.yaml can be written by group or others (mode 0666)"},
		// root's file, in a directory deploy can replace.
		{"/home/deploy/specs/provision.yaml", "/home/deploy/specs/provision.yaml: /home/deploy is a directory owned by uid " + uid + ", not root"},
	} {
		code, out := exitCode(t, c, "provision", "apply", "-f", tc.file)
		if code != 2 || !strings.Contains(out, "refusing the spec: "+tc.says+";") {
			t.Errorf("%s: exit %d, want 2 and %q:\n%s", tc.file, code, tc.says, out)
		}
	}
	if after := etcListing(t, c); after != before {
		t.Errorf("refused specs changed /etc:\n%s", lineDiff(before, after))
	}
	// The same spec on standard input.
	cmd := c.Command(t.Context(), "provision", "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(spec)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("apply -f -: %v\n%s", err, out)
	}
}

// TestReadBackShowsWhatSystemdLoaded: a unit whose loaded configuration is
// not the spec's (a drop-in with User=root in a package's directory) fails the
// service step after the reload, showing both values, before anything
// runs as root; verify reports it; a specifier-looking value loads as the
// spec wrote it.
func TestReadBackShowsWhatSystemdLoaded(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	firstDeploy(t, c)
	applyOK(t, c, exampleSpec(t, withState("started")...))
	if got := show(t, c, "sidekiq", "User"); got != "deploy" {
		t.Fatalf("User=%s", got)
	}
	// A drop-in where provision does not look for them (a package's
	// directory): systemd reads it all the same, and the read-back tells.
	const dropin = "/usr/lib/systemd/system/sidekiq.service.d/override.conf"
	writeFile(t, c, dropin, "[Service]\nUser=root\n", 0o644)
	pid := show(t, c, "sidekiq", "MainPID")
	code, out := provision(t, c, exampleSpec(t, append(withState("started"), "-e production", "-e staging")...), "apply")
	if code != 1 || !strings.Contains(out, "systemd loaded User=root, the spec says deploy") || !strings.Contains(out, "systemd also read the drop-ins "+dropin) {
		t.Errorf("apply with a foreign drop-in: exit %d, want 1 naming User=root and the drop-in:\n%s", code, out)
	}
	if got := show(t, c, "sidekiq", "MainPID"); got != pid {
		t.Errorf("the service was restarted as root: MainPID %s -> %s", pid, got)
	}
	code, out = provision(t, c, exampleSpec(t, append(withState("started"), "-e production", "-e staging")...), "verify")
	if code != 3 || !strings.Contains(out, "systemd loaded User=root, the spec says deploy") {
		t.Errorf("verify: exit %d, want 3 naming User=root:\n%s", code, out)
	}
	execOK(t, c, "rm", "-r", "/usr/lib/systemd/system/sidekiq.service.d")
	applyOK(t, c, exampleSpec(t, append(withState("started"), "-e production", "-e staging")...))

	// A percent sign is the spec's, not a specifier.
	percent := exampleSpec(t, append(withState("started"), "description: Outmuscle Me Production Sidekiq", "description: 100% of %u's jobs")...)
	applyOK(t, c, percent)
	if got := show(t, c, "sidekiq", "Description"); got != "100% of %u's jobs" {
		t.Errorf("Description=%q, want the spec's", got)
	}
	if code, out := provision(t, c, percent, "verify"); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
}

// TestSignalDuringHelper: SIGTERM while a helper runs (a slow visudo)
// ends the run with "interrupted", not "rejected by visudo", leaves no
// helper running, and the next run completes.
func TestSignalDuringHelper(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	// The visudo provision finds first on its PATH is slow.
	writeFile(t, c, "/usr/local/sbin/visudo", "#!/bin/sh\nsleep 30\nexec /usr/sbin/visudo \"$@\"\n", 0o755)
	writeFile(t, c, "/etc/provision.yaml", exampleSpec(t), 0o600)
	cmd := c.Command(t.Context(), "provision", "apply")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for the slow helper, then signal provision inside the container.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _ := exitCode(t, c, "pgrep", "-f", "sleep 30")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow visudo never ran:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	execOK(t, c, "pkill", "-TERM", "-x", "provision")
	err := cmd.Wait()
	t.Logf("provision after SIGTERM (%v): %v\n%s", time.Since(start).Round(time.Millisecond), err, out.String())
	if time.Since(start) > 8*time.Second {
		t.Errorf("provision took %v to stop", time.Since(start))
	}
	if !strings.Contains(out.String(), "interrupted") || strings.Contains(out.String(), "rejected by visudo") {
		t.Errorf("output does not say interrupted (or says rejected):\n%s", out.String())
	}
	if code, left := exitCode(t, c, "pgrep", "-a", "-f", "sleep 30|visudo"); code == 0 {
		t.Errorf("helpers left running:\n%s", left)
	}
	execOK(t, c, "rm", "/usr/local/sbin/visudo")
	applyOK(t, c, exampleSpec(t))
	if n := recap(t, applyOK(t, c, exampleSpec(t))); n[1] != 0 {
		t.Errorf("apply after the interrupted one, twice: %v changed", n)
	}
}

// TestAccountsAsTheyAre: an account made by hand keeps the home and shell
// the spec leaves out; root's keys are managed without a word about root;
// a home removed by hand is made again as useradd -m makes it; a key
// taken out of the list is gone from the file.
func TestAccountsAsTheyAre(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	execOK(t, c, "useradd", "-d", "/srv/deploy", "-m", "-s", "/bin/sh", "deploy")
	rootBefore := execOK(t, c, "getent", "passwd", "root")
	key := func(name string) string {
		execOK(t, c, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", "/tmp/"+name)
		return strings.TrimSpace(execOK(t, c, "cat", "/tmp/"+name+".pub"))
	}
	keyA, keyB := key("a@example"), key("b@example")
	spec := func(keys string) string {
		return "users:\n  - name: deploy\n    authorized_keys: [" + keys + "]\n  - name: root\n    authorized_keys: [\"" + keyA + "\"]\n"
	}
	applyOK(t, c, spec(`"`+keyA+`", "`+keyB+`"`))
	if got := execOK(t, c, "getent", "passwd", "deploy"); !strings.HasSuffix(strings.TrimSpace(got), ":/srv/deploy:/bin/sh") {
		t.Errorf("deploy's account changed: %s", got)
	}
	if got := execOK(t, c, "getent", "passwd", "root"); got != rootBefore {
		t.Errorf("root's account changed: %s -> %s", rootBefore, got)
	}
	if got := execOK(t, c, "cat", "/srv/deploy/.ssh/authorized_keys"); got != keyA+"\n"+keyB+"\n" {
		t.Errorf("deploy's keys: %q", got)
	}
	if got := execOK(t, c, "cat", "/root/.ssh/authorized_keys"); got != keyA+"\n" {
		t.Errorf("root's keys: %q", got)
	}
	// b leaves: its key goes, as ssh-keygen sees the file.
	applyOK(t, c, spec(`"`+keyA+`"`))
	if out := execOK(t, c, "ssh-keygen", "-l", "-f", "/srv/deploy/.ssh/authorized_keys"); strings.Contains(out, "b@example") || !strings.Contains(out, "a@example") {
		t.Errorf("after taking b out: %s", out)
	}
	applyOK(t, c, spec(""))
	if got := execOK(t, c, "stat", "-c", "%s", "/srv/deploy/.ssh/authorized_keys"); got != "0\n" {
		t.Errorf("authorized_keys: [] leaves %s bytes", got)
	}
	// The home removed by hand comes back as useradd -m makes it.
	execOK(t, c, "rm", "-rf", "/srv/deploy")
	out := applyOK(t, c, spec(""))
	if !strings.Contains(out, "home /srv/deploy is missing: create it as useradd -m does") {
		t.Errorf("no home made:\n%s", out)
	}
	if got := execOK(t, c, "stat", "-c", "%U:%G %a", "/srv/deploy", "/srv/deploy/.bashrc"); got != "deploy:deploy 755\ndeploy:deploy 644\n" {
		t.Errorf("the new home: %q", got)
	}
	if n := recap(t, applyOK(t, c, spec(""))); n[1] != 0 {
		t.Errorf("apply again: %v", n)
	}
}

// TestOneshotAndRootsOwnLink: a type: oneshot service with state: started
// runs once and then counts as started; a managed path behind a link
// that only root could have planted (/data -> /srv/data) is written
// through it.
func TestOneshotAndRootsOwnLink(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	execOK(t, c, "mkdir", "-p", "/srv/data")
	execOK(t, c, "ln", "-s", "/srv/data", "/data")
	spec := exampleSpec(t) + "  - name: migrate\n    type: oneshot\n    exec_start: /bin/sh -c 'echo ran >> /srv/data/migrations'\n    state: started\n"
	applyOK(t, c, spec)
	if n := recap(t, applyOK(t, c, spec)); n[1] != 0 {
		t.Errorf("apply again: %v changed, want 0 (the oneshot ran and counts as started)", n)
	}
	if got := execOK(t, c, "cat", "/srv/data/migrations"); got != "ran\n" {
		t.Errorf("the oneshot ran %q times", got)
	}
	if got := execOK(t, c, "stat", "-c", "%U %a", "/srv/data/apps/outmuscleme/shared/.env"); got != "deploy 600\n" {
		t.Errorf("the .env through /data: %q", got)
	}
}

// TestSystemdStopsAnswering: with systemd stopped (SIGSTOP to the
// container's PID 1 from the host), apply fails after --dbus-timeout
// saying systemd did not answer, instead of hanging, and changes nothing.
func TestSystemdStopsAnswering(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	writeFile(t, c, "/etc/provision.yaml", exampleSpec(t), 0o600)
	if err := syscall.Kill(c.InitPID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(c.InitPID(), syscall.SIGCONT)
	start := time.Now()
	code, out := exitCode(t, c, "provision", "apply", "--dbus-timeout", "2s")
	took := time.Since(start)
	syscall.Kill(c.InitPID(), syscall.SIGCONT)
	t.Logf("apply with systemd stopped: exit %d in %v\n%s", code, took, out)
	if code != 1 || !strings.Contains(out, "systemd did not answer") || !strings.Contains(out, "within 2s") {
		t.Errorf("exit %d, want 1 saying systemd did not answer within 2s", code)
	}
	if took > 10*time.Second {
		t.Errorf("took %v with --dbus-timeout 2s", took)
	}
	// The steps checked the host while the connection was being made,
	// and changed nothing, though everything differs.
	if out := execOK(t, c, "sh", "-c", "ls /etc/systemd/system/sidekiq.service /etc/sudoers.d/sidekiq-users /data 2>/dev/null; getent passwd deploy; true"); out != "" {
		t.Errorf("apply changed the host though systemd did not answer:\n%s", out)
	}
	applyOK(t, c, exampleSpec(t))
}
