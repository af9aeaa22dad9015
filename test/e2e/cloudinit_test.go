//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/provision-dev/provision/internal/nspawn"
)

const (
	// cloudInitBin is the command of Debian's cloud-init package.
	cloudInitBin = "/usr/bin/cloud-init"
	// userDataPath is the shipped cloud-init example.
	userDataPath = "examples/cloud-init/user-data.yaml"
	// seedDir is where cloud-init's NoCloud datasource looks for a seed
	// in the instance's own file system.
	seedDir = "var/lib/cloud/seed/nocloud"
)

// afterBootService is a second service, ordered after cloud-init's final
// stage, the one runcmd runs in: a start of it that provision waited for
// would hang the boot. It is wanted by cloud-init.target, which is ordered
// after cloud-final.service, as cloud-init advises: wanted by
// multi-user.target, it would make an ordering cycle at the next boot
// (cloud-final.service is ordered after multi-user.target).
const afterBootService = `  - name: after-boot
    description: A worker that starts once cloud-init is done
    after: [cloud-final.service]
    exec_start: /usr/local/bin/fake-sidekiq --after-boot
    wanted_by: [cloud-init.target]
    state: started
`

// readExample returns a file of the module, by its path from the root.
func readExample(t *testing.T, name string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// indentBlock indents text as the content of the example's write_files
// entry: six spaces, blank lines left empty.
func indentBlock(text string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = "      " + l
		}
	}
	return strings.Join(lines, "")
}

// userData returns the shipped cloud-init example with spec written to
// /etc/provision.yaml instead of examples/sidekiq/provision.yaml; all else,
// runcmd included, is the example's.
func userData(t *testing.T, spec string) string {
	t.Helper()
	ud := readExample(t, userDataPath)
	example := indentBlock(readExample(t, "examples/sidekiq/provision.yaml"))
	if n := strings.Count(ud, example); n != 1 {
		t.Fatalf("%s: the content of examples/sidekiq/provision.yaml occurs %d times, want once", userDataPath, n)
	}
	return strings.Replace(ud, example, indentBlock(spec), 1)
}

// TestCloudInitUserDataIsExample reads the shipped user-data as cloud-init
// does: it writes the example spec, root only, sets a locale that exists
// everywhere and runs provision once.
func TestCloudInitUserDataIsExample(t *testing.T) {
	ud := readExample(t, userDataPath)
	if !strings.HasPrefix(ud, "#cloud-config\n") {
		t.Errorf("%s does not start with #cloud-config", userDataPath)
	}
	var cfg struct {
		Locale     string `yaml:"locale"`
		WriteFiles []struct {
			Path        string `yaml:"path"`
			Owner       string `yaml:"owner"`
			Permissions string `yaml:"permissions"`
			Content     string `yaml:"content"`
		} `yaml:"write_files"`
		Runcmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal([]byte(ud), &cfg); err != nil {
		t.Fatalf("%s: %v", userDataPath, err)
	}
	if cfg.Locale != "C.UTF-8" {
		t.Errorf("locale %q, want C.UTF-8", cfg.Locale)
	}
	if len(cfg.WriteFiles) != 1 {
		t.Fatalf("write_files has %d entries, want 1", len(cfg.WriteFiles))
	}
	f := cfg.WriteFiles[0]
	if f.Path != "/etc/provision.yaml" || f.Owner != "root:root" || f.Permissions != "0600" {
		t.Errorf("write_files: %s %s %s, want /etc/provision.yaml root:root 0600", f.Path, f.Owner, f.Permissions)
	}
	if f.Content != readExample(t, "examples/sidekiq/provision.yaml") {
		t.Errorf("write_files content is not examples/sidekiq/provision.yaml")
	}
	// provision from the package the image carries, then the apply.
	if want := [][]string{
		{"sh", "-c", "command -v provision >/dev/null || dpkg -i /var/cache/provision/provision_*_$(dpkg --print-architecture).deb"},
		{"provision", "apply", "-f", "/etc/provision.yaml"},
	}; !slices.EqualFunc(cfg.Runcmd, want, slices.Equal) {
		t.Errorf("runcmd %q, want %q", cfg.Runcmd, want)
	}
	if strings.Contains(ud, "://") {
		t.Errorf("%s names a URL: provision comes from the package the image carries", userDataPath)
	}
}

// requireCloudInit installs Debian's cloud-init on the host when it is
// missing: the container sees the host's / and cloud-init must be there
// before the overlay is mounted. `make test` installs it beforehand (make
// deps); installing it here while other containers run changes the lower
// layer of their overlays.
func requireCloudInit(t *testing.T) {
	t.Helper()
	requireRoot(t)
	if _, err := os.Stat(cloudInitBin); err == nil {
		return
	}
	t.Logf("%s is missing on the host: apt-get install -y cloud-init", cloudInitBin)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	const install = `apt-get install -y -o DPkg::Lock::Timeout=300 cloud-init ||
		{ apt-get update && apt-get install -y -o DPkg::Lock::Timeout=300 cloud-init; }`
	cmd := exec.CommandContext(ctx, "sh", "-c", install)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install cloud-init on the host: %v\n%s", err, out)
	}
	t.Logf("installed cloud-init in %v", time.Since(start).Round(time.Second))
}

