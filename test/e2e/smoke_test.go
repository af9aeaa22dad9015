//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmoke checks that a container boots a real systemd with nothing
// failed, has the tools provision relies on, and runs the provision binary.
func TestSmoke(t *testing.T) {
	c := boot(t)

	if code, out := exitCode(t, c, "systemctl", "is-system-running"); code != 0 || strings.TrimSpace(out) != "running" {
		_, failed := exitCode(t, c, "systemctl", "--failed", "--no-pager")
		t.Errorf("systemctl is-system-running = %q (exit %d), want running; failed units:\n%s", strings.TrimSpace(out), code, failed)
	}
	if got := strings.TrimSpace(execOK(t, c, "cat", "/proc/1/comm")); got != "systemd" {
		t.Errorf("PID 1 in the container is %q, want systemd", got)
	}
	for _, tool := range []string{"visudo", "useradd", "usermod", "groupadd", "runuser"} {
		if code, _ := exitCode(t, c, "sh", "-c", `command -v "$1"`, "sh", tool); code != 0 {
			t.Errorf("%s is not installed in the container", tool)
		}
	}
	if code, out := exitCode(t, c, "visudo", "-c"); code != 0 {
		t.Errorf("visudo -c in a fresh container fails (exit %d):\n%s", code, out)
	}

	// Files written in reach the container, under its tmpfs mounts too,
	// and never the host.
	writeFile(t, c, "/etc/provision-smoke", "etc\n", 0o640)
	writeFile(t, c, "/tmp/provision-smoke", "tmp\n", 0o600)
	if got := execOK(t, c, "stat", "-c", "%a %U %n", "/etc/provision-smoke", "/tmp/provision-smoke"); got != "640 root /etc/provision-smoke\n600 root /tmp/provision-smoke\n" {
		t.Errorf("files written into the container:\n%s", got)
	}
	if _, err := os.Stat("/etc/provision-smoke"); err == nil {
		t.Errorf("/etc/provision-smoke written into the container appeared on the host")
	}
	if got := execAsOK(t, c, "nobody", "id", "-un"); got != "nobody\n" {
		t.Errorf("ExecAs nobody: id -un = %q", got)
	}
}

// TestProvisionVersion checks that the static provision binary runs in the
// container and reports the version linked into it, as `make build` does.
func TestProvisionVersion(t *testing.T) {
	requireRoot(t)
	requireProvision(t)
	c := boot(t)
	installProvision(t, c)
	if out := execOK(t, c, "provision", "--version"); !strings.Contains(out, testVersion) {
		t.Errorf("provision --version = %q, want it to contain the version linked in, %q", out, testVersion)
	}
}

// TestParallelContainersAreIsolated checks that two containers running at
// once do not see each other's files or units: each has its own overlay
// and its own cgroups, so stopping a unit in one leaves the other's alone.
func TestParallelContainersAreIsolated(t *testing.T) {
	cs := bootN(t, 2)
	a, b := cs[0], cs[1]

	for _, c := range cs {
		execOK(t, c, "systemd-run", "--unit=provision-sleep", "--service-type=exec", "sleep", "600")
	}
	execOK(t, a, "systemctl", "stop", "provision-sleep.service")
	if code, out := exitCode(t, a, "systemctl", "is-active", "provision-sleep.service"); code == 0 {
		t.Errorf("in %s, provision-sleep is still %s after stop", a.Name(), strings.TrimSpace(out))
	}
	if code, out := exitCode(t, b, "systemctl", "is-active", "provision-sleep.service"); code != 0 {
		t.Errorf("in %s, provision-sleep is %s after stopping it in %s, want active", b.Name(), strings.TrimSpace(out), a.Name())
	}

	writeFile(t, a, "/etc/provision-only-in-a", "a\n", 0o644)
	if code, _ := exitCode(t, b, "test", "-e", "/etc/provision-only-in-a"); code == 0 {
		t.Errorf("a file written in %s is visible in %s", a.Name(), b.Name())
	}
	if _, err := os.Stat(filepath.Join(b.Root(), "etc/provision-only-in-a")); err == nil {
		t.Errorf("a file written in %s is in %s's root", a.Name(), b.Name())
	}
}
