//go:build e2e

// Package e2e holds provision's end-to-end tests: each test boots a real
// systemd in a throwaway container (see internal/nspawn), installs the
// provision binary built once by TestMain, and checks the result there.
//
// They need root. Run them with `make test-e2e` or
// `go test -tags e2e -count=1 ./test/e2e/`. Without root they skip, except
// under CI=true, where they fail.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

// testVersion is linked into the provision binary under test as
// main.version.
const testVersion = "e2e-test"

var (
	// provisionBin is the static provision binary built by TestMain, or ""
	// when it could not be built (see provisionErr) or the module has no
	// cmd/provision yet.
	provisionBin string
	// provisionErr is why provision did not build.
	provisionErr error
	// skipReason is why every test skips, or "" when they run.
	skipReason string
)

// live holds the containers not yet closed, for teardown on SIGINT/SIGTERM.
var live struct {
	sync.Mutex
	set map[*nspawn.Container]bool
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "e2e: FAIL: the end-to-end tests must run as root under CI (CI=true), they never skip there")
			return 1
		}
		skipReason = "end-to-end tests boot systemd containers and need root: run `sudo make test-e2e`"
		banner("SKIPPING ALL END-TO-END TESTS: " + skipReason)
		return m.Run()
	}
	if err := nspawn.RemoveStale(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: warning: cleaning up after earlier runs: %v\n", err)
	}

	tmp, err := os.MkdirTemp("", "provision-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	provisionBin, provisionErr = buildProvision(tmp)
	switch {
	case provisionErr != nil:
		banner("provision does not build: the tests that need it fail")
		fmt.Fprintln(os.Stderr, provisionErr)
	case provisionBin == "":
		banner("cmd/provision does not exist yet: the tests that need it skip")
	}

	stop := closeOnSignal()
	defer stop()
	return m.Run()
}

// banner prints msg so that it stands out in go test's output.
func banner(msg string) {
	line := strings.Repeat("!", 72)
	fmt.Fprintf(os.Stderr, "%s\n!!! e2e: %s\n%s\n", line, msg, line)
}

