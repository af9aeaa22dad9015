//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestReleaseBinaryHasNoCrashPoints: the binary make build makes has no
// crash points (no PROVISION_CRASH_ variable is read, the words are not in
// it), while the one these tests run, built with -tags crashpoints, has.
func TestReleaseBinaryHasNoCrashPoints(t *testing.T) {
	t.Parallel()
	requireProvision(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "provision")
	cmd := exec.Command("make", "build", "GO="+goTool(), "BIN="+bin)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		bin  string
		want bool
	}{{bin, false}, {provisionBin, true}} {
		data, err := os.ReadFile(tc.bin)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(data, []byte("PROVISION_CRASH")); got != tc.want {
			t.Errorf("%s holds PROVISION_CRASH: %v, want %v", tc.bin, got, tc.want)
		}
	}
}