// seedCloudInit returns a Prepare function that lays into a container's
// root a NoCloud seed with userData, the provision package deb in
// /var/cache/provision (where the example's runcmd installs it from), the
// stand-in worker, and the app's first release with the current link to it
// (the example's WorkingDirectory), as an image built for the app would
// have.
func seedCloudInit(t *testing.T, userData, deb string) func(root string) error {
	return func(root string) error {
		seed := filepath.Join(root, seedDir)
		if err := os.MkdirAll(seed, 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(seed, "user-data"), []byte(userData), 0o600); err != nil {
			return err
		}
		metaData := "instance-id: " + containerName(t.Name()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\n"
		if err := os.WriteFile(filepath.Join(seed, "meta-data"), []byte(metaData), 0o600); err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(root, "var/cache/provision"), 0o755); err != nil {
			return err
		}
		for src, dst := range map[string]string{deb: "var/cache/provision/" + filepath.Base(deb), "testdata/fake-sidekiq": "usr/local/bin/fake-sidekiq"} {
			data, err := os.ReadFile(src)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(root, dst), data, 0o755); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(filepath.Join(root, app, "releases/1"), 0o755); err != nil {
			return err
		}
		return os.Symlink(app+"/releases/1", filepath.Join(root, app, "current"))
	}
}

// monotonic returns a unit's timestamp property in microseconds since boot.
func monotonic(t *testing.T, c *nspawn.Container, unit, prop string) int64 {
	t.Helper()
	v := show(t, c, unit, prop)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n == 0 {
		t.Fatalf("%s %s = %q, want a time since boot", unit, prop, v)
	}
	return n
}

// queuedAtBoot matches apply's report of a start it queued during boot.
var queuedAtBoot = regexp.MustCompile(`(?m)^changed +service after-boot\n(?: +.*\n)*? +start queued, not waited for \(inactive -> active\): the system is still booting`)

