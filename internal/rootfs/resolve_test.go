package rootfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolve(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "etc", "var"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"bin":           "usr/bin",          // relative, as on usr-merged systems
		"etc/escape":    "/var/target",      // absolute: must stay in root
		"etc/up":        "../../../../../x", // climbing: stops at root
		"var/run":       "/run",             // into the container's tmpfs
		"etc/loop":      "/etc/loop",
		"etc/localtime": "/usr/share/zoneinfo/UTC", // dangling
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		path, wantCtr string
		wantErr       bool
	}{
		{"/bin/provision", "/usr/bin/provision", false},
		{"/etc/escape", "/var/target", false},
		{"/etc/up", "/x", false},
		{"/var/run/provision.pid", "/run/provision.pid", false},
		{"/etc/localtime", "/usr/share/zoneinfo/UTC", false},
		{"/etc/new/dir/file", "/etc/new/dir/file", false},
		{"/etc/loop", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			host, ctr, err := Resolve(root, tt.path)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Resolve(%s) = %s, want an error", tt.path, ctr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ctr != tt.wantCtr || host != filepath.Join(root, tt.wantCtr) {
				t.Errorf("Resolve(%s) = %s, %s; want %s in root", tt.path, host, ctr, tt.wantCtr)
			}
		})
	}
}
