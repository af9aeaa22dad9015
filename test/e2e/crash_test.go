//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

const (
	unitPath    = "/etc/systemd/system/sidekiq.service"
	sudoersPath = "/etc/sudoers.d/sidekiq-users"
	envPath     = app + "/shared/.env"
)

// crashFile is a file the example manages, with the owner and mode it
// must have whenever it exists.
type crashFile struct {
	path string
	meta string // stat -c '%a %U:%G %F'
}

var crashFiles = []crashFile{
	{unitPath, "644 root:root regular file"},
	{sudoersPath, "440 root:root regular file"},
	{envPath, "600 deploy:deploy regular empty file"},
}

// crashConcurrency is how many containers TestCrashPoints runs at once.
const crashConcurrency = 4

var crashLineRE = regexp.MustCompile(`(?m)^provision: crash point (\d+): (.*)$`)

// tempNameRE matches the random part of writeFileAtomic's temporary file
// names, which differs from run to run.
var tempNameRE = regexp.MustCompile(`\.provision-[0-9a-f]{12}\b`)

// TestCrashPoints kills provision (SIGKILL) at every crash point of a
// first apply of the example, each in a fresh container, and shows that
// every state it can leave is safe and repaired by the next run: each
// managed file is absent or complete with its owner and mode, sudo reads
// no temporary file and visudo -c passes, the next apply succeeds and
// removes the temporary files the killed run left, and the one after it
// changes nothing.
func TestCrashPoints(t *testing.T) {
	t.Parallel()
	requireProvision(t)
	spec := exampleSpec(t)

	// The points of a first converge, and what a complete run writes.
	c := bootForSidekiq(t)
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	stdout, stderr, ws := provisionEnv(t, c, []string{"PROVISION_CRASH_LIST=1"}, "apply")
	if !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("apply with PROVISION_CRASH_LIST: %v\n%s\n%s", ws, stdout, stderr)
	}
	var names []string
	for i, m := range crashLineRE.FindAllStringSubmatch(stderr, -1) {
		if m[1] != strconv.Itoa(i+1) {
			t.Fatalf("crash point %s listed as number %d", m[1], i+1)
		}
		names = append(names, tempNameRE.ReplaceAllString(m[2], ".provision-*"))
	}
	if len(names) < 20 {
		t.Fatalf("a first apply passes %d crash points, want at least 20:\n%s", len(names), stderr)
	}
	want := map[string]string{}
	rendered := execOK(t, c, "provision", "render")
	for _, f := range []string{unitPath, sudoersPath} {
		want[f] = execOK(t, c, "cat", f)
		if !strings.Contains(rendered, "# "+f+"\n"+want[f]+"\n") {
			t.Fatalf("%s is not what provision render prints:\n%s\nrender:\n%s", f, want[f], rendered)
		}
	}
	want[envPath] = ""
	teardown(t, c)

	type row struct {
		name, result string
		leftovers    int
	}
	rows := make([]row, len(names))
	sem := make(chan struct{}, crashConcurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i, name := range names {
		n := i + 1
		rows[i] = row{name: name, result: "FAIL"}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(fmt.Sprintf("point-%02d", n), func(t *testing.T) {
				c := bootForSidekiq(t)
				r := &rows[n-1]
				r.result, r.leftovers = crashAt(t, c, spec, n, name, want)
			})
		})
	}
	wg.Wait()

	var table strings.Builder
	fmt.Fprintf(&table, "%d crash points in a first apply, each killed in its own container (%d at a time) in %v:\n",
		len(names), crashConcurrency, time.Since(start).Round(time.Second))
	withLeftovers := 0
	for i, r := range rows {
		fmt.Fprintf(&table, "%3d  %-92s  %s\n", i+1, r.name, r.result)
		if r.leftovers > 0 {
			withLeftovers++
		}
	}
	t.Log(table.String())
	if withLeftovers == 0 {
		t.Errorf("no crash point left a temporary file behind: the clean-up by the next run went untested")
	}
}