// TestCloudInitFirstBoot boots a fresh host whose cloud-init (Debian's
// real one) gets the shipped user-data from a NoCloud seed, installs
// provision from the .deb the image carries (make deb's), with the
// example's Sidekiq started and a second service ordered after cloud-init's
// final stage. provision runs in runcmd during boot: it must not wait for
// that service, whose start waits for provision's own boot job to end. The
// boot completes, cloud-init reports done, both services run, the host is
// converged, and once the system is up provision waits for jobs again.
func TestCloudInitFirstBoot(t *testing.T) {
	requireProvision(t)
	requireCloudInit(t)
	deb, _ := buildDeb(t)
	spec := exampleSpec(t, withState("started")...) + afterBootService

	// This boot takes about 8 s on an idle machine, and took 38 s on one
	// loaded with other containers. One that hangs in cloud-final.service
	// fails New after BootTimeout; one that waited for provision's job
	// timeout (90 s) and went on fails below, cloud-init reporting an error.
	c := bootWith(t, nspawn.Options{
		KeepCloudInit: true,
		Prepare:       seedCloudInit(t, userData(t, spec), deb),
		BootTimeout:   90 * time.Second,
	})

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	status, err := c.Command(ctx, "cloud-init", "status", "--wait", "--long").CombinedOutput()
	cancel()
	if err != nil || !strings.Contains(string(status), "status: done") {
		t.Fatalf("cloud-init status --wait: %v\n%s", err, status)
	}
	log := execOK(t, c, "cat", "/var/log/cloud-init-output.log")
	t.Logf("cloud-init status:\n%s\n/var/log/cloud-init-output.log:\n%s", status, log)
	if got := execOK(t, c, "dpkg-query", "-W", "-f", "${Status} ${Version}", "provision"); got != "install ok installed 0.0.0+e2e" {
		t.Errorf("the provision package after first boot: %q, want installed from the image's .deb", got)
	}
	if got := execOK(t, c, "sh", "-c", "command -v provision"); got != "/usr/sbin/provision\n" {
		t.Errorf("provision is %q, want the package's /usr/sbin/provision", got)
	}
	if n := recap(t, log); n[1] == 0 || n[2] != 0 {
		t.Errorf("provision apply in runcmd: recap %v, want changes and 0 failed:\n%s", n, log)
	}
	if !queuedAtBoot.MatchString(log) {
		t.Errorf("provision in runcmd did not report a start queued for after-boot:\n%s", log)
	}
	if got := strings.TrimSpace(execOK(t, c, "cloud-init", "query", "v1.platform")); got != "nocloud" {
		t.Errorf("cloud-init datasource %q, want nocloud (the seed)", got)
	}
	if code, out := exitCode(t, c, "systemctl", "is-system-running"); code != 0 || strings.TrimSpace(out) != "running" {
		_, failed := exitCode(t, c, "systemctl", "--failed", "--no-pager")
		t.Errorf("systemctl is-system-running = %q, want running; failed units:\n%s", strings.TrimSpace(out), failed)
	}

	// The service ordered after cloud-final.service started once
	// cloud-final (and so provision) was done: provision queued it.
	if got := show(t, c, "after-boot", "ActiveState"); got != "active" {
		t.Fatalf("after-boot is %s, want active:\n%s", got, execOK(t, c, "systemctl", "status", "--no-pager", "after-boot"))
	}
	if started, final := monotonic(t, c, "after-boot", "ActiveEnterTimestampMonotonic"), monotonic(t, c, "cloud-final.service", "ActiveEnterTimestampMonotonic"); started < final {
		t.Errorf("after-boot started %dµs before cloud-final.service was done", final-started)
	}
	for unit, want := range map[string]string{"sidekiq": "deploy", "after-boot": "root"} {
		if got := show(t, c, unit, "ActiveState"); got != "active" {
			t.Errorf("%s is %s, want active", unit, got)
			continue
		}
		if got := show(t, c, unit, "UnitFileState"); got != "enabled" {
			t.Errorf("%s is %s, want enabled", unit, got)
		}
		pid := show(t, c, unit, "MainPID")
		if got := strings.TrimSpace(execOK(t, c, "ps", "-o", "user=", "-p", pid)); got != want {
			t.Errorf("%s runs as %q, want %s", unit, got, want)
		}
	}
	if got := execOK(t, c, "stat", "-c", "%a %U:%G", "/etc/provision.yaml", "/etc/sudoers.d/sidekiq-users", app+"/shared/.env"); got != "600 root:root\n440 root:root\n600 deploy:deploy\n" {
		t.Errorf("modes and owners:\n%s", got)
	}
	if got := execOK(t, c, "getent", "passwd", "deploy"); !strings.HasSuffix(strings.TrimSpace(got), ":/home/deploy:/bin/bash") {
		t.Errorf("passwd entry: %q", got)
	}
	execOK(t, c, "visudo", "-c")
	execAsOK(t, c, "deploy", "sudo", "-n", "/bin/systemctl", "restart", "sidekiq")

	// The booted host is converged: the spec cloud-init wrote changes
	// nothing, and no start is queued any more.
	code, out := exitCode(t, c, "provision", "apply", "-f", "/etc/provision.yaml")
	t.Logf("provision apply after boot: exit %d\n%s", code, out)
	if n := recap(t, out); code != 0 || n[1] != 0 || n[2] != 0 {
		t.Errorf("apply after boot: exit %d, recap %v, want 0 changed", code, n)
	}

	// Once the system is up, provision waits for the job again: the same
	// service without the ordering and with an ExecStart that cannot run
	// fails apply, with the unit's journal lines.
	broken := exampleSpec(t, withState("started")...) + strings.NewReplacer(
		"    after: [cloud-final.service]\n", "",
		"/usr/local/bin/fake-sidekiq --after-boot", "/nonexistent/worker --after-boot",
	).Replace(afterBootService)
	code, out = provision(t, c, broken, "apply")
	if code != 1 {
		t.Errorf("apply of a broken ExecStart after boot: exit %d, want 1", code)
	}
	if got := stepLines(out, "failed"); !slices.Equal(got, []string{"service after-boot"}) {
		t.Errorf("failed steps %q, want service after-boot", got)
	}
	if strings.Contains(out, "queued") || !strings.Contains(out, "last journal lines") || !strings.Contains(out, "/nonexistent/worker") {
		t.Errorf("apply after boot did not wait for the job and report its journal:\n%s", out)
	}
}
