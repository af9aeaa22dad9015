package spec

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
)

// loadErrors loads a spec that must be invalid and returns its errors, one
// rendered line each.
func loadErrors(t *testing.T, input string) []string {
	t.Helper()
	s, err := Load("t.yaml", []byte(input))
	if err == nil {
		t.Fatalf("Load succeeded, want errors")
	}
	if s != nil {
		t.Errorf("Load returned a spec with its errors")
	}
	var merr *multierror.Error
	if !errors.As(err, &merr) {
		t.Fatalf("Load error is %T, want *multierror.Error", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(merr.Errors) {
		t.Errorf("Error() has %d lines for %d errors", len(lines), len(merr.Errors))
	}
	for _, e := range merr.Errors {
		var se *Error
		if !errors.As(e, &se) {
			t.Errorf("error %v is %T, want *Error", e, e)
		}
	}
	return lines
}

// svc is a valid service to build bad specs on.
const svc = `services:
  - name: web
    exec_start: /usr/bin/web
`

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		// --- the document ---
		{
			// An empty file is a mistake, not an empty spec.
			name: "empty", input: "",
			want: []string{"t.yaml: empty spec"},
		},
		{
			// Only comments is as empty.
			name: "comments only", input: "# nothing yet\n",
			want: []string{"t.yaml: empty spec"},
		},
		{
			// The top level is a mapping of sections.
			name: "list document", input: "- users\n",
			want: []string{"t.yaml:1:1: spec must be a mapping of users, directories, files, services and sudoers, got a list"},
		},
		{
			// A scalar document.
			name: "scalar document", input: "hello\n",
			want: []string{"t.yaml:1:1: spec must be a mapping of users, directories, files, services and sudoers, got a string"},
		},
		{
			// A second document would be ignored: refuse it.
			name: "two documents", input: "users: []\n---\nusers: []\n",
			want: []string{"t.yaml:2:1: multiple documents are not supported; merge them into one"},
		},
		{
			// YAML syntax errors keep yaml.v3's line.
			name: "tab indentation", input: "users:\n\t- name: a\n",
			want: []string{"t.yaml:2: found character that cannot start any token: indent with spaces, not tabs"},
		},
		{
			// % starts a YAML directive: a %group must be quoted.
			name: "unquoted percent", input: "sudoers:\n  - name: a\n    rules:\n      - who: %deploy\n",
			want: []string{`t.yaml:4: found character that cannot start any token: quote values that start with %, @ or ` + "`" + `, such as "%deploy"`},
		},
		{
			// The same on the first line, which yaml.v3 does not number.
			name: "unquoted at", input: "users: [{name: @x}]\n",
			want: []string{`t.yaml:1: found character that cannot start any token: quote values that start with %, @ or ` + "`" + `, such as "%deploy"`},
		},
		{
			// Larger than MaxSize.
			name: "too large", input: "users: []\n" + strings.Repeat("#", MaxSize),
			want: []string{"t.yaml: spec is 1048586 bytes, more than the limit of 1048576"},
		},

		// --- keys and types ---
		{
			// A typo in a section name is never ignored.
			name: "unknown section", input: "service:\n  - name: web\n",
			want: []string{`t.yaml:1:1: service: unknown key "service" (did you mean "services"?)`},
		},
		{
			// A typo in a field.
			name: "unknown field", input: svc + "    restat: always\n",
			want: []string{`t.yaml:4:5: services[0].restat: unknown key "restat" (did you mean "restart"?)`},
		},
		{
			// systemd's spelling of a field points to ours.
			name: "systemd spelling", input: svc + "    WorkingDirectory: /srv\n",
			want: []string{`t.yaml:4:5: services[0].WorkingDirectory: unknown key "WorkingDirectory" (did you mean "working_directory"?)`},
		},
		{
			// A key nothing resembles gets no suggestion.
			name: "unknown key without suggestion", input: "users:\n  - name: a\n    favourite_colour: blue\n",
			want: []string{`t.yaml:3:5: users[0].favourite_colour: unknown key "favourite_colour"`},
		},
		{
			// A list where a mapping is expected.
			name: "section not a list", input: "users:\n  name: deploy\n",
			want: []string{"t.yaml:2:3: users: expected a list, got a mapping"},
		},
		{
			// A mapping where a string is expected.
			name: "mapping for string", input: "users:\n  - name: {first: de, last: ploy}\n",
			want: []string{"t.yaml:2:11: users[0].name: expected a string, got a mapping"},
		},
		{
			// A string where a list is expected.
			name: "string for list", input: svc + "    after: network.target\n",
			want: []string{"t.yaml:4:12: services[0].after: expected a list, got a string"},
		},
		{
			// environment is a mapping, not a list of NAME=VALUE.
			name: "environment as list", input: svc + "    environment: [A=1]\n",
			want: []string{"t.yaml:4:18: services[0].environment: expected a mapping, got a list"},
		},
		{
			// Only true and false are booleans; yes is a string in YAML 1.2.
			name: "yes for bool", input: svc + "    enabled: yes\n",
			want: []string{`t.yaml:4:14: services[0].enabled: must be true or false, got "yes"`},
		},
		{
			// A key given twice: the second would silently win.
			name: "duplicate key", input: svc + "    exec_start: /usr/bin/other\n",
			want: []string{`t.yaml:4:5: services[0].exec_start: duplicate key "exec_start" (first at line 3)`},
		},
		{
			// The same variable twice.
			name: "duplicate environment key", input: svc + "    environment:\n      A: 1\n      A: 2\n",
			want: []string{`t.yaml:6:7: services[0].environment.A: duplicate key "A" (first at line 5)`},
		},
		{
			// Merge keys hide where values come from.
			name: "merge key", input: "users:\n  - <<: {name: a}\n",
			want: []string{"t.yaml:2:5: users[0]: merge keys (<<) are not supported"},
		},
		{
			// Tags other than the core scalars.
			name: "binary tag", input: "users:\n  - name: !!binary ZGVwbG95\n",
			want: []string{"t.yaml:2:11: users[0].name: unsupported tag !!binary"},
		},
		{
			// A value longer than MaxValueSize.
			name: "long value", input: "files:\n  - path: /a\n    content: " + strings.Repeat("x", MaxValueSize+1) + "\n",
			want: []string{"t.yaml:3:14: files[0].content: is longer than 65536 bytes"},
		},

		// --- aliases ---
		{
			// An alias inside the value it refers to stops at the first
			// value of the wrong type.
			name: "recursive alias", input: "users: &u\n  - name: a\n    groups: *u\n",
			want: []string{"t.yaml:2:5: users[0].groups[0]: expected a string, got a mapping"},
		},

		// --- modes ---
		{
			// Modes are octal.
			name: "mode not octal", input: "files:\n  - path: /a\n    mode: \"0999\"\n",
			want: []string{`t.yaml:3:11: files[0].mode: must be an octal mode such as "0644", got "0999"`},
		},
		{
			// Symbolic modes are not modes.
			name: "symbolic mode", input: "files:\n  - path: /a\n    mode: rw-r--r--\n",
			want: []string{`t.yaml:3:11: files[0].mode: must be an octal mode such as "0644", got "rw-r--r--"`},
		},
		{
			// More than 07777.
			name: "mode too large", input: "files:\n  - path: /a\n    mode: 17777\n",
			want: []string{`t.yaml:3:11: files[0].mode: must be an octal mode such as "0644", got "17777"`},
		},
		{
			// A setuid directory makes no sense and a setuid file is a hole.
			name: "setuid directory", input: "directories:\n  - path: /a\n    mode: \"4755\"\n",
			want: []string{"t.yaml:3:11: directories[0].mode: must not set the setuid bit"},
		},
		{
			// setgid on a file grants its group's rights to whoever runs it.
			name: "setgid file", input: "files:\n  - path: /a\n    mode: 2755\n",
			want: []string{"t.yaml:3:11: files[0].mode: must not set the setuid, setgid or sticky bit"},
		},

		// --- what systemd would load differently, or run as root ---
		{
			// An empty user is no user: the service would run as root.
			name: "empty user", input: svc + "    user: \"\"\n    group: ''\n",
			want: []string{
				"t.yaml:4:11: services[0].user: must not be empty: leave user out for its default",
				"t.yaml:5:12: services[0].group: must not be empty: leave group out for its default",
			},
		},
		{
			// A key with no value at all is empty too.
			name: "null owner", input: "files:\n  - path: /a\n    owner:\n",
			want: []string{"t.yaml:3:11: files[0].owner: must not be empty: leave owner out for its default"},
		},
		{
			// "+", "!" and "!!" run the command as root despite User=.
			name: "privileged exec", input: "services:\n  - name: web\n    user: deploy\n    exec_start: +/usr/bin/web\n  - name: b\n    exec_start: '!!/usr/bin/b'\n    options: [{section: Service, name: ExecStartPre, value: '-!/bin/prep'}]\n  - name: c\n    unit: \"[Service]\\nExecStart=@+/bin/c c\\n\"\n",
			want: []string{
				`t.yaml:4:17: services[0].exec_start: ExecStart= starts with "+", which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant`,
				`t.yaml:6:17: services[1].exec_start: ExecStart= starts with "!!", which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant`,
				`t.yaml:7:61: services[1].options[0].value: ExecStartPre= starts with "!", which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant`,
				`t.yaml:9:11: services[2].unit: ExecStart= starts with "+", which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant`,
			},
		},
		{
			// A lone ";" starts a second command; a quote must close.
			name: "exec lines", input: "services:\n  - name: a\n    exec_start: /bin/a ; /bin/b\n  - name: b\n    exec_start: /bin/b \"x\n  - name: c\n    exec_start: /bin/c \\q\n",
			want: []string{
				`t.yaml:3:17: services[0].exec_start: ExecStart= holds a lone ";", which systemd reads as the start of a second command: quote or escape it (\;) if it is an argument`,
				`t.yaml:5:17: services[1].exec_start: ExecStart=/bin/b "x has an unbalanced " quote: systemd would ignore the line`,
				`t.yaml:7:17: services[2].exec_start: ExecStart=/bin/c \q has the escape \q, which systemd does not know; write \\ for a backslash: systemd would ignore the line`,
			},
		},
		{
			// A trailing backslash joins the next line to
			// EnvironmentFile=, as to any other setting.
			name: "environment_file backslash", input: svc + "    environment_file: '-/tmp/env\\'\n",
			want: []string{`t.yaml:4:23: services[0].environment_file: must not end with a backslash, which would continue the line`},
		},
		{
			// Beyond systemd's range, RestartSec= is ignored (100ms).
			name: "restart_sec range", input: svc + "    restart_sec: 99999999999999999999\n",
			want: []string{`t.yaml:4:18: services[0].restart_sec: "99999999999999999999" is beyond the time spans systemd can hold: systemd would ignore it and restart after 100ms`},
		},
		{
			// Invalid UTF-8 is positioned.
			name: "invalid utf-8", input: "users:\n  - name: d\xffeploy\n",
			want: []string{"t.yaml:2:12: invalid UTF-8 (byte 0xff): a spec is UTF-8 text"},
		},

		// --- what is to be absent, and drop-ins ---
		{
			name: "presence", input: "files:\n  - {path: /a, state: gone, content: x}\n  - {path: /b, state: absent, content: x}\n",
			want: []string{
				`t.yaml:2:23: files[0].state: must be present or absent, got "gone"`,
				"t.yaml:3:31: files[1].content: cannot be given for a file that is to be absent",
			},
		},
		{
			name: "remove_home without absent", input: "users:\n  - {name: a, remove_home: true}\n  - {name: root, state: absent}\n",
			want: []string{
				"t.yaml:2:15: users[0].remove_home: applies only to a user with state: absent",
				"t.yaml:3:25: users[1].state: root cannot be removed",
			},
		},
		{
			name: "dropins", input: "dropins:\n  - {unit: redis, name: p}\n  - {unit: a.service, name: x.conf, content: \"[Service]\\n\", options: [{section: Service, name: Nice, value: '5'}]}\n  - {unit: b.service, name: q, options: [{section: Service, name: ExecStartPre, value: '+/bin/x'}]}\n",
			want: []string{
				`t.yaml:2:5: dropins[0]: needs options or content`,
				`t.yaml:2:12: dropins[0].unit: "redis" is not a unit name such as redis-server.service`,
				`t.yaml:3:29: dropins[1].name: must be given without .conf: "x"`,
				"t.yaml:3:37: dropins[1].content: give either options or content, not both",
				`t.yaml:4:88: dropins[2].options[0].value: ExecStartPre= starts with "+", which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant`,
			},
		},

		{
			// The cycle the cloud-init section of the README tells of.
			name: "cloud-init cycle", input: svc + "    after: [network.target, cloud-final.service]\n",
			want: []string{"t.yaml:4:29: services[0].after[1]: After=cloud-final.service with WantedBy=multi-user.target is an ordering cycle (cloud-final.service is ordered after multi-user.target): systemd would drop a job at the next boot; use wanted_by: [cloud-init.target], as cloud-init advises"},
		},

		// --- users ---
		{
			// A user without a name.
			name: "user without name", input: "users:\n  - shell: /bin/sh\n",
			want: []string{"t.yaml:2:5: users[0].name: is required"},
		},
		{
			// Upper case is not a valid user name.
			name: "user name case", input: "users:\n  - name: Deploy\n",
			want: []string{`t.yaml:2:11: users[0].name: user name "Deploy" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`},
		},
		{
			// At most 32 characters.
			name: "user name too long", input: "users:\n  - name: " + strings.Repeat("a", 33) + "\n",
			want: []string{`t.yaml:2:11: users[0].name: user name "` + strings.Repeat("a", 33) + `" is longer than 32 characters`},
		},
		{
			// Supplementary groups are names, once each.
			name: "bad groups", input: "users:\n  - name: a\n    group: Admins\n    groups: [sudo, sudo]\n",
			want: []string{
				`t.yaml:3:12: users[0].group: group name "Admins" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
				`t.yaml:4:20: users[0].groups[1]: group "sudo" is listed twice`,
			},
		},
		{
			// An authorized key is a key line, not a bare word.
			name: "authorized key", input: "users:\n  - name: a\n    authorized_keys: [AAAAC3NzaC1lZDI1NTE5]\n",
			want: []string{`t.yaml:3:23: users[0].authorized_keys[0]: must be a public key line such as "ssh-ed25519 AAAA... comment"`},
		},
		{
			// Two users with the same name.
			name: "duplicate user", input: "users:\n  - name: a\n  - name: a\n",
			want: []string{`t.yaml:3:11: users[1].name: user "a" is already defined by users[0]`},
		},

		// --- paths ---
		{
			// A directory without a path.
			name: "directory without path", input: "directories:\n  - owner: root\n",
			want: []string{"t.yaml:2:5: directories[0].path: is required"},
		},
		{
			// Paths are absolute.
			name: "relative path", input: "directories:\n  - path: data/apps\n",
			want: []string{`t.yaml:2:11: directories[0].path: must be an absolute path, got "data/apps"`},
		},
		{
			// No .. anywhere.
			name: "dotdot", input: "files:\n  - path: /data/../etc/shadow\n",
			want: []string{`t.yaml:2:11: files[0].path: must not contain ".."`},
		},
		{
			// No trailing slash.
			name: "trailing slash", input: "directories:\n  - path: /data/\n",
			want: []string{"t.yaml:2:11: directories[0].path: must not end with /"},
		},
		{
			// Clean: no // nor /./.
			name: "unclean path", input: "directories:\n  - path: /data//apps/./x\n",
			want: []string{`t.yaml:2:11: directories[0].path: must be a clean path: "/data/apps/x"`},
		},
		{
			// The root directory is not provision's to manage.
			name: "root path", input: "directories:\n  - path: /\n",
			want: []string{"t.yaml:2:11: directories[0].path: must not be /"},
		},
		{
			// No newline or NUL in a path (or any single-line value).
			name: "newline in path", input: "files:\n  - path: \"/a\\nb\"\n",
			want: []string{`t.yaml:2:11: files[0].path: must not contain control character '\n'`},
		},
		{
			// A file and a directory at the same path.
			name: "duplicate path", input: "directories:\n  - path: /a\nfiles:\n  - path: /a\n",
			want: []string{"t.yaml:4:11: files[0].path: /a is also managed by directories[0]"},
		},
		{
			// Owners are user names.
			name: "bad owner", input: "files:\n  - path: /a\n    owner: \"1000\"\n",
			want: []string{`t.yaml:3:12: files[0].owner: user name "1000" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`},
		},
		{
			// A file may not fight a service over its unit file.
			name: "file at unit path", input: svc + "files:\n  - path: /etc/systemd/system/web.service\n",
			want: []string{
				"t.yaml:5:11: files[0].path: /etc/systemd/system/web.service is not managed as a plain file or directory: units are written only through services:, which validates them",
				"t.yaml:5:11: files[0].path: /etc/systemd/system/web.service is the unit of services[0]; manage it there",
			},
		},

		// --- services ---
		{
			// The name is the unit name without its suffix.
			name: "service suffix", input: "services:\n  - name: web.service\n    exec_start: /bin/web\n",
			want: []string{`t.yaml:2:11: services[0].name: must be given without the .service suffix: "web"`},
		},
		{
			// Templates are not supported yet.
			name: "template", input: "services:\n  - name: web@1\n    exec_start: /bin/web\n",
			want: []string{"t.yaml:2:11: services[0].name: template units (with @) are not supported"},
		},
		{
			// A name systemctl would read as an option.
			name: "dash name", input: "services:\n  - name: -h\n    exec_start: /bin/web\n",
			want: []string{`t.yaml:2:11: services[0].name: "-h" must start with a letter, digit or _ and contain only letters, digits, _, . and -`},
		},
		{
			// A structured unit needs a command.
			name: "no exec_start", input: "services:\n  - name: web\n",
			want: []string{"t.yaml:2:5: services[0].exec_start: is required"},
		},
		{
			// Restart= takes systemd's values only.
			name: "restart", input: svc + "    restart: sometimes\n",
			want: []string{"t.yaml:4:14: services[0].restart: must be one of no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always"},
		},
		{
			// Type= likewise.
			name: "type", input: svc + "    type: daemon\n",
			want: []string{"t.yaml:4:11: services[0].type: must be one of simple, exec, forking, oneshot, dbus, notify, notify-reload, idle"},
		},
		{
			// RestartSec= is a time span.
			name: "restart_sec", input: svc + "    restart_sec: soon\n",
			want: []string{`t.yaml:4:18: services[0].restart_sec: must be a number of seconds or a systemd time span such as 500ms or 5s, got "soon"`},
		},
		{
			// state is started, stopped or absent.
			name: "state", input: svc + "    state: running\n",
			want: []string{"t.yaml:4:12: services[0].state: must be started, stopped or absent, or left out to leave the service as it is"},
		},
		{
			// A verbatim unit excludes the structured fields.
			name: "unit and fields", input: svc + "    restart: always\n    unit: |\n      [Service]\n      ExecStart=/bin/web\n",
			want: []string{
				"t.yaml:3:5: services[0].exec_start: cannot be combined with unit: write it in the unit text or drop unit",
				"t.yaml:4:5: services[0].restart: cannot be combined with unit: write it in the unit text or drop unit",
			},
		},
		{
			// A verbatim unit must read as a unit.
			name: "verbatim garbage", input: "services:\n  - name: web\n    unit: |\n      ExecStart=/bin/web\n",
			want: []string{`t.yaml:3:11: services[0].unit: line 1: option outside of a section: "ExecStart=/bin/web"`},
		},
		{
			// A verbatim unit ending in a continuation.
			name: "verbatim continuation", input: "services:\n  - name: web\n    unit: \"[Service]\\nExecStart=/bin/web \\\\\"\n",
			want: []string{`t.yaml:3:11: services[0].unit: must not end with a line continuation (\)`},
		},
		{
			// No line breaks into a unit line.
			name: "newline in description", input: svc + "    description: \"a\\n[Service]\\nExecStartPre=/bin/evil\"\n",
			want: []string{`t.yaml:4:18: services[0].description: must not contain control character '\n'`},
		},
		{
			// A trailing backslash would swallow the next line.
			name: "trailing backslash", input: svc + "    description: 'Web \\'\n",
			want: []string{`t.yaml:4:18: services[0].description: must not end with a backslash, which would continue the line`},
		},
		{
			// systemd strips surrounding whitespace: refuse it rather than
			// render something that reads back differently.
			name: "surrounding space", input: svc + "    syslog_identifier: ' web'\n",
			want: []string{`t.yaml:4:24: services[0].syslog_identifier: must not begin or end with whitespace`},
		},
		{
			// Environment names are shell variable names.
			name: "environment name", input: svc + "    environment:\n      1PASSWORD: x\n      A-B: y\n",
			want: []string{
				`t.yaml:5:7: services[0].environment.1PASSWORD: "1PASSWORD" is not a valid variable name: use letters, digits and _, not starting with a digit`,
				`t.yaml:6:7: services[0].environment.A-B: "A-B" is not a valid variable name: use letters, digits and _, not starting with a digit`,
			},
		},
		{
			// after, wants and wanted_by list unit names.
			name: "after", input: svc + "    after: [network, syslog.target]\n",
			want: []string{`t.yaml:4:13: services[0].after[0]: "network" is not a unit name such as network.target`},
		},
		{
			// Extra options need a section, a valid name, and must not
			// set a field twice.
			name: "options", input: svc + "    user: web\n    options:\n      - {name: LimitNOFILE, value: 1}\n      - {section: Service, name: 'Bad Name'}\n      - {section: Service, name: User, value: root}\n      - {section: service, name: Nice, value: 5}\n",
			want: []string{
				"t.yaml:6:9: services[0].options[0].section: is required",
				`t.yaml:7:34: services[0].options[1].name: "Bad Name" is not a unit option name such as LimitNOFILE`,
				"t.yaml:8:9: services[0].options[2]: sets User=, which user already sets; keep one",
				`t.yaml:9:19: services[0].options[3].section: must be Unit, Service or Install, or X-NAME for a section systemd ignores; got "service"`,
			},
		},
		{
			// Two services with the same name.
			name: "duplicate service", input: svc + "  - name: web\n    exec_start: /bin/web2\n",
			want: []string{`t.yaml:4:11: services[1].name: service "web" is already defined by services[0]`},
		},

		// --- sudo shorthand ---
		{
			// Exactly one of user and group.
			name: "sudo both", input: svc + "    sudo: {user: a, group: b, allow: [restart]}\n",
			want: []string{"t.yaml:4:28: services[0].sudo.group: set either user or group, not both"},
		},
		{
			// Nobody to allow.
			name: "sudo nobody", input: svc + "    sudo: {allow: [restart]}\n",
			want: []string{"t.yaml:4:11: services[0].sudo: needs user or group: who may run the commands"},
		},
		{
			// Nothing allowed.
			name: "sudo nothing", input: svc + "    sudo: {group: a}\n",
			want: []string{"t.yaml:4:11: services[0].sudo.allow: must list at least one of start, stop, restart, quiet, status, reload (or give for: capistrano-sidekiq)"},
		},
		{
			// Unknown and repeated verbs.
			name: "sudo verbs", input: svc + "    sudo: {group: a, allow: [restart, edit, restart]}\n",
			want: []string{
				`t.yaml:4:39: services[0].sudo.allow[1]: must be one of start, stop, restart, quiet, status, reload, got "edit"`,
				"t.yaml:4:45: services[0].sudo.allow[2]: restart is listed twice",
			},
		},
		{
			// The shorthand's default file collides with an explicit one.
			name: "sudo file collision", input: svc + "    sudo: {group: a, allow: [restart]}\nsudoers:\n  - name: web-users\n    rules: [{who: a, commands: [/bin/systemctl restart x]}]\n",
			want: []string{`t.yaml:4:11: services[0].sudo.file: sudoers file "web-users" is also written by sudoers[0].name`},
		},

		{
			// The default file of a service with a dot in its name would be
			// ignored by sudo: the spec must name the file.
			name: "sudo default file with dot", input: "services:\n  - name: php8.2-fpm\n    exec_start: /usr/sbin/php-fpm8.2\n    sudo: {group: a, allow: [restart]}\n",
			want: []string{`t.yaml:4:11: services[0].sudo.file: "php8.2-fpm-users" contains a dot, so sudo would ignore the file`},
		},

		// --- sudoers ---
		{
			// sudo skips files with a dot in their name.
			name: "sudoers dot", input: "sudoers:\n  - name: web.conf\n    rules: [{who: a, commands: [/bin/systemctl restart x]}]\n",
			want: []string{`t.yaml:2:11: sudoers[0].name: "web.conf" contains a dot, so sudo would ignore the file`},
		},
		{
			// and files ending in ~.
			name: "sudoers tilde", input: "sudoers:\n  - name: web~\n    rules: [{who: a, commands: [/bin/systemctl restart x]}]\n",
			want: []string{`t.yaml:2:11: sudoers[0].name: "web~" ends in ~, so sudo would ignore the file`},
		},
		{
			// Names are kept to a portable alphabet.
			name: "sudoers name chars", input: "sudoers:\n  - name: web/users\n    rules: [{who: a, commands: [/bin/systemctl restart x]}]\n",
			want: []string{`t.yaml:2:11: sudoers[0].name: "web/users" must contain only letters, digits, _ and -`},
		},
		{
			// Two explicit files with one name.
			name: "sudoers duplicate", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/bin/systemctl restart x]}]\n  - name: a\n    rules: [{who: a, commands: [/bin/systemctl restart x]}]\n",
			want: []string{`t.yaml:4:11: sudoers[1].name: sudoers file "a" is also written by sudoers[0].name`},
		},
		{
			// A file without rules, a rule without commands.
			name: "sudoers empty", input: "sudoers:\n  - name: a\n  - name: b\n    rules: [{who: a}]\n",
			want: []string{
				"t.yaml:2:5: sudoers[0].rules: must list at least one rule",
				"t.yaml:4:13: sudoers[1].rules[0].commands: must list at least one command",
			},
		},
		{
			// who is a user or %group; run_as a user.
			name: "sudoers who", input: "sudoers:\n  - name: a\n    rules: [{who: ALL, run_as: '#0', commands: [/bin/systemctl restart x]}]\n",
			want: []string{
				`t.yaml:3:19: sudoers[0].rules[0].who: user name (or %group) "ALL" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
				`t.yaml:3:32: sudoers[0].rules[0].run_as: user name "#0" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
			},
		},
		{
			// ALL grants everything.
			name: "command ALL", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [ALL]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: ALL would allow every command as root; list the commands"},
		},
		{
			// A hundred workers is the limit.
			name: "instances too many", input: svc + "    instances: 101\n",
			want: []string{"t.yaml:4:16: services[0].instances: must be between 1 and 100, or left out for a plain unit"},
		},
		{
			// A count is a whole number.
			name: "instances not a number", input: svc + "    instances: two\n",
			want: []string{`t.yaml:4:16: services[0].instances: must be a whole number, got "two"`},
		},
		{
			// systemctl edit opens an editor as root: a root shell.
			name: "systemctl edit", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/bin/systemctl edit web]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: systemctl edit is not allowed in a sudoers rule; allow one of start, stop, restart, try-restart, reload, reload-or-restart, try-reload-or-restart, kill, status, show, cat, is-active, is-enabled, is-failed"},
		},
		{
			// A plain file in sudoers.d would bypass visudo and every rule check.
			name: "file in sudoers.d", input: "files:\n  - path: /etc/sudoers.d/x\n    content: \"deploy ALL=(ALL) NOPASSWD: ALL\\n\"\n",
			want: []string{"t.yaml:2:11: files[0].path: /etc/sudoers.d/x is not managed as a plain file or directory: sudo's configuration is written only as sudoers: drop-ins or a service's sudo:, which visudo checks"},
		},
		{
			// Nor /etc/sudoers itself.
			name: "file /etc/sudoers", input: "files:\n  - path: /etc/sudoers\n",
			want: []string{"t.yaml:2:11: files[0].path: /etc/sudoers is not managed as a plain file or directory: sudo's configuration is written only as sudoers: drop-ins or a service's sudo:, which visudo checks"},
		},
		{
			// A unit written as a plain file would bypass unit validation.
			name: "file in unit dir", input: "files:\n  - path: /etc/systemd/system/x.service\n",
			want: []string{"t.yaml:2:11: files[0].path: /etc/systemd/system/x.service is not managed as a plain file or directory: units are written only through services:, which validates them"},
		},
		{
			// The account databases belong to shadow-utils.
			name: "file /etc/shadow", input: "files:\n  - path: /etc/shadow\n    mode: \"0644\"\n",
			want: []string{"t.yaml:2:11: files[0].path: /etc/shadow is not managed as a plain file or directory: accounts are managed only through users:"},
		},
		{
			// Nor a directory that holds protected files.
			name: "directory /etc/sudoers.d", input: "directories:\n  - path: /etc/sudoers.d\n    mode: \"0777\"\n",
			want: []string{"t.yaml:2:11: directories[0].path: /etc/sudoers.d is not managed as a plain file or directory: sudo's configuration is written only as sudoers: drop-ins or a service's sudo:, which visudo checks"},
		},
		{
			// A command is an absolute path.
			name: "command relative", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [systemctl restart web]}]\n",
			want: []string{`t.yaml:3:33: sudoers[0].rules[0].commands[0]: must start with the absolute path of a program, got "systemctl"`},
		},
		{
			// sudoers special characters would change the rule.
			name: "command special", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: ['/bin/systemctl restart web, /bin/sh']}]\n",
			want: []string{`t.yaml:3:33: sudoers[0].rules[0].commands[0]: must not contain ',', which sudoers treats specially`},
		},
		{
			// Wildcards allow more than the command written.
			name: "command wildcard", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: ['/bin/systemctl restart *']}]\n",
			want: []string{`t.yaml:3:33: sudoers[0].rules[0].commands[0]: must not contain '*', which sudoers treats specially`},
		},
		{
			// Characters outside the command alphabet.
			name: "command shell syntax", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: ['/bin/echo a;b']}]\n",
			want: []string{`t.yaml:3:33: sudoers[0].rules[0].commands[0]: must not contain ';': commands may use only letters, digits, spaces and _ . / @ % + - ~`},
		},
		{
			// A shell as root is root.
			name: "command shell", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/bin/bash]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: runs /bin/bash, a shell: whoever may run it as root can do anything as root; allow a specific program instead"},
		},
		{
			// So is an interpreter, whatever its version.
			name: "command python", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/usr/bin/python3.11 /opt/x.py]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: runs /usr/bin/python3.11, an interpreter, which runs any program: whoever may run it as root can do anything as root; allow a specific program instead"},
		},
		{
			// env runs anything.
			name: "command unknown", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/usr/local/bin/deploy-hook]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: runs /usr/local/bin/deploy-hook, which provision does not know to be safe as root (it knows systemctl, systemd-cgls, journalctl); if you have checked that it runs no other program and writes no file its caller names, set unchecked: true on the rule (provision then warns about it on every run)"},
		},
		{
			// unchecked cannot allow a program known to run others.
			name: "command unchecked editor", input: "sudoers:\n  - name: a\n    rules: [{who: a, unchecked: true, commands: [/usr/bin/vim.basic /etc/motd]}]\n",
			want: []string{"t.yaml:3:50: sudoers[0].rules[0].commands[0]: runs /usr/bin/vim.basic, an editor, which can open a shell or write any file: whoever may run it as root can do anything as root; allow a specific program instead"},
		},
		{
			// systemctl on another system: over SSH, in a container.
			name: "systemctl host", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/bin/systemctl -H other restart web]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: systemctl -H acts on another system; it is not allowed in a sudoers rule"},
		},
		{
			name: "command env", input: "sudoers:\n  - name: a\n    rules: [{who: a, commands: [/usr/bin/env]}]\n",
			want: []string{"t.yaml:3:33: sudoers[0].rules[0].commands[0]: runs /usr/bin/env, a tool that runs another program, with other namespaces, privileges or limits: whoever may run it as root can do anything as root; allow a specific program instead"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErrors(t, tt.input)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestBillionLaughs checks that the classic alias bomb fails fast: its
// nested lists fit no field, so no alias is expanded more than once.
func TestBillionLaughs(t *testing.T) {
	input := `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
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
    after: [*i, *i, *i, *i]
    wanted_by: *i
`
	start := time.Now()
	got := loadErrors(t, input)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Load took %v", d)
	}
	if len(got) > 30 {
		t.Errorf("got %d errors, want the few that say where the bomb does not fit", len(got))
	}
	want := "t.yaml:9:4: services[0].after[0]: expected a string, got a list"
	if !slices.Contains(got, want) {
		t.Errorf("errors:\n%s\nwant among them:\n%s", strings.Join(got, "\n"), want)
	}
}

// TestAliasBudget checks that aliases that do fit the fields stop at
// MaxAliasExpansion, quickly: 2000 services each listing the same 10 units
// through one alias.
func TestAliasBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("services:\n  - &s {name: s, exec_start: /bin/x, after: &a [a.target, b.target, c.target, d.target, e.target, f.target, g.target, h.target, i.target, j.target]}\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "  - {name: s%d, exec_start: /bin/x, after: *a}\n", i)
	}
	start := time.Now()
	_, err := Load("t.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "aliases expand to more than 10000 values; write the values out") {
		t.Errorf("Load: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Load took %v", d)
	}
}

// TestManyErrors checks that one pass reports every problem, sorted by
// position.
func TestManyErrors(t *testing.T) {
	input := `users:
  - name: Deploy
  - shell: bin/bash
directories:
  - path: /data/
    mode: "0999"
files:
  - path: /data/.env
    owner: nobody!
services:
  - name: sidekiq.service
    restart: sometimes
    restart_sec: later
    state: running
    environment: {1A: x}
    sudo: {user: a, group: b, allow: [edit]}
sudoers:
  - name: x.conf
    rules: [{who: "%Ops", commands: [ALL]}]
colour: blue
`
	want := []string{
		`t.yaml:2:11: users[0].name: user name "Deploy" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
		`t.yaml:3:5: users[1].name: is required`,
		`t.yaml:3:12: users[1].shell: must be an absolute path, got "bin/bash"`,
		`t.yaml:5:11: directories[0].path: must not end with /`,
		`t.yaml:6:11: directories[0].mode: must be an octal mode such as "0644", got "0999"`,
		`t.yaml:9:12: files[0].owner: user name "nobody!" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
		`t.yaml:11:5: services[0].exec_start: is required`,
		`t.yaml:11:11: services[0].name: must be given without the .service suffix: "sidekiq"`,
		`t.yaml:12:14: services[0].restart: must be one of no, on-success, on-failure, on-abnormal, on-watchdog, on-abort, always`,
		`t.yaml:13:18: services[0].restart_sec: must be a number of seconds or a systemd time span such as 500ms or 5s, got "later"`,
		`t.yaml:14:12: services[0].state: must be started, stopped or absent, or left out to leave the service as it is`,
		`t.yaml:15:19: services[0].environment.1A: "1A" is not a valid variable name: use letters, digits and _, not starting with a digit`,
		`t.yaml:16:28: services[0].sudo.group: set either user or group, not both`,
		`t.yaml:16:39: services[0].sudo.allow[0]: must be one of start, stop, restart, quiet, status, reload, got "edit"`,
		`t.yaml:18:11: sudoers[0].name: "x.conf" contains a dot, so sudo would ignore the file`,
		`t.yaml:19:19: sudoers[0].rules[0].who: group name "Ops" must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)`,
		`t.yaml:19:38: sudoers[0].rules[0].commands[0]: ALL would allow every command as root; list the commands`,
		`t.yaml:20:1: colour: unknown key "colour"`,
	}
	got := loadErrors(t, input)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestErrorFormat checks the rendering of errors with unknown parts.
func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.yaml", Line: 3, Col: 7, Path: "services[0].restart", Msg: "bad"}, "a.yaml:3:7: services[0].restart: bad"},
		{Error{File: "a.yaml", Line: 3, Msg: "bad"}, "a.yaml:3: bad"},
		{Error{File: "a.yaml", Msg: "empty spec"}, "a.yaml: empty spec"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
