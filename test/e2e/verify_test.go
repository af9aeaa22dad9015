//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// runDoc is the part of --output json's document these tests read.
type runDoc struct {
	Command string `json:"command"`
	Steps   []struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Changes []struct {
			Summary string `json:"summary"`
			Diff    string `json:"diff"`
		} `json:"changes"`
		Error string `json:"error"`
	} `json:"steps"`
	Summary  map[string]int `json:"summary"`
	ExitCode int            `json:"exit_code"`
	Warnings []any          `json:"warnings"`
}

func decodeRun(t *testing.T, out string) runDoc {
	t.Helper()
	var doc runDoc
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not a JSON document: %v\n%s", err, out)
	}
	return doc
}

// TestVerifyAndJSON: verify exits 0 on a converged host and 3 listing the
// drift on a drifted one, changing nothing; apply, plan and verify speak
// JSON with --output json.
func TestVerifyAndJSON(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	spec := exampleSpec(t)
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)

	code, out := exitCode(t, c, "provision", "plan", "--output", "json")
	plan := decodeRun(t, out)
	if code != 0 || plan.Command != "plan" || plan.Summary["would_change"] != 10 || plan.Summary["ok"] != 1 || plan.Summary["changed"] != 0 {
		t.Errorf("plan --output json: exit %d, %+v", code, plan)
	}

	code, out = exitCode(t, c, "provision", "apply", "--output", "json")
	apply := decodeRun(t, out)
	if code != 0 || apply.ExitCode != 0 || apply.Summary["changed"] != 10 || len(apply.Steps) != 11 {
		t.Errorf("apply --output json: exit %d, %+v", code, apply)
	}
	for _, s := range apply.Steps {
		if s.ID == "unit /etc/systemd/system/sidekiq.service" && (s.Status != "changed" || !strings.Contains(s.Changes[0].Diff, "+ExecStart=/usr/local/bin/fake-sidekiq")) {
			t.Errorf("unit step: %+v", s)
		}
	}

	if code, out := exitCode(t, c, "provision", "verify"); code != 0 || !strings.Contains(out, "verify: 0 drifted, 11 ok") {
		t.Errorf("verify on a converged host: exit %d\n%s", code, out)
	}

	execOK(t, c, "chmod", "0644", app+"/shared/.env")
	execOK(t, c, "usermod", "-s", "/bin/sh", "deploy")
	before := stamps(t, c, managed...)
	code, out = exitCode(t, c, "provision", "verify")
	if code != 3 || !strings.Contains(out, "drift    user deploy") || !strings.Contains(out, "shell /bin/sh -> /bin/bash") ||
		!strings.Contains(out, "mode 0644 -> 0600") || !strings.Contains(out, "verify: 2 drifted, 9 ok") {
		t.Errorf("verify on a drifted host: exit %d, want 3\n%s", code, out)
	}
	if after := stamps(t, c, managed...); after != before {
		t.Errorf("verify changed files:\n%s\n%s", before, after)
	}
	if got := execOK(t, c, "getent", "passwd", "deploy"); !strings.HasSuffix(strings.TrimSpace(got), ":/bin/sh") {
		t.Errorf("verify changed the shell: %s", got)
	}

	code, out = exitCode(t, c, "provision", "verify", "--output", "json")
	verify := decodeRun(t, out)
	if code != 3 || verify.ExitCode != 3 || verify.Summary["would_change"] != 2 {
		t.Errorf("verify --output json: exit %d, %+v", code, verify)
	}
}
