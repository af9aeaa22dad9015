//go:build e2e

package nspawn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// needRoot skips t without root, except under CI=true, where it fails.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("booting containers needs root, and CI=true: not skipping")
	}
	t.Skip("!!! booting containers needs root: skipped")
}

// assertGone checks that nothing of a container named name is left on the
// host.
func assertGone(t *testing.T, name string, nspawnPID int) {
	t.Helper()
	paths := []string{
		filepath.Join(baseDir, name),
		filepath.Join("/run/systemd/nspawn/propagate", name),
	}
	hs, err := cgroupHierarchies()
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		paths = append(paths, h.child(name))
	}
	for _, p := range paths {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left behind (%v)", p, err)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mounts), name) {
		t.Errorf("a mount of %s is left behind", name)
	}
	if nspawnPID != 0 {
		if st, err := readProcStat(nspawnPID); err == nil && st.comm == "systemd-nspawn" {
			t.Errorf("systemd-nspawn %d is still running", nspawnPID)
		}
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	needRoot(t)
	c, err := New(t.Context(), Options{Name: "close"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	pid := c.nspawn.Process.Pid
	if len(c.cgroups) == 0 {
		t.Fatal("no cgroup created")
	}
	// The container runs in its own cgroups.
	own, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(c.InitPID()), "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(own), "/"+c.Name()+"/") {
		t.Errorf("container's init is not in a cgroup of its own:\n%s", own)
	}

	start := time.Now()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start))
	assertGone(t, c.Name(), pid)
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, _, err := c.Exec(t.Context(), "true"); !errors.Is(err, ErrNotBooted) {
		t.Errorf("Exec after Close: %v, want ErrNotBooted", err)
	}
}

func TestNoBootThenBoot(t *testing.T) {
	needRoot(t)
	c, err := New(t.Context(), Options{
		Name:   "noboot",
		NoBoot: true,
		Prepare: func(root string) error {
			return os.WriteFile(filepath.Join(root, "etc/prepared"), []byte("yes\n"), 0o644)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, _, err := c.Exec(t.Context(), "true"); !errors.Is(err, ErrNotBooted) {
		t.Errorf("Exec before Boot: %v, want ErrNotBooted", err)
	}
	if err := c.WriteFile("/etc/written-offline", []byte("offline\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.Boot(t.Context()); err != nil {
		t.Fatal(err)
	}
	out, _, err := c.Exec(t.Context(), "cat", "/etc/prepared", "/etc/written-offline")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "yes\noffline\n" {
		t.Errorf("files laid in before boot read %q inside", out)
	}
	// A failing command's error unwraps to its exit status and says what
	// it printed.
	_, _, err = c.Exec(t.Context(), "sh", "-c", "echo oops >&2; exit 3")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(err.Error(), "oops") {
		t.Errorf("Exec of a failing command: %v", err)
	}
}

func TestBootTimeoutCleansUp(t *testing.T) {
	needRoot(t)
	before, _ := filepath.Glob(filepath.Join(baseDir, Prefix+"timeout-*"))
	_, err := New(t.Context(), Options{Name: "timeout", BootTimeout: time.Millisecond})
	if err == nil {
		t.Fatal("New booted within 1ms")
	}
	if !strings.Contains(err.Error(), "systemd-nspawn log") {
		t.Errorf("boot error does not show systemd-nspawn's log: %v", err)
	}
	after, _ := filepath.Glob(filepath.Join(baseDir, Prefix+"timeout-*"))
	if len(after) > len(before) {
		t.Errorf("a failed New left %v behind", after)
	}
}

// TestRemoveStale kills a process that owns a running container, as a
// test binary's timeout would, and checks that RemoveStale cleans up after
// the container has powered off by itself.
func TestRemoveStale(t *testing.T) {
	needRoot(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	owner := exec.CommandContext(ctx, os.Args[0])
	owner.Env = append(os.Environ(), "NSPAWN_TEST_OWNER=1")
	stdout, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	owner.Stderr = os.Stderr
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	var name string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "container: "); ok {
			name = n
			break
		}
	}
	if name == "" {
		owner.Process.Kill()
		owner.Wait()
		t.Fatal("the owner did not boot a container")
	}
	st, err := os.ReadFile(filepath.Join(baseDir, name, stateFile))
	if err != nil {
		t.Fatal(err)
	}
	owner.Process.Kill()
	owner.Wait()

	// The owner's lock is gone; its container is still powering off, then
	// gone.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := RemoveStale(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(baseDir, name)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("RemoveStale left %s behind; state %s", name, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	assertGone(t, name, 0)
}

// TestMain runs the test binary as TestRemoveStale's owner process when
// asked to (see ownContainer), and runs the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("NSPAWN_TEST_OWNER") == "1" {
		ownContainer()
		return
	}
	os.Exit(m.Run())
}

// ownContainer is TestRemoveStale's owner process: it boots a container,
// says its name and waits to be killed.
func ownContainer() {
	c, err := New(context.Background(), Options{Name: "stale"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.WriteString("container: " + c.Name() + "\n")
	syscall.Pause()
}
