package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/provision-dev/provision/steps"
)

// The textfile of a run with drift, exactly: every gauge with its HELP and
// TYPE, and a drifted step whose ID holds the characters the text format
// escapes in a label value.
func TestTextfileRender(t *testing.T) {
	tf := &textfile{results: []steps.Result{
		{ID: "user deploy", Status: steps.StatusOK},
		{ID: `file /srv/a "quoted" \ back` + "\nslash", Status: steps.StatusChanged},
		{ID: "service sidekiq", Status: steps.StatusChanged},
		{ID: "sudoers /etc/sudoers.d/x", Status: steps.StatusSkipped},
	}}
	got := string(tf.render(exitDrift, 1500*time.Millisecond, time.UnixMilli(1764590400123)))
	want := `# HELP provision_verify_success 1 when the last provision verify checked every step (exit 0 or 3), 0 when it could not: invalid spec, host unreachable, a step failed.
# TYPE provision_verify_success gauge
provision_verify_success 1
# HELP provision_verify_exit_code Exit code of the last provision verify: 0 matches the spec, 1 failed, 2 invalid spec, 3 drift.
# TYPE provision_verify_exit_code gauge
provision_verify_exit_code 3
# HELP provision_verify_steps Steps of the spec the last provision verify checked.
# TYPE provision_verify_steps gauge
provision_verify_steps 4
# HELP provision_verify_drifted_steps Steps where the host differs from the spec.
# TYPE provision_verify_drifted_steps gauge
provision_verify_drifted_steps 2
# HELP provision_verify_failed_steps Steps that could not be checked.
# TYPE provision_verify_failed_steps gauge
provision_verify_failed_steps 0
# HELP provision_verify_step_drifted One series per step where the host differs from the spec, labelled with the step.
# TYPE provision_verify_step_drifted gauge
provision_verify_step_drifted{step="file /srv/a \"quoted\" \\ back\nslash"} 1
provision_verify_step_drifted{step="service sidekiq"} 1
# HELP provision_verify_duration_seconds How long the last provision verify took.
# TYPE provision_verify_duration_seconds gauge
provision_verify_duration_seconds 1.5
# HELP provision_verify_timestamp_seconds When the last provision verify ended, in seconds since the Unix epoch.
# TYPE provision_verify_timestamp_seconds gauge
provision_verify_timestamp_seconds 1764590400.123
# HELP provision_build_info The version of provision that wrote this file.
# TYPE provision_build_info gauge
provision_build_info{version="dev"} 1
`
	if got != want {
		t.Errorf("textfile:\n%s\nwant:\n%s", got, want)
	}
}

// A run that never checked the host says so and has no step gauges.
func TestTextfileRenderNotChecked(t *testing.T) {
	got := string((&textfile{}).render(exitInvalid, time.Millisecond, time.Unix(0, 0)))
	for _, want := range []string{"provision_verify_success 0\n", "provision_verify_exit_code 2\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("textfile lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "provision_verify_drifted_steps") || strings.Contains(got, "provision_verify_steps") {
		t.Errorf("textfile of a run that checked nothing has step gauges:\n%s", got)
	}
}

// verify --textfile on a tree: the file says what the run printed, with 0
// drift once the tree is converged, and is replaced on each run; it is
// written (success 0) when the spec is invalid too, and a file that cannot
// be written fails the run.
func TestVerifyTextfile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("apply --root runs useradd --root, which needs root")
	}
	root := t.TempDir()
	for _, d := range []string{"etc", "etc/sudoers.d", "etc/systemd/system"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		data, _ := os.ReadFile(filepath.Join("/etc", f))
		os.WriteFile(filepath.Join(root, "etc", f), data, 0o644)
	}
	dir := t.TempDir()
	prom := filepath.Join(dir, "provision.prom")
	read := func() string {
		t.Helper()
		data, err := os.ReadFile(prom)
		if err != nil {
			t.Fatal(err)
		}
		if fi, _ := os.Stat(prom); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", prom, fi.Mode().Perm())
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("%s holds %d files, want only provision.prom (no temporary file left)", dir, len(entries))
		}
		return string(data)
	}

	code, out, errOut := runCmd(t, "", "verify", "-f", example, "--root", root, "--textfile", prom)
	if code != exitDrift {
		t.Fatalf("verify on a fresh tree = %d, want %d\n%s%s", code, exitDrift, out, errOut)
	}
	drifted := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "drift ") {
			drifted++
		}
	}
	got := read()
	for _, want := range []string{
		"provision_verify_success 1\n",
		"provision_verify_exit_code 3\n",
		fmt.Sprintf("provision_verify_drifted_steps %d\n", drifted),
		`provision_verify_step_drifted{step="user deploy"} 1` + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("textfile after drift lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "provision_verify_step_drifted{"); drifted == 0 || n != drifted {
		t.Errorf("%d drifted step series, but verify printed %d:\n%s", n, drifted, out)
	}

	if code, _, errOut := runCmd(t, "", "apply", "-f", example, "--root", root); code != exitOK {
		t.Fatalf("apply --root = %d\n%s", code, errOut)
	}
	if code, _, errOut := runCmd(t, "", "verify", "-f", example, "--root", root, "--textfile", prom); code != exitOK {
		t.Fatalf("verify on a converged tree = %d\n%s", code, errOut)
	}
	if got := read(); !strings.Contains(got, "provision_verify_drifted_steps 0\n") || strings.Contains(got, "provision_verify_step_drifted") {
		t.Errorf("textfile of a converged tree:\n%s", got)
	}

	code, _, _ = runCmd(t, "users: [{name: Bad}]\n", "verify", "-f", "-", "--root", root, "--textfile", prom)
	if got := read(); code != exitInvalid || !strings.Contains(got, "provision_verify_success 0\n") || !strings.Contains(got, "provision_verify_exit_code 2\n") {
		t.Errorf("invalid spec: exit %d, textfile:\n%s", code, got)
	}

	missing := filepath.Join(dir, "no-such-dir", "provision.prom")
	code, _, errOut = runCmd(t, "", "verify", "-f", example, "--root", root, "--textfile", missing)
	if _, err := os.Stat(missing); code != exitFailed || !strings.Contains(errOut, "--textfile") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("textfile in a missing directory: exit %d, %q", code, errOut)
	}
}

// Only verify takes --textfile.
func TestTextfileOnlyVerify(t *testing.T) {
	for _, cmd := range []string{"apply", "plan", "validate", "render"} {
		if code, _, errOut := runCmd(t, "", cmd, "-f", example, "--textfile", "/dev/null"); code != exitInvalid || !strings.Contains(errOut, "flag provided but not defined") {
			t.Errorf("%s --textfile = %d %q, want a usage error", cmd, code, errOut)
		}
	}
}
