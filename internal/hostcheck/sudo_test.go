package hostcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provision-dev/provision/spec"
)

// A tree laid out as Debian lays out its programs: names that are links,
// through /etc/alternatives, to the binaries sudo would run.
func debianTree(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the programs of a sudo rule must be root's: the tree must be made by root")
	}
	root := t.TempDir()
	os.Chmod(root, 0o755)
	for _, f := range []string{"usr/bin/vim.basic", "usr/bin/bash", "usr/bin/systemctl", "usr/bin/less", "usr/sbin/visudo", "usr/bin/unshare", "opt/tool/bin/tool", "srv/deploy/bin/restart"} {
		p := filepath.Join(root, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"bin":                      "usr/bin",
		"etc/alternatives/editor":  "/usr/bin/vim.basic",
		"etc/alternatives/pager":   "/usr/bin/less",
		"usr/bin/editor":           "/etc/alternatives/editor",
		"usr/bin/pager":            "/etc/alternatives/pager",
		"usr/bin/rbash":            "bash",
		"usr/local/bin/fix":        "/usr/bin/editor",
		"usr/local/bin/page":       "../../bin/pager",
		"usr/local/bin/rsh":        "/bin/rbash",
		"opt/ns/run":               "/usr/bin/unshare",
		"usr/local/bin/sc":         "/usr/bin/systemctl",
		"usr/local/bin/restart-it": "/srv/deploy/bin/restart",
	}
	for name, target := range links {
		p := filepath.Join(root, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	// A directory the deploy user (uid 1001) owns.
	if err := os.Chown(filepath.Join(root, "srv/deploy"), 1001, 1001); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSudoPrograms(t *testing.T) {
	root := debianTree(t)
	input := `services:
  - name: sidekiq
    exec_start: /usr/bin/sidekiq
    sudo: {group: deploy, allow: [restart]}
sudoers:
  - name: a
    rules:
      - who: "%deploy"
        unchecked: true
        commands:
          - /usr/local/bin/fix /etc/motd
          - /usr/local/bin/page /var/log/syslog
          - /usr/local/bin/rsh
          - /usr/local/bin/sc edit sidekiq
          - /usr/local/bin/sc restart sidekiq
          - /usr/local/bin/restart-it now
          - /opt/tool/bin/tool --check
          - /opt/missing/bin/x
          - /opt/ns/run -r
`
	s, err := spec.Load("t.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range SudoPrograms(s, root) {
		got = append(got, e.Error())
	}
	want := []string{
		"t.yaml:11:13: sudoers[0].rules[0].commands[0]: /usr/local/bin/fix resolves to /usr/bin/vim.basic: runs /usr/bin/vim.basic, an editor, which can open a shell or write any file: whoever may run it as root can do anything as root; allow a specific program instead",
		"t.yaml:12:13: sudoers[0].rules[0].commands[1]: /usr/local/bin/page resolves to /usr/bin/less: runs /usr/bin/less, a pager, which can open a shell: whoever may run it as root can do anything as root; allow a specific program instead",
		"t.yaml:13:13: sudoers[0].rules[0].commands[2]: /usr/local/bin/rsh resolves to /usr/bin/bash: runs /usr/bin/bash, a shell: whoever may run it as root can do anything as root; allow a specific program instead",
		"t.yaml:14:13: sudoers[0].rules[0].commands[3]: /usr/local/bin/sc resolves to /usr/bin/systemctl: systemctl edit is not allowed in a sudoers rule; allow one of start, stop, restart, try-restart, reload, reload-or-restart, try-reload-or-restart, kill, status, show, cat, is-active, is-enabled, is-failed",
		"t.yaml:16:13: sudoers[0].rules[0].commands[5]: /usr/local/bin/restart-it: /srv/deploy is a directory owned by uid 1001, not root: whoever can change /usr/local/bin/restart-it can run anything as root through this rule",
		"t.yaml:18:13: warning: sudoers[0].rules[0].commands[7]: /opt/missing/bin/x does not exist on this host; sudo refuses the command until it is installed",
		"t.yaml:19:13: sudoers[0].rules[0].commands[8]: /opt/ns/run resolves to /usr/bin/unshare: runs /usr/bin/unshare, a tool that runs another program, with other namespaces, privileges or limits: whoever may run it as root can do anything as root; allow a specific program instead",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("SudoPrograms:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
