package spec

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// warnings loads a spec that must be valid and returns its warnings, one
// rendered line each.
func warnings(t *testing.T, input string) []string {
	t.Helper()
	s, err := Load("t.yaml", []byte(input))
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	var lines []string
	for _, w := range s.Warnings() {
		if !w.Warning {
			t.Errorf("warning %q does not have Warning set", w)
		}
		lines = append(lines, w.Error())
	}
	return lines
}

// sidekiqNotify is the tail of a Sidekiq service that draws no warning.
const sidekiqNotify = `    exec_start: /usr/bin/sidekiq -e production
    type: notify
    options: [{section: Service, name: WatchdogSec, value: "10"}]
`

func TestLintWarnings(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // each a prefix of a warning line, in order
	}{
		// --- After=syslog.target ---
		{
			// The reference unit's After=: the element is pointed at.
			name: "syslog.target in after",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    after: [network.target, syslog.target]
`,
			want: []string{"t.yaml:4:29: warning: services[0].after[1]: syslog.target is obsolete: syslog is socket-activated (syslog.socket), so After=syslog.target does nothing; remove it"},
		},
		{
			// Wants= on it is as pointless.
			name: "syslog.target in wants",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    wants:
      - syslog.target
`,
			want: []string{"t.yaml:5:9: warning: services[0].wants[0]: syslog.target is obsolete: syslog is socket-activated (syslog.socket), so Wants=syslog.target does nothing"},
		},
		{
			// An extra [Unit] option with several units in its value.
			name: "syslog.target in an option",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    options:
      - {section: Unit, name: After, value: "redis.service syslog.target"}
`,
			want: []string{"t.yaml:5:45: warning: services[0].options[0].value: syslog.target is obsolete"},
		},
		{
			// A verbatim unit is read through systemd's syntax; the warning
			// points at the unit text.
			name: "syslog.target in a verbatim unit",
			input: `services:
  - name: web
    unit: |
      [Unit]
      After=network.target syslog.target
      [Service]
      ExecStart=/usr/bin/web
`,
			want: []string{"t.yaml:3:11: warning: services[0].unit: syslog.target is obsolete"},
		},
		{
			// syslog.service, or syslog.target in [Install], is no concern.
			name: "other syslog units",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    after: [syslog.service]
    wanted_by: [multi-user.target]
`,
		},

		// --- a Sidekiq service without Type=notify ---
		{
			// No type: the warning is at the service, with the path of the
			// field to add.
			name: "sidekiq without type",
			input: `services:
  - name: worker
    exec_start: /usr/local/rbenv/bin/rbenv exec bundle exec sidekiq -e production
`,
			want: []string{"t.yaml:2:5: warning: services[0].type: Sidekiq runs with Type=simple (type is not set): systemctl restart returns before Sidekiq handles signals, so a TSTP (quiet) sent right after a restart can be lost; use type: notify with a WatchdogSec= option (Sidekiq 6 and later support sd_notify), so that a restart waits until Sidekiq is ready"},
		},
		{
			// An explicit simple is pointed at.
			name: "sidekiq with type simple",
			input: `services:
  - name: worker
    exec_start: /usr/bin/sidekiq
    type: simple
`,
			want: []string{"t.yaml:4:11: warning: services[0].type: Sidekiq runs with Type=simple: "},
		},
		{
			// Type=exec only waits for the exec: Sidekiq has not set up its
			// handlers then either.
			name: "sidekiq with type exec",
			input: `services:
  - name: worker
    exec_start: /usr/bin/bundle exec Sidekiq
    type: exec
`,
			want: []string{"t.yaml:4:11: warning: services[0].type: Sidekiq runs with Type=exec: "},
		},
		{
			// Type given as an extra option.
			name: "sidekiq with type in an option",
			input: `services:
  - name: worker
    exec_start: /usr/bin/sidekiq
    options: [{section: Service, name: Type, value: simple}]
`,
			want: []string{"t.yaml:4:53: warning: services[0].options[0].value: Sidekiq runs with Type=simple: "},
		},
		{
			// A verbatim unit without Type=.
			name: "sidekiq in a verbatim unit",
			input: `services:
  - name: worker
    unit: |
      [Service]
      ExecStart=/usr/bin/sidekiq -e production
`,
			want: []string{"t.yaml:3:11: warning: services[0].unit: Sidekiq runs with Type=simple (the unit sets no Type=): "},
		},
		{
			// Type=notify, whether or not the watchdog is set, is right.
			name:  "sidekiq with type notify",
			input: "services:\n  - name: worker\n" + sidekiqNotify,
		},
		{
			// Verbatim with Type=notify.
			name: "sidekiq verbatim notify",
			input: `services:
  - name: worker
    unit: |
      [Service]
      Type=notify
      ExecStart=/usr/bin/sidekiq
`,
		},
		{
			// Other programs of Type=simple are none of this lint's
			// business.
			name: "not sidekiq",
			input: `services:
  - name: web
    exec_start: /usr/bin/puma -e production
`,
		},

		// --- what loses jobs or signals on a deploy ---
		{
			// -t 120 does not fit in the default TimeoutStopSec=90s.
			name: "sidekiq timeout",
			input: `services:
  - name: worker
    exec_start: /usr/bin/sidekiq -e production -t 120
    type: notify
    options: [{section: Service, name: WatchdogSec, value: "10"}]
`,
			want: []string{"t.yaml:5:14: warning: services[0].options: Sidekiq waits up to 120s on TERM for its jobs to finish, but TimeoutStopSec is not set, so 90s: systemd kills the jobs still running; set TimeoutStopSec to at least 125s"},
		},
		{
			// The default 25s fits a TimeoutStopSec of 30, not of 20;
			// KillMode=process orphans the workers.
			name: "sidekiq stop settings",
			input: `services:
  - name: worker
    exec_start: /usr/bin/sidekiq
    type: notify
    options:
      - {section: Service, name: TimeoutStopSec, value: "20"}
      - {section: Service, name: KillMode, value: process}
`,
			want: []string{
				"t.yaml:6:57: warning: services[0].options[0].value: Sidekiq waits up to 25s on TERM for its jobs to finish, but TimeoutStopSec=20: systemd kills the jobs still running",
				"t.yaml:7:51: warning: services[0].options[1].value: KillMode=process stops only Sidekiq's main process",
			},
		},
		{
			// A wrapper under Type=notify, without NotifyAccess=all.
			name: "notify through rbenv",
			input: `services:
  - name: worker
    exec_start: /usr/local/rbenv/bin/rbenv exec bundle exec sidekiq
    type: notify
    options: [{section: Service, name: TimeoutStopSec, value: "30"}]
`,
			want: []string{"t.yaml:4:11: warning: services[0].type: Type=notify with ExecStart= through rbenv: the READY=1 comes from the worker, a child of rbenv, and systemd drops it"},
		},
		{
			// The shell gets the signals.
			name: "bash -lc without exec",
			input: `services:
  - name: worker
    exec_start: /bin/bash -lc 'cd /app && bundle exec sidekiq'
    type: notify
    options: [{section: Service, name: NotifyAccess, value: all}, {section: Service, name: TimeoutStopSec, value: "30"}]
`,
			want: []string{"t.yaml:3:17: warning: services[0].exec_start: bash -lc runs the worker as the shell's child: systemd sends TSTP (quiet) and TERM (stop) to the shell, not to the worker; start the command with exec"},
		},
		{
			// With exec, and NotifyAccess=all: nothing to say.
			name: "bash -lc with exec",
			input: `services:
  - name: worker
    exec_start: /bin/bash -lc 'exec bundle exec sidekiq'
    type: notify
    options: [{section: Service, name: NotifyAccess, value: all}, {section: Service, name: TimeoutStopSec, value: "30"}]
`,
		},
		{
			// reload needs ExecReload=.
			name: "reload without ExecReload",
			input: `services:
  - name: web
    exec_start: /usr/bin/puma
    sudo: {group: deploy, allow: [restart, reload]}
`,
			want: []string{"t.yaml:4:44: warning: services[0].sudo.allow[1]: reload runs systemctl reload, but web.service has no ExecReload="},
		},

		// --- EnvironmentFile= ---
		{
			// In a directory the service's user owns: it can link the
			// file to one only root may read, and systemd reads it as
			// root.
			name: "environment file in the user's directory",
			input: `directories:
  - {path: /srv/web, owner: web, group: web, mode: "0750"}
services:
  - name: web
    user: web
    exec_start: /usr/bin/web
    environment_file: -/srv/web/.env
`,
			want: []string{"t.yaml:7:23: warning: services[0].environment_file: /srv/web/.env is in /srv/web, which web can write: systemd reads EnvironmentFile= as root and follows links"},
		},
		{
			// Writable by the service's group, further up.
			name: "environment file under the group's directory",
			input: `directories:
  - {path: /srv/web, owner: root, group: web, mode: "2770"}
  - {path: /srv/web/conf, mode: "0755"}
services:
  - name: web
    group: web
    exec_start: /usr/bin/web
    environment_file: -/srv/web/conf/env
`,
			want: []string{"t.yaml:8:23: warning: services[0].environment_file: /srv/web/conf/env is in /srv/web, which group web can write"},
		},
		{
			// root's directory, read-only for the group: no warning.
			name: "environment file in root's directory",
			input: `directories:
  - {path: /etc/web, owner: root, group: web, mode: "0750"}
services:
  - name: web
    user: web
    group: web
    exec_start: /usr/bin/web
    environment_file: -/etc/web/env
`,
		},
		{
			// Not created by the spec and not optional.
			name: "environment file not created",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    environment_file: /srv/web/.env
`,
			want: []string{`t.yaml:4:23: warning: services[0].environment_file: /srv/web/.env is not created by this spec, and systemd will not start the service while it is missing: list it under files (content may be left out), or write "-/srv/web/.env" if it may be missing`},
		},
		{
			// The spec creates it (with no content): no warning.
			name: "environment file created",
			input: `files:
  - {path: /srv/web/.env, mode: "0600"}
services:
  - name: web
    exec_start: /usr/bin/web
    environment_file: /srv/web/.env
`,
		},
		{
			// A "-" prefix allows it to be missing.
			name: "environment file optional",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    environment_file: -/srv/web/.env
`,
		},
		{
			// As an extra option, and in a verbatim unit; a specifier is
			// left alone.
			name: "environment file in options and verbatim",
			input: `services:
  - name: web
    exec_start: /usr/bin/web
    options:
      - {section: Service, name: EnvironmentFile, value: /etc/default/web}
      - {section: Service, name: EnvironmentFile, value: "%h/.env"}
  - name: api
    unit: |
      [Service]
      EnvironmentFile=/etc/default/api
      ExecStart=/usr/bin/api
`,
			want: []string{
				"t.yaml:5:58: warning: services[0].options[0].value: /etc/default/web is not created by this spec",
				"t.yaml:8:11: warning: services[1].unit: /etc/default/api is not created by this spec",
			},
		},

		// --- together ---
		{
			// Every warning at once, sorted by position.
			name: "several",
			input: `services:
  - name: sidekiq
    after: [syslog.target]
    environment_file: /srv/.env
    exec_start: /usr/bin/sidekiq
`,
			want: []string{
				"t.yaml:2:5: warning: services[0].type: Sidekiq runs with Type=simple",
				"t.yaml:3:13: warning: services[0].after[0]: syslog.target is obsolete",
				"t.yaml:4:23: warning: services[0].environment_file: /srv/.env is not created",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := warnings(t, tt.input)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("warning %d:\n%s\nwant it to start with\n%s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// The reference spec is the reference on purpose: it draws the two
// warnings its unit deserves and no other.
func TestLintExample(t *testing.T) {
	for _, file := range []string{"../examples/sidekiq/provision.yaml", "testdata/sidekiq.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Load("provision.yaml", data)
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, w := range s.Warnings() {
			paths = append(paths, w.Path)
		}
		if want := []string{"services[0].type", "services[0].after[0]", "services[0].environment_file"}; !slices.Equal(paths, want) {
			t.Errorf("%s warns at %q, want %q", file, paths, want)
		}
	}
}

// Warnings never make a spec invalid, and a valid spec without them has
// none.
func TestLintValidSpecs(t *testing.T) {
	for name := range validSpecs {
		if name == "sidekiq" {
			continue
		}
		s := loadValid(t, name)
		for _, w := range s.Warnings() {
			// Every unchecked sudoers command is warned about.
			if name == "sudoers" && strings.Contains(w.Msg, " unchecked (unchecked: true): ") {
				continue
			}
			t.Errorf("%s: unexpected %v", name, w)
		}
	}
	var unchecked []string
	for _, w := range loadValid(t, "sudoers").Warnings() {
		unchecked = append(unchecked, w.Path)
	}
	if want := []string{"sudoers[0].rules[0].commands[0]", "sudoers[0].rules[0].commands[1]", "sudoers[0].rules[2].commands[0]"}; !slices.Equal(unchecked, want) {
		t.Errorf("unchecked warnings at %q, want %q", unchecked, want)
	}
	if w := (&Spec{}).Warnings(); len(w) != 0 {
		t.Errorf("a Spec built in code has warnings %v", w)
	}
}
