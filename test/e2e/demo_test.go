//go:build e2e

package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo runs the program of `make demo` (internal/nspawn/demo) as make
// does, on examples/demo: it checks every step of the scenario itself and
// exits non-zero when one fails. The test also reads its output for the
// lines the README shows.
func TestDemo(t *testing.T) {
	t.Parallel()
	requireProvision(t)
	requireHostPackages(t, map[string]string{"/usr/bin/redis-server": "redis-server", "/usr/bin/sidekiq": "ruby-sidekiq"})
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	demo := filepath.Join(t.TempDir(), "demo")
	build := exec.Command(goTool(), "build", "-o", demo, "./internal/nspawn/demo")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the demo: %v\n%s", err, out)
	}

	start := time.Now()
	cmd := exec.CommandContext(t.Context(), demo, "-bin", provisionBin, "-dir", filepath.Join(root, "examples/demo"))
	// Should this test binary die, the demo tears its container down.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 40 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("demo: %v in %v\n%s", err, time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("the demo failed: %v", err)
	}
	for _, want := range []string{
		"change   service sidekiq\n         start (inactive -> active)",
		`HelloJob "before the deploy" done by pid`,
		"deploy$ sudo -n systemctl kill -s TSTP sidekiq\njournal: ",
		"Received TSTP, no longer accepting new work",
		"deploy$ sudo -n systemctl restart sidekiq\n",
		`HelloJob "after the deploy" done by pid`,
		"deploy$ sudo -n systemctl stop sidekiq\nsudo: a password is required\n(exit status 1)",
		"apply: 7 ok, 0 changed, 0 failed, 0 skipped",
		"tore the container down",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the demo's output lacks %q", want)
		}
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the demo took %v, want under a minute", d)
	}
}
