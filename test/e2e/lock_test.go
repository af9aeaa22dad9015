//go:build e2e

package e2e

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowService makes a first apply take a couple of seconds: its start job
// is done only when the command has run.
const slowService = `  - name: slowstart
    type: oneshot
    exec_start: /bin/sleep 2
    options:
      - {section: Service, name: RemainAfterExit, value: "yes"}
    state: started
`

// TestConcurrentApplies starts two applies at once on a fresh host: one
// waits for the other's lock, says so, then finds nothing left to do.
func TestConcurrentApplies(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	writeFile(t, c, "/etc/provision.yaml", exampleSpec(t)+slowService, 0o600)

	type result struct {
		code           int
		stdout, stderr string
		took           time.Duration
	}
	var res [2]result
	var wg sync.WaitGroup
	for i := range res {
		wg.Go(func() {
			cmd := c.Command(t.Context(), "provision", "apply")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			res[i] = result{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
			var exit *exec.ExitError
			switch {
			case errors.As(err, &exit):
				res[i].code = exit.ExitCode()
			case err != nil:
				res[i].code = -1
				res[i].stderr += err.Error()
			}
		})
	}
	wg.Wait()
	for i, r := range res {
		t.Logf("apply %d: exit %d in %v\n%s%s", i, r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
		if r.code != 0 {
			t.Errorf("apply %d: exit %d, want 0", i, r.code)
		}
	}
	first, second := res[0], res[1]
	if strings.Contains(first.stderr, "waiting for the lock") {
		first, second = second, first
	}
	// The example's 10 steps that change something (its service has no
	// state), and the slow service's unit, links and start.
	if n := recap(t, first.stdout); n[1] != 13 {
		t.Errorf("the run that took the lock first: recap %v, want 13 changed", n)
	}
	if n := recap(t, second.stdout); n[1] != 0 {
		t.Errorf("the run that waited: recap %v, want 0 changed", n)
	}
	if !strings.Contains(second.stderr, "waiting for the lock /run/provision.lock, held by PID ") || !strings.Contains(second.stderr, ", provision (up to 1m0s)") {
		t.Errorf("the run that waited did not say for whom:\n%s", second.stderr)
	}
	if second.took < 2*time.Second {
		t.Errorf("the run that waited finished in %v, before the slow start was done", second.took)
	}
}

// TestLockTimeout: while another process holds the lock, apply gives up
// after --lock-timeout, names the holder and changes nothing; validate
// takes no lock.
func TestLockTimeout(t *testing.T) {
	t.Parallel()
	c := bootForSidekiq(t)
	writeFile(t, c, "/etc/provision.yaml", exampleSpec(t), 0o600)
	pid := strings.TrimSpace(execOK(t, c, "sh", "-c",
		`flock /run/provision.lock sleep 10 >/dev/null 2>&1 & pid=$!
		 until grep -q "FLOCK .* $pid " /proc/locks; do sleep 0.05; done
		 echo $pid`))

	start := time.Now()
	code, out := exitCode(t, c, "provision", "apply", "--lock-timeout=1s")
	took := time.Since(start)
	t.Logf("apply --lock-timeout=1s: exit %d in %v\n%s", code, took.Round(time.Millisecond), out)
	if code != 1 {
		t.Errorf("apply while the lock is held: exit %d, want 1", code)
	}
	want := "provision apply: another run holds the lock /run/provision.lock (PID " + pid + ", flock); gave up after 1s (--lock-timeout)"
	if !strings.Contains(out, want) {
		t.Errorf("apply does not say %q", want)
	}
	if took < time.Second || took > 5*time.Second {
		t.Errorf("apply gave up after %v, want about 1s", took)
	}
	if code, _ := exitCode(t, c, "id", "deploy"); code == 0 {
		t.Errorf("apply created user deploy without the lock")
	}
	if code, out := exitCode(t, c, "provision", "validate"); code != 0 {
		t.Errorf("validate while the lock is held: exit %d\n%s", code, out)
	}
	execOK(t, c, "kill", pid)
}
