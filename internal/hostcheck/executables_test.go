package hostcheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/spec"
)

func TestMissingExecutables(t *testing.T) {
	root := t.TempDir()
	mk := func(name string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/bin/web", 0o755)
	mk("usr/bin/notes", 0o644)
	mk("opt/rbenv/libexec/rbenv", 0o755)
	os.MkdirAll(filepath.Join(root, "usr/local/rbenv/bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "srv/dir"), 0o755)
	// rbenv's own layout: an absolute link, resolved inside the tree (the
	// host has no /opt/rbenv).
	link("usr/local/rbenv/bin/rbenv", "/opt/rbenv/libexec/rbenv")
	// usr-merge: /bin -> usr/bin, relative.
	link("bin", "usr/bin")
	link("usr/bin/loop", "loop")

	input := `services:
  - name: a
    exec_start: /usr/local/rbenv/bin/rbenv exec bundle exec sidekiq
  - name: b
    exec_start: -/bin/web --port 80
    options:
      - {section: Service, name: ExecStartPre, value: /usr/bin/missing}
      - {section: Service, name: ExecStop, value: "/srv/dir"}
      - {section: Service, name: ExecReload, value: "/usr/bin/notes"}
      - {section: Service, name: ExecStopPost, value: "/usr/bin/loop"}
      - {section: Service, name: ExecStartPost, value: "web --again"}
      - {section: Service, name: ExecCondition, value: "nothere"}
      - {section: Service, name: ExecStopPost, value: "%h/bin/x"}
      - {section: Service, name: ExecStopPost, value: "$BIN"}
  - name: c
    unit: |
      [Service]
      ExecStart=@/usr/sbin/gone argv0
`
	s, err := spec.Load("t.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range MissingExecutables(s, root) {
		got = append(got, w.Error())
	}
	want := []string{
		"t.yaml:7:55: warning: services[1].options[0].value: ExecStartPre= runs /usr/bin/missing, which does not exist under " + root + "; systemd cannot start b.service until it is there",
		"t.yaml:8:51: warning: services[1].options[1].value: ExecStop= runs /srv/dir, which is a directory; systemd cannot start b.service until it is there",
		"t.yaml:9:53: warning: services[1].options[2].value: ExecReload= runs /usr/bin/notes, which is not executable; systemd cannot start b.service until it is there",
		"t.yaml:10:55: warning: services[1].options[3].value: ExecStopPost= runs /usr/bin/loop, which does not exist under " + root + "; systemd cannot start b.service until it is there",
		"t.yaml:12:56: warning: services[1].options[5].value: ExecCondition= runs nothere, which is not in /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin under " + root + "; systemd cannot start b.service until it is there",
		"t.yaml:16:11: warning: services[2].unit: ExecStart= runs /usr/sbin/gone, which does not exist under " + root + "; systemd cannot start c.service until it is there",
	}
	if !slices.Equal(got, want) {
		t.Errorf("MissingExecutables:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// On the running system (root "/"), a program the host has.
	s, err = spec.Load("t.yaml", []byte("services:\n  - {name: a, exec_start: /bin/sh -c true}\n  - {name: b, exec_start: /nonexistent/x}\n"))
	if err != nil {
		t.Fatal(err)
	}
	w := MissingExecutables(s, "/")
	if len(w) != 1 || w[0].Error() != "t.yaml:3:27: warning: services[1].exec_start: ExecStart= runs /nonexistent/x, which does not exist on this host; systemd cannot start b.service until it is there" {
		t.Errorf("MissingExecutables on /: %v", w)
	}
}