// buildProvision builds the static provision binary into dir, or returns
// "" when the module has no cmd/provision package yet.
func buildProvision(dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if srcs, _ := filepath.Glob(filepath.Join(root, "cmd/provision/*.go")); len(srcs) == 0 {
		return "", nil
	}
	bin := filepath.Join(dir, "provision")
	start := time.Now()
	cmd := exec.Command(goTool(), "build", "-trimpath", "-tags", "crashpoints",
		"-ldflags", "-X main.version="+testVersion,
		"-o", bin, "./cmd/provision")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build provision: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s in %v\n", bin, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// goTool returns the go command: the one on PATH, or the one of the Go
// that runs the tests.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}

// closeOnSignal tears down the live containers and exits when the test
// binary is interrupted, which would otherwise skip every t.Cleanup.
func closeOnSignal() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			fmt.Fprintf(os.Stderr, "e2e: %v: tearing down containers\n", sig)
			live.Lock()
			cs := make([]*nspawn.Container, 0, len(live.set))
			for c := range live.set {
				cs = append(cs, c)
			}
			live.Unlock()
			var wg sync.WaitGroup
			for _, c := range cs {
				wg.Go(func() {
					if err := c.Close(); err != nil {
						fmt.Fprintln(os.Stderr, "e2e:", err)
					}
				})
			}
			wg.Wait()
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

func track(c *nspawn.Container) {
	live.Lock()
	defer live.Unlock()
	if live.set == nil {
		live.set = map[*nspawn.Container]bool{}
	}
	live.set[c] = true
}

func untrack(c *nspawn.Container) {
	live.Lock()
	defer live.Unlock()
	delete(live.set, c)
}

// requireRoot skips t when the tests cannot run here (see TestMain).
func requireRoot(t testing.TB) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// boot boots a fresh container for t, named after the test, and tears it
// down when t and its subtests end, even when they fail.
func boot(t testing.TB) *nspawn.Container {
	t.Helper()
	return bootWith(t, nspawn.Options{})
}

// bootWith is boot with options (cloud-init, Prepare, NoBoot...). When
// opts.Name is empty, the test's name is used.
func bootWith(t testing.TB, opts nspawn.Options) *nspawn.Container {
	t.Helper()
	requireRoot(t)
	if opts.Name == "" {
		opts.Name = containerName(t.Name())
	}
	start := time.Now()
	c, err := nspawn.New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	track(c)
	if opts.NoBoot {
		t.Logf("container %s set up at %s in %v", c.Name(), c.Root(), time.Since(start).Round(time.Millisecond))
	} else {
		t.Logf("container %s booted in %v", c.Name(), time.Since(start).Round(time.Millisecond))
	}
	t.Cleanup(func() { teardown(t, c) })
	return c
}

// bootN boots n containers at once for t, like boot.
func bootN(t testing.TB, n int) []*nspawn.Container {
	t.Helper()
	requireRoot(t)
	cs := make([]*nspawn.Container, n)
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cs[i], errs[i] = nspawn.New(t.Context(), nspawn.Options{Name: fmt.Sprintf("%s-%d", containerName(t.Name()), i)})
		})
	}
	wg.Wait()
	for _, c := range cs {
		if c != nil {
			track(c)
			t.Cleanup(func() { teardown(t, c) })
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d containers booted together in %v", n, time.Since(start).Round(time.Millisecond))
	return cs
}

// teardown closes c, first logging its console and journal when t failed.
func teardown(t testing.TB, c *nspawn.Container) {
	t.Helper()
	if t.Failed() && c.InitPID() != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _ := c.Command(ctx, "journalctl", "-b", "--no-pager", "-n", "100").CombinedOutput()
		cancel()
		t.Logf("%s\n--- journal of %s, last lines ---\n%s", c.LogTail(30), c.Name(), out)
	}
	start := time.Now()
	err := c.Close()
	untrack(c)
	if err != nil {
		t.Error(err)
		return
	}
	t.Logf("container %s torn down in %v", c.Name(), time.Since(start).Round(time.Millisecond))
}

// containerName turns a test name into a container name label.
func containerName(testName string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimPrefix(testName, "Test")) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > 24 {
		name = strings.Trim(name[:24], "-")
	}
	return name
}

// requireProvision fails t when the provision binary did not build, and
// skips it while the module has no cmd/provision yet.
func requireProvision(t testing.TB) {
	t.Helper()
	if provisionErr != nil {
		t.Fatal(provisionErr)
	}
	if provisionBin == "" {
		t.Skip("cmd/provision does not exist yet")
	}
}

// installProvision copies the provision binary under test to
// /usr/local/bin/provision in c.
func installProvision(t testing.TB, c *nspawn.Container) {
	t.Helper()
	requireProvision(t)
	if err := c.CopyIn(provisionBin, "/usr/local/bin/provision", 0o755); err != nil {
		t.Fatal(err)
	}
}

// execOK runs args as root in c and returns its standard output; the test
// fails when the command does.
func execOK(t testing.TB, c *nspawn.Container, args ...string) string {
	t.Helper()
	out, _, err := c.Exec(t.Context(), args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// execAsOK is execOK running args as user.
func execAsOK(t testing.TB, c *nspawn.Container, user string, args ...string) string {
	t.Helper()
	out, _, err := c.ExecAs(t.Context(), user, args...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// exitCode runs args as root in c and returns its exit code and combined
// output, for commands whose failure is the expected outcome. The test
// fails when the command cannot be run at all.
func exitCode(t testing.TB, c *nspawn.Container, args ...string) (int, string) {
	t.Helper()
	out, err := c.Command(t.Context(), args...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("run %q in %s: %v", args, c.Name(), err)
		return -1, ""
	}
}

// writeFile writes content to path in c with mode, owned by root.
func writeFile(t testing.TB, c *nspawn.Container, path, content string, mode os.FileMode) {
	t.Helper()
	if err := c.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}
