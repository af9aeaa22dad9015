//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/nspawn"
)

// wantsOf returns the units systemd's running manager says unit wants
// (systemctl show -P Wants), as a sorted list.
func wantsOf(t *testing.T, c *nspawn.Container, unit string) []string {
	t.Helper()
	w := strings.Fields(show(t, c, unit, "Wants"))
	slices.Sort(w)
	return w
}

// TestEnableReachesRunningManager: after the first apply of the example,
// the running systemd knows what provision enabled, as after systemctl
// enable, with exactly one daemon-reload; a changed wanted_by moves the
// links (the new one made, the old one gone) and the manager follows; the
// next apply changes nothing.
func TestEnableReachesRunningManager(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	before := reloads(t, c)
	applyOK(t, c, exampleSpec(t))
	if got := reloads(t, c) - before; got != 1 {
		t.Errorf("first apply: %d daemon-reloads, want 1", got)
	}
	if w := wantsOf(t, c, "multi-user.target"); !slices.Contains(w, "sidekiq.service") {
		t.Errorf("multi-user.target Wants=%q, want sidekiq.service among them", w)
	}
	if got := show(t, c, "sidekiq", "WantedBy"); got != "multi-user.target" {
		t.Errorf("sidekiq WantedBy=%q, want multi-user.target", got)
	}

	moved := exampleSpec(t, "wanted_by: [multi-user.target]", "wanted_by: [graphical.target]")
	before = reloads(t, c)
	out := applyOK(t, c, moved)
	if !strings.Contains(out, "links: link /etc/systemd/system/graphical.target.wants/sidekiq.service, remove /etc/systemd/system/multi-user.target.wants/sidekiq.service") {
		t.Errorf("moving wanted_by does not report the links:\n%s", out)
	}
	if got := reloads(t, c) - before; got != 1 {
		t.Errorf("moving wanted_by: %d daemon-reloads, want 1", got)
	}
	if got := execOK(t, c, "readlink", "/etc/systemd/system/graphical.target.wants/sidekiq.service"); strings.TrimSpace(got) != "/etc/systemd/system/sidekiq.service" {
		t.Errorf("graphical.target.wants/sidekiq.service -> %q", got)
	}
	if code, _ := exitCode(t, c, "test", "-L", "/etc/systemd/system/multi-user.target.wants/sidekiq.service"); code == 0 {
		t.Error("the old multi-user.target.wants link is still there")
	}
	if got := show(t, c, "sidekiq", "WantedBy"); got != "graphical.target" {
		t.Errorf("after the move: sidekiq WantedBy=%q, want graphical.target", got)
	}
	if w := wantsOf(t, c, "multi-user.target"); slices.Contains(w, "sidekiq.service") {
		t.Errorf("after the move: multi-user.target still Wants=%q", w)
	}
	if w := wantsOf(t, c, "graphical.target"); !slices.Contains(w, "sidekiq.service") {
		t.Errorf("after the move: graphical.target Wants=%q, want sidekiq.service among them", w)
	}
	if got := execOK(t, c, "systemctl", "is-enabled", "sidekiq"); strings.TrimSpace(got) != "enabled" {
		t.Errorf("systemctl is-enabled sidekiq = %q", got)
	}
	before = reloads(t, c)
	if n := recap(t, applyOK(t, c, moved)); n[1] != 0 {
		t.Errorf("apply again: recap %v, want 0 changed", n)
	}
	if got := reloads(t, c) - before; got != 0 {
		t.Errorf("apply again: %d daemon-reloads, want none", got)
	}
}

// TestInstancesEnableReachesRunningManager: the same for the instances of a
// template service.
func TestInstancesEnableReachesRunningManager(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	before := reloads(t, c)
	applyOK(t, c, workerSpec(2))
	if got := reloads(t, c) - before; got != 1 {
		t.Errorf("first apply: %d daemon-reloads, want 1", got)
	}
	w := wantsOf(t, c, "multi-user.target")
	for _, u := range []string{"worker@1.service", "worker@2.service"} {
		if !slices.Contains(w, u) {
			t.Errorf("multi-user.target Wants=%q, want %s among them", w, u)
		}
		if got := show(t, c, u, "WantedBy"); got != "multi-user.target" {
			t.Errorf("%s WantedBy=%q", u, got)
		}
	}
	moved := strings.Replace(workerSpec(2), "    instances: 2\n", "    instances: 2\n    wanted_by: [graphical.target]\n", 1)
	applyOK(t, c, moved)
	for _, u := range []string{"worker@1.service", "worker@2.service"} {
		if got := show(t, c, u, "WantedBy"); got != "graphical.target" {
			t.Errorf("after the move: %s WantedBy=%q, want graphical.target", u, got)
		}
		if code, _ := exitCode(t, c, "test", "-L", "/etc/systemd/system/multi-user.target.wants/"+u); code == 0 {
			t.Errorf("the old link of %s is still there", u)
		}
	}
	if w := wantsOf(t, c, "multi-user.target"); slices.Contains(w, "worker@1.service") {
		t.Errorf("after the move: multi-user.target still Wants=%q", w)
	}
	if n := recap(t, applyOK(t, c, moved)); n[1] != 0 {
		t.Errorf("apply again: recap %v, want 0 changed", n)
	}
}
