//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// requireHostPackages installs on the host the Debian packages of want
// (a file each package installs -> the package) whose file is missing.
// Containers see the host's /, so what they run must be there before they
// boot: `make test` installs all of them beforehand (make deps), and
// installing here while other containers run changes the lower layer of
// their overlays.
func requireHostPackages(t *testing.T, want map[string]string) {
	t.Helper()
	requireRoot(t)
	var missing []string
	for file, pkg := range want {
		if _, err := os.Stat(file); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return
	}
	hostPackages.Lock()
	defer hostPackages.Unlock()
	t.Logf("missing on the host: apt-get install -y %s", strings.Join(missing, " "))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	install := "apt-get install -y -o DPkg::Lock::Timeout=300 " + strings.Join(missing, " ")
	cmd := exec.CommandContext(ctx, "sh", "-c", install+" || { apt-get update && "+install+"; }")
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install %s on the host: %v\n%s", missing, err, out)
	}
	t.Logf("installed %s in %v", missing, time.Since(start).Round(time.Second))
}

// hostPackages serializes the installs of requireHostPackages.
var hostPackages sync.Mutex

// debPackage is the amd64 package `make deb` builds, built once.
var debPackage struct {
	once sync.Once
	path string // the .deb
	bin  string // the static binary in it
	err  error
}

// buildDeb returns the path of the Debian package `make deb` builds for
// amd64, lintian-checked (make deb fails on a lintian error), and of the
// binary it holds. It is built once for all tests, in a temporary
// directory, and never in the checkout.
func buildDeb(t *testing.T) (deb, bin string) {
	t.Helper()
	requireProvision(t)
	requireHostPackages(t, map[string]string{"/usr/bin/lintian": "lintian"})
	debPackage.once.Do(func() {
		debPackage.path, debPackage.bin, debPackage.err = makeDeb()
	})
	if debPackage.err != nil {
		t.Fatal(debPackage.err)
	}
	return debPackage.path, debPackage.bin
}

func makeDeb() (string, string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", "", err
	}
	// Beside the binary under test: TestMain removes it at the end.
	dir := filepath.Join(filepath.Dir(provisionBin), "deb")
	dist := filepath.Join(dir, "dist")
	start := time.Now()
	cmd := exec.Command("make", "deb", "GO="+goTool(), "BIN="+filepath.Join(dir, "provision"),
		"DIST="+dist, "DEB_ARCHES=amd64", "VERSION=v0.0.0-e2e", "DEB_MAINTAINER=provision tests <tests@provision.invalid>")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "provision_*_amd64.deb"))
	if len(debs) != 1 {
		return "", "", fmt.Errorf("make deb made %q, want one provision_*_amd64.deb\n%s", debs, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: make deb built %s in %v\n%s", debs[0], time.Since(start).Round(time.Millisecond), out)
	return debs[0], filepath.Join(dist, "linux_amd64", "provision"), nil
}
