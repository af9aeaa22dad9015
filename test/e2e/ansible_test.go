//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

// playbook is the shipped Ansible example.
const playbook = "examples/ansible/provision.yml"

// recapLineRE matches a host's line of ansible-playbook's PLAY RECAP.
var recapLineRE = regexp.MustCompile(`(?m)^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// ansibleRecap is one host's counts in the PLAY RECAP.
type ansibleRecap struct{ ok, changed, unreachable, failed int }

// runPlaybook runs the shipped playbook with Debian's ansible-playbook
// against the containers, all at once, through the connection plugin of
// testdata/ansible (nsenter into each container), with the binary under
// test and the reference spec, and returns each host's recap by name.
func runPlaybook(t *testing.T, cs []*nspawn.Container, extra ...string) (map[string]ansibleRecap, string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var inv strings.Builder
	inv.WriteString("[fleet]\n")
	for i, c := range cs {
		fmt.Fprintf(&inv, "host%d ansible_nsenter_pid=%d\n", i, c.InitPID())
	}
	inv.WriteString("\n[fleet:vars]\nansible_connection=nsenter\nansible_python_interpreter=/usr/bin/python3\n")
	invPath := filepath.Join(dir, "inventory.ini")
	if err := os.WriteFile(invPath, []byte(inv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	plugins, err := filepath.Abs("testdata/ansible/connection_plugins")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-i", invPath, filepath.Join(root, playbook), "-e", "provision_binary=" + provisionBin}, extra...)
	cmd := exec.CommandContext(t.Context(), "ansible-playbook", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ANSIBLE_CONNECTION_PLUGINS="+plugins,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "tmp"),
		"ANSIBLE_PIPELINING=true",
		"ANSIBLE_NOCOLOR=true",
		"ANSIBLE_RETRY_FILES_ENABLED=false",
		"ANSIBLE_FORKS=5",
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("ansible-playbook %s: %v in %v\n%s", strings.Join(extra, " "), err, time.Since(start).Round(time.Millisecond), out)
	recaps := map[string]ansibleRecap{}
	for _, m := range recapLineRE.FindAllStringSubmatch(string(out), -1) {
		n := make([]int, 4)
		for i := range n {
			n[i], _ = strconv.Atoi(m[i+2])
		}
		recaps[m[1]] = ansibleRecap{n[0], n[1], n[2], n[3]}
	}
	if len(recaps) != len(cs) {
		t.Fatalf("ansible-playbook: %v; PLAY RECAP has %d hosts, want %d", err, len(recaps), len(cs))
	}
	return recaps, string(out)
}

// TestAnsibleFleet runs examples/ansible with real ansible-playbook
// against three booted containers at once: --check on fresh hosts changes
// nothing; the first run converges all three (provision apply's JSON says
// changed); the second reports no change anywhere; after a hand change on
// one host, --check (provision plan) reports it there only, and changes
// nothing.
func TestAnsibleFleet(t *testing.T) {
	t.Parallel()
	requireProvision(t)
	requireHostPackages(t, map[string]string{"/usr/bin/ansible-playbook": "ansible-core"})
	cs := bootN(t, 3)
	host := func(i int) string { return fmt.Sprintf("host%d", i) }

	recaps, out := runPlaybook(t, cs, "--check")
	for i, c := range cs {
		if r := recaps[host(i)]; r.failed != 0 || r.unreachable != 0 {
			t.Errorf("--check on fresh %s: %+v", host(i), r)
		}
		if code, _ := exitCode(t, c, "test", "-e", "/usr/local/sbin/provision"); code == 0 {
			t.Errorf("--check installed provision on %s", host(i))
		}
		if code, _ := exitCode(t, c, "id", "deploy"); code == 0 {
			t.Errorf("--check created the deploy user on %s", host(i))
		}
	}

	recaps, out = runPlaybook(t, cs)
	for i, c := range cs {
		if r := recaps[host(i)]; r.failed != 0 || r.unreachable != 0 || r.changed != 3 {
			t.Errorf("first run on %s: %+v, want 3 changed (binary, spec, apply), 0 failed", host(i), r)
		}
		if code, vout := exitCode(t, c, "provision", "verify"); code != 0 {
			t.Errorf("%s is not converged after the first run: verify exit %d\n%s", host(i), code, vout)
		}
		if got := show(t, c, "sidekiq", "UnitFileState"); got != "enabled" {
			t.Errorf("sidekiq on %s is %s, want enabled", host(i), got)
		}
	}
	if !strings.Contains(out, `"user deploy"`) {
		t.Errorf("the first run does not show the changed steps")
	}

	recaps, _ = runPlaybook(t, cs)
	for i := range cs {
		if r := recaps[host(i)]; r.failed != 0 || r.unreachable != 0 || r.changed != 0 {
			t.Errorf("second run on %s: %+v, want 0 changed", host(i), r)
		}
	}

	execOK(t, cs[1], "chmod", "0644", app+"/shared/.env")
	recaps, out = runPlaybook(t, cs, "--check")
	for i := range cs {
		want := 0
		if i == 1 {
			want = 1
		}
		if r := recaps[host(i)]; r.failed != 0 || r.changed != want {
			t.Errorf("--check after a hand change on host1: %s %+v, want %d changed", host(i), r, want)
		}
	}
	if !strings.Contains(out, "file "+app+"/shared/.env") {
		t.Errorf("--check does not name the drifted step")
	}
	if got := execOK(t, cs[1], "stat", "-c", "%a", app+"/shared/.env"); got != "644\n" {
		t.Errorf("--check changed the .env's mode to %s", got)
	}
}
