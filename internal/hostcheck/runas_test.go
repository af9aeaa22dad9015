package hostcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provision-dev/provision/spec"
)

func TestProgramsAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the tree must hold files of other owners")
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	mk := func(name string, mode os.FileMode, uid int) {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		os.Chown(p, uid, uid)
	}
	mk("usr/local/rbenv/bin/rbenv", 0o755, 0)
	os.Chmod(filepath.Join(root, "usr/local/rbenv"), 0o700)
	mk("opt/app/bin/run", 0o755, 0)
	mk("opt/app/bin/private", 0o750, 0)
	mk("home/deploy/bin/own", 0o700, 1001)
	os.Chown(filepath.Join(root, "home/deploy"), 1001, 1001)
	os.Symlink("/usr/local/rbenv/bin/rbenv", filepath.Join(root, "opt/app/bin/linked"))
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\ndeploy:x:1001:1001::/home/deploy:/bin/bash\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\ndeploy:x:1001:\n"), 0o644)
	s, err := spec.Load("t.yaml", []byte(`services:
  - {name: a, user: deploy, exec_start: /usr/local/rbenv/bin/rbenv exec sidekiq}
  - {name: b, user: deploy, exec_start: /opt/app/bin/run}
  - {name: c, user: deploy, exec_start: /opt/app/bin/private}
  - {name: d, user: deploy, exec_start: /home/deploy/bin/own}
  - {name: e, user: deploy, exec_start: /opt/app/bin/linked}
  - {name: f, exec_start: /usr/local/rbenv/bin/rbenv}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ProgramsAsUser(s, root) {
		got = append(got, w.Error())
	}
	want := []string{
		"t.yaml:2:41: warning: services[0].exec_start: ExecStart= runs /usr/local/rbenv/bin/rbenv as deploy, but it cannot search /usr/local/rbenv (mode 0700, owner 0:0)",
		"t.yaml:4:41: warning: services[2].exec_start: ExecStart= runs /opt/app/bin/private as deploy, but it may not execute /opt/app/bin/private (mode 0750, owner 0:0)",
		"t.yaml:6:41: warning: services[4].exec_start: ExecStart= runs /opt/app/bin/linked as deploy, but it cannot search /usr/local/rbenv (mode 0700, owner 0:0)",
	}
	if len(got) != len(want) {
		t.Fatalf("ProgramsAsUser:\n%s", strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n%s\nwant it to start with\n%s", i, got[i], want[i])
		}
	}
}