// crashAt applies spec in the fresh container c, killed at crash point n
// (named name), checks what the kill left and that two more applies repair
// and then keep it. It returns a summary for the table and how many
// temporary files the kill left.
func crashAt(t *testing.T, c *nspawn.Container, spec string, n int, name string, want map[string]string) (string, int) {
	t.Helper()
	writeFile(t, c, "/etc/provision.yaml", spec, 0o600)
	stdout, stderr, ws := provisionEnv(t, c, []string{"PROVISION_CRASH_AT=" + strconv.Itoa(n)}, "apply")
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("apply with PROVISION_CRASH_AT=%d: %v, want killed by SIGKILL\n%s\n%s", n, ws, stdout, stderr)
	}
	lines := crashLineRE.FindAllStringSubmatch(stderr, -1)
	if len(lines) == 0 || lines[len(lines)-1][1] != strconv.Itoa(n) || tempNameRE.ReplaceAllString(lines[len(lines)-1][2], ".provision-*") != name+": killed (PROVISION_CRASH_AT="+strconv.Itoa(n)+")" {
		t.Errorf("killed at %q, want crash point %d: %s", lines, n, name)
	}

	// What the kill left: every managed file absent or complete.
	var state []string
	for _, f := range crashFiles {
		meta, content, ok := fileState(t, c, f.path)
		switch {
		case !ok:
			state = append(state, "absent")
		case meta != f.meta || content != want[f.path]:
			t.Errorf("after the kill, %s is %s with %q; want absent, or %s with %q", f.path, meta, content, f.meta, want[f.path])
			state = append(state, "BROKEN")
		default:
			state = append(state, "complete")
		}
	}
	leftovers := tempFiles(t, c)
	visudoOK(t, c)

	// The next apply repairs, and removes the temporary files.
	code, out := exitCode(t, c, "provision", "apply")
	if code != 0 {
		t.Fatalf("apply after the kill: exit %d\n%s", code, out)
	}
	repaired := recap(t, out)[1]
	if left := tempFiles(t, c); len(left) > 0 {
		t.Errorf("apply after the kill left temporary files: %q", left)
	}
	for _, f := range crashFiles {
		meta, content, ok := fileState(t, c, f.path)
		if !ok || meta != f.meta || content != want[f.path] {
			t.Errorf("after the repair, %s is %s with %q (exists: %v); want %s with %q", f.path, meta, content, ok, f.meta, want[f.path])
		}
	}
	visudoOK(t, c)
	code, out = exitCode(t, c, "provision", "apply")
	if code != 0 || recap(t, out)[1] != 0 {
		t.Errorf("second apply after the kill: exit %d, want 0 and 0 changed:\n%s", code, out)
	}
	if t.Failed() {
		return "FAIL", len(leftovers)
	}
	return fmt.Sprintf("killed: unit %s, sudoers %s, .env %s, %d temp file(s); next apply %d changed, then 0",
		state[0], state[1], state[2], len(leftovers), repaired), len(leftovers)
}

// provisionEnv runs provision with args in c, with env added to its
// environment, and returns its standard output, standard error and how it
// ended.
func provisionEnv(t *testing.T, c *nspawn.Container, env []string, args ...string) (string, string, syscall.WaitStatus) {
	t.Helper()
	cmd := c.Command(t.Context(), append(append([]string{"env"}, env...), append([]string{"provision"}, args...)...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run provision %q in %s: %v", args, c.Name(), err)
	}
	return stdout.String(), stderr.String(), cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// fileState describes path in c: its owner, mode and type, and its
// content, or ok false when it does not exist.
func fileState(t *testing.T, c *nspawn.Container, path string) (meta, content string, ok bool) {
	t.Helper()
	out := execOK(t, c, "sh", "-c", `if [ -e "$1" ] || [ -L "$1" ]; then stat -c '%a %U:%G %F' "$1"; cat "$1"; else echo absent; fi`, "sh", path)
	meta, content, _ = strings.Cut(out, "\n")
	if meta == "absent" {
		return "", "", false
	}
	return meta, content, true
}

// tempFiles lists the temporary files of writeFileAtomic under the
// directories the example writes to.
func tempFiles(t *testing.T, c *nspawn.Container) []string {
	t.Helper()
	out := execOK(t, c, "sh", "-c", `find /etc /home /data -xdev -name '.*.provision-*' 2>/dev/null || true`)
	return strings.Fields(out)
}

// visudoOK checks that the sudo configuration is valid and that none of
// the files sudo reads is a temporary file.
func visudoOK(t *testing.T, c *nspawn.Container) {
	t.Helper()
	code, out := exitCode(t, c, "visudo", "-c")
	if code != 0 {
		t.Errorf("visudo -c: exit %d\n%s", code, out)
	}
	if strings.Contains(out, ".provision-") {
		t.Errorf("sudo reads a temporary file:\n%s", out)
	}
}
