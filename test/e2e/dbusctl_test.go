//go:build e2e

package e2e

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDbusctlOnRealSystemd runs dbusctl's own tests against systemd
// (dbusctl/systemd_manual_test.go, build tag systemd) inside a booted
// container, where systemd is PID 1 and the test binary root: every one
// of them must run and pass, none may skip.
func TestDbusctlOnRealSystemd(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "dbusctl.test")
	build := exec.Command(goTool(), "test", "-c", "-tags", "systemd", "-o", bin, "./dbusctl")
	build.Dir = root
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build dbusctl's tests: %v\n%s", err, out)
	}
	c := boot(t)
	if err := c.CopyIn(bin, "/usr/local/bin/dbusctl.test", 0o755); err != nil {
		t.Fatal(err)
	}
	code, out := exitCode(t, c, "/usr/local/bin/dbusctl.test", "-test.v", "-test.count=1", "-test.run", "^TestSystemd")
	t.Logf("dbusctl.test: exit %d\n%s", code, out)
	if code != 0 {
		t.Fatalf("dbusctl's systemd tests failed (exit %d)", code)
	}
	if strings.Contains(out, "--- SKIP") {
		t.Errorf("some of dbusctl's systemd tests skipped")
	}
	passed := regexp.MustCompile(`(?m)^--- PASS: (TestSystemd\w+)`).FindAllStringSubmatch(out, -1)
	if len(passed) < 8 {
		t.Errorf("%d of dbusctl's systemd tests passed, want at least 8", len(passed))
	}
}
