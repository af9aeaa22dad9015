//go:build e2e

package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// docExample is the reference spec as the package installs it.
const docExample = "/usr/share/doc/provision/examples/sidekiq/provision.yaml"

// TestDebianPackage installs the package `make deb` builds (lintian finds
// no error in it, or make deb fails) in a booted container, as an operator
// would: the binary in /usr/sbin, its man page and completion, the verify
// timer installed but not enabled, and the shipped example applied. Then
// the timer's service writes the textfile, and the package is removed.
func TestDebianPackage(t *testing.T) {
	t.Parallel()
	requirePromParser(t)
	requireHostPackages(t, map[string]string{"/usr/share/bash-completion/bash_completion": "bash-completion"})
	deb, _ := buildDeb(t)

	fields, err := exec.Command("dpkg-deb", "--show", "--showformat", "${Package} ${Version} ${Architecture} ${Section} ${Depends}", deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --show %s: %v", deb, err)
	}
	if got := string(fields); got != "provision 0.0.0+e2e amd64 admin " {
		t.Errorf("package fields %q, want provision 0.0.0+e2e amd64 admin, no Depends", got)
	}

	c := boot(t)
	if err := c.CopyIn(deb, "/root/provision.deb", 0o644); err != nil {
		t.Fatal(err)
	}
	execOK(t, c, "dpkg", "-i", "/root/provision.deb")
	if got := execOK(t, c, "provision", "--version"); got != "provision v0.0.0-e2e\n" {
		t.Errorf("provision --version = %q", got)
	}
	if got := execOK(t, c, "sh", "-c", "command -v provision"); got != "/usr/sbin/provision\n" {
		t.Errorf("provision is %q, want /usr/sbin/provision", got)
	}
	man := execOK(t, c, "env", "MANWIDTH=80", "man", "-P", "cat", "8", "provision")
	for _, want := range []string{"provision - converge a Linux host to a YAML spec", "--textfile path", "EXIT STATUS"} {
		if !strings.Contains(stripOverstrike(man), want) {
			t.Errorf("man 8 provision lacks %q", want)
		}
	}
	complete := func(line string) string {
		t.Helper()
		const script = `. /usr/share/bash-completion/bash_completion
. /usr/share/bash-completion/completions/provision
read -ra COMP_WORDS <<< "$1"; [[ $1 == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$1; COMP_POINT=${#1}
_provision; printf '%s\n' "${COMPREPLY[@]}"`
		return execOK(t, c, "bash", "-c", script, "bash", line)
	}
	if got := complete("provision ver"); got != "verify\nversion\n" {
		t.Errorf("completion of 'provision ver' = %q", got)
	}
	if got := complete("provision verify --te"); got != "--textfile\n" {
		t.Errorf("completion of 'provision verify --te' = %q", got)
	}
	if got := complete("provision plan --output "); got != "text\njson\n" {
		t.Errorf("completion of 'provision plan --output ' = %q", got)
	}

	// The units are installed, valid, and not enabled.
	execOK(t, c, "systemd-analyze", "verify", "/lib/systemd/system/provision-verify.service", "/lib/systemd/system/provision-verify.timer")
	// The service has no [Install]: only the timer starts it.
	for u, want := range map[string]string{"provision-verify.timer": "disabled", "provision-verify.service": "static"} {
		if _, out := exitCode(t, c, "systemctl", "is-enabled", u); strings.TrimSpace(out) != want {
			t.Errorf("%s is %q after install, want %s", u, strings.TrimSpace(out), want)
		}
	}
	if got := show(t, c, "provision-verify.timer", "ActiveState"); got != "inactive" {
		t.Errorf("provision-verify.timer is %s after install, want inactive", got)
	}

	// The shipped example, applied from where the package puts it.
	code, out := exitCode(t, c, "provision", "apply", "-f", docExample)
	t.Logf("provision apply -f %s: exit %d\n%s", docExample, code, out)
	if n := recap(t, out); code != 0 || n[1] != 10 || n[2] != 0 {
		t.Errorf("apply of the packaged example: exit %d, recap %v, want 11 changed", code, n)
	}
	if code, out := exitCode(t, c, "provision", "verify", "-f", docExample); code != 0 {
		t.Errorf("verify of the packaged example: exit %d\n%s", code, out)
	}

	// The timer's service, once there is a spec at the default path.
	execOK(t, c, "install", "-m", "0600", docExample, "/etc/provision.yaml")
	execOK(t, c, "systemctl", "enable", "--now", "provision-verify.timer")
	if got := show(t, c, "provision-verify.timer", "ActiveState"); got != "active" {
		t.Errorf("provision-verify.timer is %s once enabled, want active", got)
	}
	if code, out := exitCode(t, c, "systemctl", "start", "provision-verify.service"); code != 0 {
		t.Fatalf("systemctl start provision-verify.service: exit %d\n%s\n%s", code, out, execOK(t, c, "journalctl", "-u", "provision-verify", "--no-pager"))
	}
	checkSamples(t, parsePromFile(t, c, promFile), map[string]float64{
		"provision_verify_success":       1,
		"provision_verify_drifted_steps": 0,
	})
	// Drift is what the file reports, not a failure of the service.
	execOK(t, c, "chmod", "0644", "/data/apps/outmuscleme/shared/.env")
	if code, out := exitCode(t, c, "systemctl", "start", "provision-verify.service"); code != 0 {
		t.Errorf("provision-verify.service on a drifted host: exit %d, want 0 (SuccessExitStatus=3)\n%s", code, out)
	}
	checkSamples(t, parsePromFile(t, c, promFile), map[string]float64{
		"provision_verify_drifted_steps":                                   1,
		"provision_verify_step_drifted{step=file " + app + "/shared/.env}": 1,
	})

	execOK(t, c, "systemctl", "disable", "--now", "provision-verify.timer")
	execOK(t, c, "dpkg", "--purge", "provision")
	if code, _ := exitCode(t, c, "test", "-e", "/usr/sbin/provision"); code == 0 {
		t.Errorf("/usr/sbin/provision is still there after dpkg --purge")
	}
}

// stripOverstrike removes the backspace overstrikes man writes for bold
// and underline.
func stripOverstrike(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i+1 < len(s) && s[i+1] == '\b' {
			i++
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
