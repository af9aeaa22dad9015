package spec

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// validSpecs are specs that must load, each using features the others do
// not.
var validSpecs = map[string]string{
	"sidekiq": "", // testdata/sidekiq.yaml, read by loadValid

	// Modes in every accepted spelling, directories with setgid and sticky
	// bits, a system user without home.
	"modes": `
users:
  - {name: app, system: true, groups: [adm]}
  - {name: ci$, group: builders, home: /var/lib/ci, shell: /bin/sh, authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG4 ci@example"]}
directories:
  - {path: /srv/a, mode: 0750}
  - {path: /srv/b, mode: "750"}
  - {path: /srv/c, mode: 0o2775, owner: app, group: builders}
  - {path: /srv/tmp, mode: 1777}
files:
  - {path: /srv/a/f, mode: "0640", content: "line 1\n\tline 2\n"}
`,

	// Every structured unit field, time spans, extra options, and
	// environment values that need quoting.
	"structured": `
services:
  - name: php8.2-fpm
    description: PHP 8.2 FastCGI %n
    after: [network-online.target, "dev-disk-by\\x2dlabel-data.device"]
    wants: [network-online.target]
    type: notify
    working_directory: /srv
    user: www-data
    group: www-data
    environment:
      PLAIN: /usr/local
      SPACES: "a b  c"
      QUOTES: "say \"hi\" 'there'"
      BACKSLASH: 'C:\dir\'
      PERCENT: 100%
      EMPTY: ""
    environment_file: -/etc/default/php-fpm
    exec_start: /usr/sbin/php-fpm8.2 --nodaemonize --fpm-config /etc/php/8.2/fpm/php-fpm.conf
    restart: always
    restart_sec: 1min 30.5s
    syslog_identifier: php-fpm
    wanted_by: [multi-user.target, graphical.target]
    enabled: false
    state: stopped
    options:
      - {section: Service, name: LimitNOFILE, value: "65536"}
      - {section: Service, name: Environment, value: "X=1"}
      - {section: Unit, name: StartLimitIntervalSec, value: "0"}
      - {section: X-Provision, name: Note, value: "kept"}
    sudo: {user: deploy, file: php-fpm, allow: [start, stop, restart, status, quiet]}
`,

	// A command systemd runs as root, said so; a semicolon and quotes
	// that are arguments.
	"privileged": `
services:
  - name: root-helper
    user: deploy
    exec_start: "+/usr/local/bin/helper --sep \\; 'a b'"
    privileged_exec: true
    options: [{section: Service, name: ExecStartPre, value: "!/usr/local/bin/prep"}]
`,

	// What is to go, and drop-ins: a retired service needs its name only.
	"retire": `
users:
  - {name: olduser, state: absent, remove_home: true}
directories:
  - {path: /srv/old, state: absent}
files:
  - {path: /srv/old/app.env, state: absent}
services:
  - {name: old-worker, state: absent}
  - {name: renamed, state: absent, sudo: {file: renamed-deploy, group: deploy, allow: [restart]}}
sudoers:
  - {name: old-rules, state: absent}
dropins:
  - unit: redis-server.service
    name: provision
    options: [{section: Service, name: LimitNOFILE, value: "65536"}]
  - unit: nginx.service
    name: limits
    restart: false
    content: |
      [Service]
      LimitNOFILE=4096
  - {unit: sidekiq.service, name: override, state: absent}
`,

	// A verbatim unit keeps its own text; the sudo shorthand still works.
	"verbatim": `
services:
  - name: legacy
    state: started
    unit: |
      # hand-written
      [Unit]
      Description=Legacy \
        service

      [Service]
      ExecStart=/opt/legacy/bin/run
    sudo: {group: ops, allow: [restart]}
`,

	// Explicit sudoers rules: run_as, no NOPASSWD, commands without
	// arguments, arguments with @ % + - ~.
	"sudoers": `
sudoers:
  - name: ops_1
    rules:
      - who: "%ops"
        run_as: postgres
        nopasswd: true
        unchecked: true
        commands: ["/usr/lib/postgresql/15/bin/pg_ctl reload", /usr/lib/postgresql/15/bin/pg_ctl]
      - who: alice
        commands: ["/usr/bin/journalctl -u nginx@main.service --since -1h"]
      - who: alice
        unchecked: true
        exec: true
        commands: ["/usr/local/bin/deploy  +x  ~/a%b"]
`,
}

