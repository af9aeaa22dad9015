package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// warnSpec draws one warning of each kind: two from the spec alone, and a
// program no host has.
const warnSpec = `services:
  - name: sidekiq
    after: [syslog.target]
    exec_start: /nonexistent/bin/sidekiq -e production
`

// validate prints the spec's warnings on stderr and still says valid on
// stdout, exit 0; it does not look at the host.
func TestValidateWarnings(t *testing.T) {
	code, out, errOut := runCmd(t, warnSpec, "validate", "-f", "-")
	if code != exitOK || out != "<stdin>: valid\n" {
		t.Fatalf("validate = %d %q %q", code, out, errOut)
	}
	want := "<stdin>:2:5: warning: services[0].type: Sidekiq runs with Type=simple (type is not set): systemctl restart returns before Sidekiq handles signals, so a TSTP (quiet) sent right after a restart can be lost; use type: notify with a WatchdogSec= option (Sidekiq 6 and later support sd_notify), so that a restart waits until Sidekiq is ready\n" +
		"<stdin>:3:13: warning: services[0].after[0]: syslog.target is obsolete: syslog is socket-activated (syslog.socket), so After=syslog.target does nothing; remove it\n"
	if errOut != want {
		t.Errorf("validate stderr:\n%s\nwant:\n%s", errOut, want)
	}

	// The reference spec draws the same two, and its .env in a directory
	// deploy can write; stdout stays exact.
	code, out, errOut = runCmd(t, "", "validate", "-f", example)
	if code != exitOK || out != example+": valid\n" || strings.Count(errOut, ": warning: ") != 3 ||
		!strings.Contains(errOut, ": warning: services[0].type: ") || !strings.Contains(errOut, ": warning: services[0].after[0]: ") ||
		!strings.Contains(errOut, ": warning: services[0].environment_file: ") {
		t.Errorf("validate example = %d %q\n%s", code, out, errOut)
	}
}

// plan adds the programs missing under --root, in position order on
// stderr, or in the JSON document's warnings (and then not on stderr).
func TestPlanWarnings(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	code, out, errOut := runCmd(t, warnSpec, "plan", "-f", "-", "--root", root)
	if code != exitOK {
		t.Fatalf("plan = %d\n%s%s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
	prefixes := []string{
		"<stdin>:2:5: warning: services[0].type: ",
		"<stdin>:3:13: warning: services[0].after[0]: ",
		"<stdin>:4:17: warning: services[0].exec_start: ExecStart= runs /nonexistent/bin/sidekiq, which does not exist under " + root + "; systemd cannot start sidekiq.service until it is there",
	}
	if len(lines) != len(prefixes) {
		t.Fatalf("plan stderr:\n%s", errOut)
	}
	for i, p := range prefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("stderr line %d: %q, want prefix %q", i, lines[i], p)
		}
	}
	if strings.Contains(out, "warning") {
		t.Errorf("warnings on stdout:\n%s", out)
	}

	code, out, errOut = runCmd(t, warnSpec, "plan", "-f", "-", "--root", root, "--output", "json")
	var doc jsonRun
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != exitOK {
		t.Fatalf("plan --output json = %d, %v\n%s%s", code, err, out, errOut)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("JSON plan also printed warnings on stderr:\n%s", errOut)
	}
	if len(doc.Warnings) != 3 {
		t.Fatalf("warnings: %+v", doc.Warnings)
	}
	w := doc.Warnings[2]
	if w.File != "<stdin>" || w.Line != 4 || w.Col != 17 || w.Path != "services[0].exec_start" || !strings.HasPrefix(w.Message, "ExecStart= runs /nonexistent/bin/sidekiq, which does not exist") {
		t.Errorf("exec_start warning: %+v", w)
	}

	// Without warnings the array is there, and empty.
	code, out, _ = runCmd(t, "users: [{name: app}]\n", "plan", "-f", "-", "--root", root, "--output", "json")
	if code != exitOK || !strings.Contains(out, `"warnings": []`) {
		t.Errorf("plan without warnings = %d\n%s", code, out)
	}
}

// render prints files only.
func TestRenderNoWarnings(t *testing.T) {
	code, _, errOut := runCmd(t, warnSpec, "render", "-f", "-")
	if code != exitOK || errOut != "" {
		t.Errorf("render = %d, stderr %q", code, errOut)
	}
}
