//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/nspawn"
)

// attackSpec is the example with the .env's mode and the unit changed, so
// that apply must write the .env's metadata and the unit.
func attackSpec(t *testing.T, edits ...string) string {
	t.Helper()
	return exampleSpec(t, append([]string{"    mode: \"0600\"\n", "    mode: \"0640\"\n", "-e production", "-e production -c 5"}, edits...)...)
}

// shadowStamp describes /etc/shadow: mode, owner, inode, size and hash.
func shadowStamp(t *testing.T, c *nspawn.Container) string {
	t.Helper()
	return execOK(t, c, "sh", "-c", "stat -c '%a %U:%G %i %s' /etc/shadow && sha256sum /etc/shadow")
}

// etcListing lists every file, directory and link under /etc with its
// mode, owner and checksum, less the unit that apply is meant to change.
func etcListing(t *testing.T, c *nspawn.Container) string {
	t.Helper()
	return execOK(t, c, "sh", "-c",
		`find /etc -xdev \( -type f -o -type d -o -type l \) ! -path `+unitPath+` -printf '%p %m %u:%g %y %l\n' | sort;
		 find /etc -xdev -type f ! -path `+unitPath+` -exec sha256sum {} + | sort`)
}

// checkUnitApplied checks that the unit change went through despite the
// failed item: written and loaded by systemd.
func checkUnitApplied(t *testing.T, c *nspawn.Container, out string) {
	t.Helper()
	changed := stepLines(out, "changed")
	if !slices.Contains(changed, "unit "+unitPath) || !slices.Contains(changed, "daemon-reload") {
		t.Errorf("changed steps = %q, want the unit and daemon-reload among them", changed)
	}
	if got := show(t, c, "sidekiq", "ExecStart"); !strings.Contains(got, "-e production -c 5") {
		t.Errorf("systemd's ExecStart = %q, want the changed one", got)
	}
}

// failedWith checks that exactly the step id failed, with an error that
// names path and says why.
func failedWith(t *testing.T, out, id, path, why string) {
	t.Helper()
	if got := stepLines(out, "failed"); !slices.Equal(got, []string{id}) {
		t.Errorf("failed steps = %q, want %q", got, id)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "failed   "+id+": ") {
			if !strings.Contains(line, path) || !strings.Contains(line, why) {
				t.Errorf("failure %q does not name %s and say %q", line, path, why)
			}
			return
		}
	}
	t.Errorf("no failure line for %s in:\n%s", id, out)
}

// TestSymlinkedFile: the deploy user, who owns the app's shared directory,
// replaces the .env with a link to /etc/shadow, then (standing in for a
// host where fs.protected_hardlinks is off, which root does here) with a
// hard link to it. apply, asked to change the .env's mode, fails that item
// and leaves /etc/shadow exactly as it was; the unit change still goes
// through.
func TestSymlinkedFile(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	shadow := shadowStamp(t, c)

	execAsOK(t, c, "deploy", "ln", "-sfn", "/etc/shadow", envPath)
	code, out := provision(t, c, attackSpec(t), "apply")
	if code != 1 {
		t.Errorf("apply over a symlinked .env: exit %d, want 1", code)
	}
	failedWith(t, out, "file "+envPath, envPath, "symbolic link")
	if got := stepLines(out, "skipped"); !slices.Equal(got, []string{"service sidekiq"}) {
		t.Errorf("skipped steps = %q, want only the service, which reads the .env", got)
	}
	checkUnitApplied(t, c, out)
	if got := shadowStamp(t, c); got != shadow {
		t.Errorf("/etc/shadow changed:\nbefore %safter  %s", shadow, got)
	}
	if got := execOK(t, c, "readlink", envPath); got != "/etc/shadow\n" {
		t.Errorf(".env now links to %q", got)
	}

	execOK(t, c, "ln", "-f", "/etc/shadow", envPath)
	shadow = shadowStamp(t, c)
	code, out = provision(t, c, attackSpec(t), "apply")
	if code != 1 {
		t.Errorf("apply over a hard-linked .env: exit %d, want 1", code)
	}
	failedWith(t, out, "file "+envPath, envPath, "more than one hard link")
	if got := shadowStamp(t, c); got != shadow {
		t.Errorf("/etc/shadow changed through a hard link:\nbefore %safter  %s", shadow, got)
	}
}

// TestSymlinkedDirectory: the deploy user, who owns the app's directory,
// replaces the managed shared directory with a link to /etc. apply fails
// the directory, and then, with a spec that no longer manages that
// directory, the .env below it, at the linked component; /etc is left
// exactly as it was but for the unit, whose change goes through.
func TestSymlinkedDirectory(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	applyOK(t, c, exampleSpec(t))
	shared := app + "/shared"
	execAsOK(t, c, "deploy", "sh", "-c", "cd "+app+" && mv shared shared.old && ln -s /etc shared")

	spec := attackSpec(t)
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	etc := etcListing(t, c)
	code, out := provision(t, c, spec, "apply")
	if code != 1 {
		t.Errorf("apply over a symlinked directory: exit %d, want 1", code)
	}
	failedWith(t, out, "directory "+shared, shared, "symbolic link")
	if got := stepLines(out, "skipped"); !slices.Equal(got, []string{"file " + envPath, "service sidekiq"}) {
		t.Errorf("skipped steps = %q, want the .env and the service", got)
	}
	checkUnitApplied(t, c, out)
	if got := etcListing(t, c); got != etc {
		t.Errorf("/etc changed:\n%s", lineDiff(etc, got))
	}

	// Not managed any more, the directory is only a component of the
	// .env's path: the file step itself meets the link.
	spec = attackSpec(t, `  - {path: /data/apps/outmuscleme/shared, owner: deploy, group: deploy, mode: "0750"}`+"\n", "")
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	etc = etcListing(t, c)
	code, out = provision(t, c, spec, "apply")
	if code != 1 {
		t.Errorf("apply through a symlinked parent: exit %d, want 1", code)
	}
	failedWith(t, out, "file "+envPath, shared, "symbolic link")
	if got := etcListing(t, c); got != etc {
		t.Errorf("/etc changed:\n%s", lineDiff(etc, got))
	}
	if code, _ := exitCode(t, c, "test", "-e", "/etc/.env"); code == 0 {
		t.Errorf("/etc/.env exists")
	}
}
