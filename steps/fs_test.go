package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provision-dev/provision/spec"
)

func TestIsLeftover(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{".app.conf.provision-0123456789ab", true},
		// Another file's temporary file.
		{".app.conf.d.provision-0123456789ab", false},
		// Suffixes that writeFileAtomic never makes.
		{".app.conf.provision-0123456789", false},
		{".app.conf.provision-0123456789abcd", false},
		{".app.conf.provision-0123456789AB", false},
		{".app.conf.provision-", false},
		// The file itself, and names that only look alike.
		{"app.conf", false},
		{"app.conf.provision-0123456789ab", false},
		{".app.conf.provision-0123456789ab~", false},
	} {
		if got := isLeftover(tc.name, "app.conf"); got != tc.want {
			t.Errorf("isLeftover(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

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
	s := &EnsureFile{File: spec.File{Path: "/etc/app.conf", Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
	applyTwice(t, h, []Step{s})
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
	s := &EnsureFile{File: spec.File{Path: "/etc/app.env", Owner: "root", Group: "root", Mode: 0o600}}
	_, err := s.Apply(context.Background(), h)
	if !errors.Is(err, ErrHardLink) {
		t.Fatalf("apply over a hard link: %v, want ErrHardLink", err)
	}
	if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("linked file: %v, %v; want mode 0640 kept", fi.Mode(), err)
	}
}

func TestCrashSettings(t *testing.T) {
	for _, tc := range []struct {
		at, list string
		on       bool
		n        int64
	}{
		{"", "", false, 0},
		{"7", "", true, 7},
		{"0", "", false, 0},
		{"-3", "", false, 0},
		{"x", "", false, 0},
		{"", "1", true, 0},
		{"", "0", false, 0},
	} {
		c := crashSettings(tc.at, tc.list)
		if c.on != tc.on || c.at != tc.n {
			t.Errorf("crashSettings(%q, %q) = on %v at %d, want on %v at %d", tc.at, tc.list, c.on, c.at, tc.on, tc.n)
		}
	}
}
