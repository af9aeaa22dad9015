package rootfs

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// dirsRoot returns a root-owned tree with /etc/app holding file a, and an
// FS on it that keeps directories.
func dirsRoot(t *testing.T) (string, FS) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root's directories are kept")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc/app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/app/a"), []byte("one"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := NewDirs()
	t.Cleanup(d.Close)
	return root, FS{Root: root, Dirs: d}
}

func kept(fs FS) []string {
	var dirs []string
	for dir := range fs.Dirs.kept {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	return dirs
}

// A root-owned directory on a root-owned path is kept, with those above
// it; one that someone else owns or may write is not, nor anything below.
func TestDirsKeepsOnlyRootsDirectories(t *testing.T) {
	root, fs := dirsRoot(t)
	if _, err := fs.Lstat("/etc/app/a"); err != nil {
		t.Fatal(err)
	}
	if got, want := kept(fs), []string{"/etc", "/etc/app"}; !slices.Equal(got, want) {
		t.Errorf("kept %q, want %q", got, want)
	}

	for _, tc := range []struct {
		name  string
		setup func(dir string) error
	}{
		{"owned by another user", func(dir string) error { return os.Chown(dir, 1234, 0) }},
		{"group-writable", func(dir string) error { return os.Chmod(dir, 0o775) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(root, "srv", tc.name)
			if err := os.MkdirAll(filepath.Join(dir, "below"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"/srv/" + tc.name + "/x", "/srv/" + tc.name + "/below/x"} {
				if _, err := fs.Lstat(p); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range kept(fs) {
				if d == "/srv/"+tc.name || d == "/srv/"+tc.name+"/below" {
					t.Errorf("kept %s", d)
				}
			}
		})
	}
}

// A directory removed and made again is the new one for the operations
// after: RemoveDir forgets what was kept.
func TestDirsForgetRemovedDirectory(t *testing.T) {
	root, fs := dirsRoot(t)
	if err := fs.Mkdir("/etc/app/sub", 0o755, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFileAtomic("/etc/app/sub/f", []byte("old"), 0o644, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove("/etc/app/sub/f"); err != nil {
		t.Fatal(err)
	}
	if err := fs.RemoveDir("/etc/app/sub"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "etc/app/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fs.WriteFileAtomic("/etc/app/sub/f", []byte("new"), 0o644, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "etc/app/sub/f")); err != nil || string(got) != "new" {
		t.Errorf("the file in the new directory: %q, %v", got, err)
	}
}

// A directory given to someone else is no longer kept, nor what is below.
func TestDirsForgetChownedDirectory(t *testing.T) {
	_, fs := dirsRoot(t)
	if _, err := fs.Lstat("/etc/app/a"); err != nil {
		t.Fatal(err)
	}
	if err := fs.ChownChmod("/etc/app", 0o755, 1234, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Lstat("/etc/app/a"); err != nil {
		t.Fatal(err)
	}
	if got := kept(fs); slices.Contains(got, "/etc/app") {
		t.Errorf("kept %q after /etc/app was given to uid 1234", got)
	}
}

// Forget in the middle of an operation (a helper run by the check of a
// write) leaves that operation's directory open until it is done.
func TestDirsForgetWhileInUse(t *testing.T) {
	root, fs := dirsRoot(t)
	if _, err := fs.Lstat("/etc/app/a"); err != nil {
		t.Fatal(err)
	}
	err := fs.WriteFileAtomic("/etc/app/a", []byte("two"), 0o644, 0, 0, func(tmp string) error {
		fs.Dirs.Forget()
		return nil
	})
	if err != nil {
		t.Fatalf("write with Forget during its check: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/app/a")); string(got) != "two" {
		t.Errorf("content %q", got)
	}
	if got := kept(fs); len(got) != 0 {
		t.Errorf("kept %q after Forget", got)
	}
}

// Close closes every kept descriptor.
func TestDirsClose(t *testing.T) {
	_, fs := dirsRoot(t)
	if _, err := fs.Lstat("/etc/app/a"); err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, k := range fs.Dirs.kept {
		fds = append(fds, k.fd)
	}
	fs.Dirs.Close()
	for _, fd := range fds {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != unix.EBADF {
			t.Errorf("fd %d still open after Close (%v)", fd, err)
		}
	}
}

// In a kept directory the leftovers of killed runs are listed once, at
// the first write: each write still removes those of its own file, and
// only those, and a leftover made after the listing (no run makes one) is
// not looked for again.
func TestDirsLeftoversListedOnce(t *testing.T) {
	root, fs := dirsRoot(t)
	dir := filepath.Join(root, "etc/app")
	for _, name := range []string{".a.provision-0123456789ab", ".a.provision-ba9876543210", ".b.provision-0123456789ab", ".c.d.provision-0123456789ab"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	if err := fs.WriteFileAtomic("/etc/app/a", []byte("two"), 0o644, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := names(), []string{".b.provision-0123456789ab", ".c.d.provision-0123456789ab", "a"}; !slices.Equal(got, want) {
		t.Errorf("after writing a: %q, want %q", got, want)
	}
	if !slices.Contains(kept(fs), "/etc/app") {
		t.Fatal("/etc/app is not kept")
	}
	if err := os.WriteFile(filepath.Join(dir, ".e.provision-0123456789ab"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/app/b", "/etc/app/c.d", "/etc/app/e"} {
		if err := fs.WriteFileAtomic(p, []byte("x"), 0o644, 0, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := names(), []string{".e.provision-0123456789ab", "a", "b", "c.d", "e"}; !slices.Equal(got, want) {
		t.Errorf("after writing b, c.d and e: %q, want %q (e's leftover came after the listing)", got, want)
	}
	// A directory not kept is listed at every write.
	fs.Dirs = nil
	if err := fs.WriteFileAtomic("/etc/app/e", []byte("y"), 0o644, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got, want := names(), []string{"a", "b", "c.d", "e"}; !slices.Equal(got, want) {
		t.Errorf("without Dirs: %q, want %q", got, want)
	}
}
