package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckTrusted(t *testing.T) {
	uid := os.Getuid()
	for _, tc := range []struct {
		name string
		// setup makes the tree under dir and returns the path to check.
		setup func(t *testing.T, dir string) string
		// bad is the component named, relative to dir; "" means trusted.
		bad, why string
	}{
		{"trusted", func(t *testing.T, dir string) string {
			return mkfile(t, dir, "etc/provision.yaml", 0o600)
		}, "", ""},
		{"file writable by others", func(t *testing.T, dir string) string {
			return mkfile(t, dir, "etc/provision.yaml", 0o666)
		}, "etc/provision.yaml", "can be written by group or others (mode 0666)"},
		{"file writable by its group", func(t *testing.T, dir string) string {
			return mkfile(t, dir, "etc/provision.yaml", 0o620)
		}, "etc/provision.yaml", "can be written by group or others (mode 0620)"},
		{"directory writable by others", func(t *testing.T, dir string) string {
			p := mkfile(t, dir, "drop/provision.yaml", 0o600)
			chmod(t, filepath.Join(dir, "drop"), 0o777)
			return p
		}, "drop", "is a directory that group or others can write (mode 0777)"},
		{"sticky directory", func(t *testing.T, dir string) string {
			p := mkfile(t, dir, "tmp/provision.yaml", 0o600)
			chmod(t, filepath.Join(dir, "tmp"), 0o1777)
			return p
		}, "", ""},
		{"link into a directory others can write", func(t *testing.T, dir string) string {
			target := mkfile(t, dir, "drop/provision.yaml", 0o600)
			chmod(t, filepath.Join(dir, "drop"), 0o777)
			mkfile(t, dir, "etc/x", 0o600)
			link := filepath.Join(dir, "etc/provision.yaml")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "drop", "is a directory that group or others can write (mode 0777)"},
		{"relative link", func(t *testing.T, dir string) string {
			mkfile(t, dir, "srv/provision.yaml", 0o600)
			mkfile(t, dir, "etc/x", 0o600)
			link := filepath.Join(dir, "etc/provision.yaml")
			if err := os.Symlink("../srv/provision.yaml", link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "", ""},
		{"not a regular file", func(t *testing.T, dir string) string {
			mkfile(t, dir, "etc/x", 0o600)
			return filepath.Join(dir, "etc")
		}, "etc", "is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			chmod(t, dir, 0o755)
			p := tc.setup(t, dir)
			err := CheckTrusted(p, uid)
			if tc.bad == "" {
				if err != nil {
					t.Errorf("CheckTrusted = %v, want trusted", err)
				}
				return
			}
			var ue *UntrustedError
			if !errors.As(err, &ue) || ue.Path != filepath.Join(dir, tc.bad) || ue.Why != tc.why {
				t.Errorf("CheckTrusted = %v, want %s %s", err, filepath.Join(dir, tc.bad), tc.why)
			}
		})
	}
	// Owned by someone else: only root can make such a file.
	if uid == 0 {
		dir := t.TempDir()
		p := mkfile(t, dir, "provision.yaml", 0o600)
		if err := os.Chown(p, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		if err := CheckTrusted(p, 0); err == nil || !strings.Contains(err.Error(), "is owned by uid 1234, not root") {
			t.Errorf("a file owned by uid 1234: %v", err)
		}
		if err := os.Chown(dir, 1234, 1234); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := CheckTrusted(p, 0); err == nil || !strings.Contains(err.Error(), "is a directory owned by uid 1234, not root") {
			t.Errorf("a root file in a directory of uid 1234: %v", err)
		}
	}
}

func mkfile(t *testing.T, dir, name string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("users: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, mode)
	return p
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode&0o777|map[bool]os.FileMode{true: os.ModeSticky}[mode&0o1000 != 0]); err != nil {
		t.Fatal(err)
	}
}
