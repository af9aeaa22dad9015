//go:build e2e

package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// hostileSpecs are specs written to break out of a unit line, grant root
// through sudo, reach outside the managed paths or exhaust provision. Each
// maps to a line provision must print for it ($F is the spec's path).
var hostileSpecs = []struct {
	name, spec, want string
}{
	{
		// A second line in a unit: ExecStartPre= as root.
		"exec-start-newline",
		"services:\n  - name: web\n    exec_start: \"/bin/web\\n[Service]\\nExecStartPre=/bin/sh -c 'chmod u+s /bin/bash'\"\n",
		`$F:3:17: services[0].exec_start: must not contain control character '\n'`,
	},
	{
		"sudoers-all",
		"sudoers:\n  - name: deploy-all\n    rules: [{who: deploy, commands: [ALL]}]\n",
		"$F:3:38: sudoers[0].rules[0].commands[0]: ALL would allow every command as root; list the commands",
	},
	{
		"sudoers-shell",
		"sudoers:\n  - name: deploy-sh\n    rules: [{who: deploy, commands: [/bin/sh]}]\n",
		"$F:3:38: sudoers[0].rules[0].commands[0]: runs /bin/sh, a shell: whoever may run it as root can do anything as root; allow a specific program instead",
	},
	{
		// A comma adds a second command to the rule.
		"sudoers-comma",
		"sudoers:\n  - name: deploy-x\n    rules: [{who: deploy, commands: ['/bin/systemctl restart web, /bin/sh']}]\n",
		"$F:3:38: sudoers[0].rules[0].commands[0]: must not contain ',', which sudoers treats specially",
	},
	{
		// "+" runs ExecStart= as root whatever User= says.
		"exec-start-privileged",
		"services:\n  - name: web\n    user: deploy\n    exec_start: +/bin/web\n",
		`$F:4:17: services[0].exec_start: ExecStart= starts with "+", which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant`,
	},
	{
		// An empty User= is no user: root.
		"empty-user",
		"services:\n  - name: web\n    user: \"\"\n    exec_start: /bin/web\n",
		`$F:3:11: services[0].user: must not be empty: leave user out for its default`,
	},
	{
		// A lone ";" is a second command.
		"exec-start-semicolon",
		"services:\n  - name: web\n    exec_start: /bin/web ; /bin/chmod u+s /bin/bash\n",
		`$F:3:17: services[0].exec_start: ExecStart= holds a lone ";", which systemd reads as the start of a second command: quote or escape it (\;) if it is an argument`,
	},
	{
		// A trailing backslash pulls the next line into EnvironmentFile=.
		"environment-file-continuation",
		"services:\n  - name: web\n    exec_start: /bin/web\n    environment_file: \"-/tmp/env\\\\\"\n",
		`$F:4:23: services[0].environment_file: must not end with a backslash, which would continue the line`,
	},
	{
		// Beyond systemd's range: RestartSec= would be 100ms.
		"restart-sec-overflow",
		"services:\n  - name: web\n    exec_start: /bin/web\n    restart_sec: 99999999999999999999\n",
		`$F:4:18: services[0].restart_sec: "99999999999999999999" is beyond the time spans systemd can hold: systemd would ignore it and restart after 100ms`,
	},
	{
		"relative-path",
		"directories:\n  - path: data/apps\n",
		`$F:2:11: directories[0].path: must be an absolute path, got "data/apps"`,
	},
	{
		"dotdot-path",
		"files:\n  - path: /data/../etc/shadow\n    content: \"root::0:0:99999:7:::\\n\"\n",
		`$F:2:11: files[0].path: must not contain ".."`,
	},
	{
		"uppercase-user",
		"users:\n  - name: Root\n",
		`$F:2:11: users[0].name: user name "Root" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
	},
	{
		"setuid-file",
		"files:\n  - path: /usr/local/bin/rootme\n    mode: \"4755\"\n    content: \"#!/bin/sh\\n\"\n",
		"$F:3:11: files[0].mode: must not set the setuid, setgid or sticky bit",
	},
	{
		// 9^9 strings if expanded.
		"alias-bomb",
		`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`,
		`$F:1:1: a: unknown key "a"`,
	},
	{
		// The same bomb where a list of units is expected.
		"alias-bomb-in-field",
		`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
services:
  - name: web
    exec_start: /bin/web
    wanted_by: *i
`,
		// The error points at the aliased node, where &h defines it.
		`$F:8:4: services[0].wanted_by[0]: expected a string, got a list`,
	},
	{
		// No line to point at: the file is named.
		"empty",
		"",
		"$F: empty spec",
	},
	{
		// The document itself is wrong: no field to name.
		"list-document",
		"- users\n- files\n",
		"$F:1:1: spec must be a mapping of users, directories, files, services and sudoers, got a list",
	},
}

// TestHostileSpecs applies each hostile spec in one container: each exits
// 2 with its positioned error first, and /etc, /home and /data are
// byte for byte, mode for mode, what they were.
func TestHostileSpecs(t *testing.T) {
	t.Parallel()
	requireProvision(t)
	c := boot(t)
	installProvision(t, c)
	for _, h := range hostileSpecs {
		writeFile(t, c, "/root/hostile/"+h.name+".yaml", h.spec, 0o600)
	}
	listing := func() string {
		return execOK(t, c, "sh", "-c",
			`find /etc /home /data -xdev \( -type f -o -type d -o -type l \) -printf '%p %m %u:%g %y %l\n' 2>/dev/null | sort;
			 find /etc /home /data -xdev -type f -exec sha256sum {} + 2>/dev/null | sort`)
	}
	before := listing()
	for _, h := range hostileSpecs {
		file := "/root/hostile/" + h.name + ".yaml"
		start := time.Now()
		code, out := exitCode(t, c, "provision", "apply", "-f", file)
		t.Logf("%s: exit %d in %v", h.name, code, time.Since(start).Round(time.Millisecond))
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		want := strings.ReplaceAll(h.want, "$F", file)
		if code != 2 || !slices.Contains(lines, want) {
			t.Errorf("%s: exit %d; want exit 2 and the line %q:\n%s", h.name, code, want, out)
		}
		positioned := regexp.MustCompile(`^` + regexp.QuoteMeta(file) + `(:\d+:\d+)?: \S`)
		for _, l := range lines {
			if !positioned.MatchString(l) {
				t.Errorf("%s: line %q is not FILE:LINE:COL: path: message", h.name, l)
			}
		}
	}
	if after := listing(); after != before {
		t.Errorf("hostile specs changed the host:\n%s", lineDiff(before, after))
	}
}
