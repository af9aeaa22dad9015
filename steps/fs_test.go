package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/spec"
)

// A run killed between creating its temporary file and renaming it leaves
// the file behind; the next write of the same path removes it, and only
// it: not another file's temporary file, not a link, not a directory.
func TestWriteRemovesLeftovers(t *testing.T) {
	h, _ := testHost(t)
	dir := filepath.Join(h.Root, "etc")
	for _, name := range []string{".app.conf.provision-0123456789ab", ".app.conf.provision-ba9876543210", ".other.provision-0123456789ab"} {
		writeTestFile(t, h.Root, "etc/"+name, "half")
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, ".app.conf.provision-aaaaaaaaaaaa")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ".app.conf.provision-bbbbbbbbbbbb"), 0o755); err != nil {
		t.Fatal(err)
	}
	content := "A=1\n"
	s := &ensureFile{file: spec.File{Path: "/etc/app.conf", Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
	applyTwice(t, h, graphOf(s))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{".app.conf.provision-aaaaaaaaaaaa", ".app.conf.provision-bbbbbbbbbbbb", ".other.provision-0123456789ab", "app.conf", "group", "passwd", "sudoers.d", "systemd"}
	if !slices.Equal(names, want) {
		t.Errorf("etc holds %q, want %q", names, want)
	}
}

// A file with a second hard link keeps its owner and mode: changing them
// would change the other name's too.
func TestChmodRefusesHardLink(t *testing.T) {
	h, _ := testHost(t)
	secret := filepath.Join(h.Root, "etc/secret")
	writeTestFile(t, h.Root, "etc/secret", "s3cret\n")
	os.Chmod(secret, 0o640)
	if err := os.Link(secret, filepath.Join(h.Root, "etc/app.env")); err != nil {
		t.Fatal(err)
	}
	s := &ensureFile{file: spec.File{Path: "/etc/app.env", Owner: "root", Group: "root", Mode: 0o600}}
	_, err := s.Converge(context.Background(), testEnv(h, true))
	if !errors.Is(err, rootfs.ErrHardLink) {
		t.Fatalf("apply over a hard link: %v, want ErrHardLink", err)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("linked file: %v, %v; want mode 0640 kept", fi.Mode(), err)
	}
}
