package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const example = "../../examples/sidekiq/provision.yaml"

func runCmd(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{[]string{"--version"}, exitOK, "provision dev"},
		{[]string{"--help"}, exitOK, "Commands:"},
		{[]string{"apply", "-h"}, exitOK, "-root dir"},
		{[]string{"plan", "--help"}, exitOK, "Changes nothing"},
		{[]string{"validate", "-h"}, exitOK, "FILE:LINE:COL"},
		{[]string{}, exitInvalid, "Usage:"},
		{[]string{"aply"}, exitInvalid, `unknown command "aply"`},
		{[]string{"apply", "--bogus"}, exitInvalid, "flag provided but not defined"},
		{[]string{"validate", "-f", example, "extra"}, exitInvalid, `unexpected argument "extra"`},
		{[]string{"validate", "-f", "/nonexistent.yaml"}, exitInvalid, "no such file"},
	} {
		code, out, errOut := runCmd(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("provision %q = %d, %q %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

func TestValidateExample(t *testing.T) {
	code, out, errOut := runCmd(t, "", "validate", "-f", example)
	if code != exitOK || out != example+": valid\n" {
		t.Fatalf("validate = %d %q %q", code, out, errOut)
	}
}

// An invalid spec from standard input: every error, positioned, exit 2.
func TestValidateReportsAllErrors(t *testing.T) {
	spec := `users:
  - name: Deploy
    shel: /bin/bash
services:
  - name: sidekiq
    exec_start: /bin/true
    restart: sometimes
`
	code, out, errOut := runCmd(t, spec, "validate", "-f", "-")
	if code != exitInvalid || out != "" {
		t.Fatalf("validate = %d %q", code, out)
	}
	for _, want := range []string{"<stdin>:2:11: users[0].name:", "<stdin>:3:5: users[0].shel:", "<stdin>:7:14: services[0].restart:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("errors %q lack %q", errOut, want)
		}
	}
}

func TestRenderExample(t *testing.T) {
	code, out, _ := runCmd(t, "", "render", "-f", example)
	if code != exitOK {
		t.Fatalf("render = %d", code)
	}
	for _, want := range []string{
		"# /etc/systemd/system/sidekiq.service\n",
		"ExecStart=/usr/local/rbenv/bin/rbenv exec bundle exec sidekiq -e production\n",
		"# /etc/sudoers.d/sidekiq-users\n",
		"%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq\n%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
}

// apply --root converges a tree with the real shadow-utils, which need
// root; plan before it changes nothing and a second apply changes nothing.
func TestApplyRootTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("useradd --root needs root")
	}
	root := t.TempDir()
	for _, d := range []string{"etc/sudoers.d", "etc/systemd/system", "home"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow", "login.defs"} {
		data, err := os.ReadFile(filepath.Join("/etc", f))
		if err != nil {
			t.Skipf("host has no /etc/%s", f)
		}
		os.WriteFile(filepath.Join(root, "etc", f), data, 0o644)
	}
	code, out, errOut := runCmd(t, "", "plan", "-f", example, "--root", root)
	if code != exitOK || !strings.Contains(out, "plan: 9 to change") {
		t.Fatalf("plan = %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) {
		t.Fatalf("plan created /data: %v", err)
	}
	code, out, errOut = runCmd(t, "", "verify", "-f", example, "--root", root)
	if code != exitDrift || !strings.Contains(out, "drift    user deploy\n") || !strings.Contains(out, "verify: 9 drifted, 2 ok") {
		t.Fatalf("verify before apply = %d, want %d\n%s%s", code, exitDrift, out, errOut)
	}
	code, out, errOut = runCmd(t, "", "apply", "-f", example, "--root", root)
	if code != exitOK || !strings.Contains(out, "9 changed, 0 failed") {
		t.Fatalf("apply = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "", "apply", "-f", example, "--root", root)
	if code != exitOK || !strings.Contains(out, "apply: 11 ok, 0 changed") {
		t.Fatalf("second apply = %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, "", "verify", "-f", example, "--root", root); code != exitOK || !strings.Contains(out, "verify: 0 drifted, 11 ok") {
		t.Errorf("verify after apply = %d\n%s", code, out)
	}
	os.Chmod(filepath.Join(root, "data/apps/outmuscleme/shared/.env"), 0o644)
	if code, out, _ := runCmd(t, "", "verify", "-f", example, "--root", root); code != exitDrift || !strings.Contains(out, "mode 0644 -> 0600") {
		t.Errorf("verify after chmod = %d, want %d\n%s", code, exitDrift, out)
	}
	if dest, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/sidekiq.service")); err != nil || dest != "/etc/systemd/system/sidekiq.service" {
		t.Errorf("sidekiq not enabled in the tree: %q %v", dest, err)
	}
	fi, err := os.Stat(filepath.Join(root, "etc/sudoers.d/sidekiq-users"))
	if err != nil || fi.Mode().Perm() != 0o440 {
		t.Errorf("sudoers drop-in: %v %v", fi, err)
	}
}

// --output json: a plan's document decodes into the documented shape, and
// an invalid spec's errors come out positioned.
func TestJSONOutput(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	code, out, errOut := runCmd(t, "", "plan", "-f", example, "--root", root, "--output", "json")
	if code != exitOK {
		t.Fatalf("plan = %d\n%s", code, errOut)
	}
	var doc jsonRun
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan output is not JSON: %v\n%s", err, out)
	}
	if doc.Command != "plan" || doc.ExitCode != exitOK || len(doc.Steps) != 11 || doc.Summary.WouldChange+doc.Summary.OK != 11 || doc.Summary.Changed != 0 {
		t.Errorf("plan document: %+v", doc)
	}
	var user *jsonStep
	for i := range doc.Steps {
		if doc.Steps[i].ID == "user deploy" {
			user = &doc.Steps[i]
		}
	}
	if user == nil || user.Status != "would_change" || len(user.Changes) != 1 || user.Changes[0].Summary != "create user and its group deploy, home /home/deploy, shell /bin/bash" {
		t.Errorf("user step: %+v", user)
	}
	for _, s := range doc.Steps {
		if s.ID == "unit /etc/systemd/system/sidekiq.service" && !strings.Contains(s.Changes[0].Diff, "+ExecStart=") {
			t.Errorf("unit step carries no diff: %+v", s)
		}
	}

	code, out, _ = runCmd(t, "users: [{name: Bad}]\n", "apply", "-f", "-", "--output", "json")
	var errs jsonSpecErrors
	if err := json.Unmarshal([]byte(out), &errs); err != nil || code != exitInvalid {
		t.Fatalf("invalid spec = %d, %v\n%s", code, err, out)
	}
	if len(errs.Errors) != 1 || errs.Errors[0].Line != 1 || errs.Errors[0].Path != "users[0].name" || errs.ExitCode != exitInvalid {
		t.Errorf("spec errors: %+v", errs)
	}

	if code, _, errOut := runCmd(t, "", "plan", "-f", example, "--output", "yaml"); code != exitInvalid || !strings.Contains(errOut, "text or json") {
		t.Errorf("--output yaml = %d %q", code, errOut)
	}
}
