//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

// promFile is where provision-verify.service writes: the directory of
// Debian's prometheus-node-exporter textfile collector.
const promFile = "/var/lib/prometheus/node-exporter/provision.prom"

// requirePromParser installs Debian's python3-prometheus-client on the
// host when it is missing, for parsePromFile.
func requirePromParser(t *testing.T) {
	t.Helper()
	requireHostPackages(t, map[string]string{"/usr/lib/python3/dist-packages/prometheus_client": "python3-prometheus-client"})
}

// parsePromFile parses the file at path in c with the Prometheus text
// parser of python3-prometheus-client (testdata/promparse), and returns
// its samples by "name{label=value,...}" ("name" without labels).
func parsePromFile(t *testing.T, c *nspawn.Container, path string) map[string]float64 {
	t.Helper()
	if err := c.CopyIn("testdata/promparse", "/usr/local/bin/promparse", 0o755); err != nil {
		t.Fatal(err)
	}
	out := execOK(t, c, "promparse", path)
	var samples map[string]float64
	if err := json.Unmarshal([]byte(out), &samples); err != nil {
		t.Fatalf("promparse: %v\n%s", err, out)
	}
	return samples
}

// checkSamples fails t for each sample of want that samples lacks or has
// with another value.
func checkSamples(t *testing.T, samples map[string]float64, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		if got, ok := samples[k]; !ok || got != v {
			t.Errorf("%s = %v (present: %v), want %v", k, got, ok, v)
		}
	}
}

// quotedFile is a file whose step ID holds the characters a label value
// escapes: a double quote and a backslash.
const quotedFile = `/etc/provision "quoted" \ drift`

// TestVerifyTextfile: verify --textfile writes node_exporter's format,
// which the Prometheus text parser reads: no drift on a converged host,
// one series per drifted step after hand changes (the step IDs escaped),
// success, exit code, duration and timestamp.
func TestVerifyTextfile(t *testing.T) {
	t.Parallel()
	requirePromParser(t)
	c := bootForSidekiq(t)
	spec := exampleSpec(t, "\nservices:\n", "\n"+fmt.Sprintf("  - path: %s\n    content: \"as the spec says\\n\"\n", strconv.Quote(quotedFile))+"\nservices:\n")
	applyOK(t, c, spec)
	execOK(t, c, "mkdir", "-p", "/var/lib/prometheus/node-exporter")

	verify := func(want int) map[string]float64 {
		t.Helper()
		before := time.Now()
		code, out := exitCode(t, c, "provision", "verify", "--textfile", promFile)
		if code != want {
			t.Fatalf("verify --textfile: exit %d, want %d\n%s", code, want, out)
		}
		samples := parsePromFile(t, c, promFile)
		if ts := samples["provision_verify_timestamp_seconds"]; ts < float64(before.Unix()-1) || ts > float64(time.Now().Unix()+1) {
			t.Errorf("timestamp %v, want the time of the run (%d)", ts, before.Unix())
		}
		if d := samples["provision_verify_duration_seconds"]; d <= 0 || d > 60 {
			t.Errorf("duration %v s", d)
		}
		if got := execOK(t, c, "stat", "-c", "%a %U", promFile); got != "644 root\n" {
			t.Errorf("%s is %q, want 644 root", promFile, got)
		}
		if got := execOK(t, c, "ls", "-A", "/var/lib/prometheus/node-exporter"); got != "provision.prom\n" {
			t.Errorf("the collector's directory holds %q, want only provision.prom", got)
		}
		return samples
	}

	samples := verify(0)
	checkSamples(t, samples, map[string]float64{
		"provision_verify_success":                          1,
		"provision_verify_exit_code":                        0,
		"provision_verify_drifted_steps":                    0,
		"provision_verify_failed_steps":                     0,
		"provision_verify_steps":                            12,
		"provision_build_info{version=" + testVersion + "}": 1,
	})
	for k := range samples {
		if strings.HasPrefix(k, "provision_verify_step_drifted") {
			t.Errorf("a converged host has %s", k)
		}
	}

	// By hand: the .env readable by all, deploy's shell, the quoted file.
	execOK(t, c, "chmod", "0644", app+"/shared/.env")
	execOK(t, c, "usermod", "-s", "/bin/sh", "deploy")
	writeFile(t, c, quotedFile, "changed by hand\n", 0o644)
	samples = verify(3)
	checkSamples(t, samples, map[string]float64{
		"provision_verify_success":                                         1,
		"provision_verify_exit_code":                                       3,
		"provision_verify_drifted_steps":                                   3,
		"provision_verify_step_drifted{step=user deploy}":                  1,
		"provision_verify_step_drifted{step=file " + app + "/shared/.env}": 1,
		"provision_verify_step_drifted{step=file " + quotedFile + "}":      1,
	})
	n := 0
	for k := range samples {
		if strings.HasPrefix(k, "provision_verify_step_drifted{") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d drifted step series, want 3:\n%v", n, samples)
	}

	// A spec that does not load: success 0, and no step gauges.
	writeFile(t, c, "/etc/provision.yaml", "users: [{name: Bad}]\n", 0o600)
	if code, out := exitCode(t, c, "provision", "verify", "--textfile", promFile); code != 2 {
		t.Errorf("verify of an invalid spec: exit %d, want 2\n%s", code, out)
	}
	samples = parsePromFile(t, c, promFile)
	checkSamples(t, samples, map[string]float64{"provision_verify_success": 0, "provision_verify_exit_code": 2})
	if _, ok := samples["provision_verify_drifted_steps"]; ok {
		t.Errorf("verify of an invalid spec reports drifted steps")
	}
}