func loadValid(t *testing.T, name string) *Spec {
	t.Helper()
	if name == "sidekiq" {
		return loadFile(t, "testdata/sidekiq.yaml")
	}
	s, err := Load(name+".yaml", []byte(validSpecs[name]))
	if err != nil {
		t.Fatalf("Load(%s):\n%v", name, err)
	}
	return s
}

// TestValidSpecs checks that the valid specs load and that what they render
// reads back: units through go-systemd's parser, sudoers one rule line per
// command.
func TestValidSpecs(t *testing.T) {
	for name := range validSpecs {
		t.Run(name, func(t *testing.T) {
			s := loadValid(t, name)
			checkRendered(t, s)
		})
	}
}

// checkRendered checks the properties every valid spec's output has.
func checkRendered(t *testing.T, s *Spec) {
	t.Helper()
	for _, svc := range s.Services {
		text := RenderUnit(svc)
		got, err := unit.DeserializeOptions(bytes.NewReader(text))
		if err != nil {
			t.Fatalf("unit of %s does not parse: %v\n%s", svc.Name, err, text)
		}
		want := UnitOptions(svc)
		if svc.Unit != "" {
			want, err = unit.DeserializeOptions(strings.NewReader(svc.Unit))
			if err != nil {
				t.Fatalf("verbatim unit of %s does not parse: %v", svc.Name, err)
			}
		}
		if !unit.AllMatch(got, want) {
			t.Fatalf("unit of %s reads back as\n%v\nwant\n%v\ntext:\n%q", svc.Name, got, want, text)
		}
	}
	for _, f := range s.SudoersFiles() {
		text := string(RenderSudoers(f))
		want := 0
		for _, r := range f.Rules {
			want += len(r.Commands)
		}
		got := 0
		for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if !strings.HasPrefix(line, "#") {
				got++
			}
		}
		if got != want || !strings.HasSuffix(text, "\n") {
			t.Fatalf("sudoers %s has %d rule lines for %d commands:\n%s", f.Name, got, want, text)
		}
	}
}

func TestStructuredEnvironment(t *testing.T) {
	s := loadValid(t, "structured")
	text := string(RenderUnit(s.Services[0]))
	for _, line := range []string{
		"Environment=PLAIN=/usr/local\n",
		`Environment="SPACES=a b  c"` + "\n",
		`Environment="QUOTES=say \"hi\" 'there'"` + "\n",
		`Environment="BACKSLASH=C:\\dir\\"` + "\n",
		"Environment=PERCENT=100%%\n",
		"Environment=EMPTY=\n",
		"RestartSec=1min 30.5s\n",
		"After=network-online.target dev-disk-by\\x2dlabel-data.device\n",
		"WantedBy=multi-user.target graphical.target\n",
		"[X-Provision]\nNote=kept\n",
	} {
		if !strings.Contains(text, line) {
			t.Errorf("unit lacks %q:\n%s", line, text)
		}
	}
}

// TestVisudo checks every rendered sudoers file with visudo, which is what
// sudo itself will parse.
func TestVisudo(t *testing.T) {
	if _, err := os.Stat(visudoPath); err != nil {
		t.Skipf("no visudo: %v", err)
	}
	for name := range validSpecs {
		checkVisudo(t, loadValid(t, name))
	}
}

const visudoPath = "/usr/sbin/visudo"

// checkVisudo has visudo -cf check every sudoers file s renders, when
// visudo is installed.
func checkVisudo(t *testing.T, s *Spec) {
	t.Helper()
	if _, err := os.Stat(visudoPath); err != nil {
		return
	}
	dir := t.TempDir()
	for _, f := range s.SudoersFiles() {
		file := filepath.Join(dir, f.Name)
		text := RenderSudoers(f)
		if err := os.WriteFile(file, text, 0o440); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(visudoPath, "-cf", file).CombinedOutput()
		if err != nil {
			t.Errorf("visudo -cf rejects %s: %v\n%s\n%s", f.Name, err, out, text)
		}
	}
}

// TestRestartSec checks the time spans restart_sec accepts: a bare number
// is seconds, as in the reference unit.
func TestRestartSec(t *testing.T) {
	for value, ok := range map[string]bool{
		"1": true, "1.5": true, "500ms": true, "5s": true, "1min 30s": true, "1min30s": true, "2 h": true,
		"x": false, "1x": false, "s": false, "1s 2": false, "-1": false, "infinity": false,
	} {
		input := "services:\n  - {name: a, exec_start: /bin/a, restart_sec: \"" + value + "\"}\n"
		if _, err := Load("t.yaml", []byte(input)); (err == nil) != ok {
			t.Errorf("restart_sec %q: accepted %v, want %v (%v)", value, err == nil, ok, err)
		}
	}
}
