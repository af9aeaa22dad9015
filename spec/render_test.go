package spec

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// referenceUnit is the unit the Sidekiq host ran before provision managed
// it; the rendered unit must carry the same options in the same order.
const referenceUnit = `[Unit]
Description=Outmuscle Me Production Sidekiq
After=syslog.target network.target

[Service]
WorkingDirectory=/data/apps/outmuscleme/current
User=deploy
Group=deploy
Environment=RBENV_ROOT=/usr/local/rbenv
EnvironmentFile=/data/apps/outmuscleme/shared/.env
ExecStart=/usr/local/rbenv/bin/rbenv exec bundle exec sidekiq -e production
RestartSec=1
Restart=on-failure
SyslogIdentifier=sidekiq

[Install]
WantedBy=multi-user.target
`

const referenceSudoers = `%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq
%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq
`

func loadFile(t *testing.T, name string) *Spec {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(filepath.Base(name), data)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", name, err)
	}
	return s
}

func deserialize(t *testing.T, text []byte) []*unit.UnitOption {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("deserialize:\n%s\n%v", text, err)
	}
	return opts
}

func TestSidekiqUnit(t *testing.T) {
	s := loadFile(t, "testdata/sidekiq.yaml")
	if len(s.Services) != 1 {
		t.Fatalf("got %d services, want 1", len(s.Services))
	}
	svc := s.Services[0]
	if got, want := svc.UnitName(), "sidekiq.service"; got != want {
		t.Errorf("UnitName() = %q, want %q", got, want)
	}
	if got, want := svc.UnitPath(), "/etc/systemd/system/sidekiq.service"; got != want {
		t.Errorf("UnitPath() = %q, want %q", got, want)
	}
	got := RenderUnit(svc)
	if want := deserialize(t, []byte(referenceUnit)); !unit.AllMatch(deserialize(t, got), want) {
		t.Errorf("rendered unit has other options than the reference:\n%s", got)
	}
	if want := ManagedHeader + referenceUnit; string(got) != want {
		t.Errorf("RenderUnit:\n%s\nwant:\n%s", got, want)
	}
	golden, err := os.ReadFile("testdata/sidekiq.service")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Errorf("RenderUnit differs from testdata/sidekiq.service:\n%s", got)
	}
}

func TestSidekiqSudoers(t *testing.T) {
	s := loadFile(t, "testdata/sidekiq.yaml")
	files := s.SudoersFiles()
	if len(files) != 1 {
		t.Fatalf("got %d sudoers files, want 1", len(files))
	}
	if got, want := files[0].Path(), "/etc/sudoers.d/sidekiq-users"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	got := string(RenderSudoers(files[0]))
	if want := ManagedHeader + referenceSudoers; got != want {
		t.Errorf("RenderSudoers:\n%s\nwant:\n%s", got, want)
	}
	var rules []string
	for _, line := range strings.Split(got, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	if len(rules) != 2 {
		t.Errorf("got %d rule lines, want exactly 2:\n%s", len(rules), got)
	}
	golden, err := os.ReadFile("testdata/sidekiq-users.sudoers")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(golden) {
		t.Errorf("RenderSudoers differs from testdata/sidekiq-users.sudoers")
	}
}

// TestSidekiqExample checks that the shipped example renders what the
// reference host runs.
func TestSidekiqExample(t *testing.T) {
	const example = "../examples/sidekiq/provision.yaml"
	if _, err := os.Stat(example); err != nil {
		t.Skipf("no example: %v", err)
	}
	s := loadFile(t, example)
	ref := loadFile(t, "testdata/sidekiq.yaml")
	if len(s.Services) != 1 || string(RenderUnit(s.Services[0])) != string(RenderUnit(ref.Services[0])) {
		t.Errorf("the example renders another unit than testdata/sidekiq.yaml")
	}
	files := s.SudoersFiles()
	if len(files) != 1 || string(RenderSudoers(files[0])) != ManagedHeader+referenceSudoers {
		t.Errorf("the example renders other sudoers files than the reference")
	}
}

func TestSidekiqDefaults(t *testing.T) {
	s := loadFile(t, "testdata/sidekiq.yaml")
	u := s.Users[0]
	// Home is left to the account (a new one gets /home/deploy).
	if u.Group != "deploy" || u.Home != "" || u.Shell != "/bin/bash" {
		t.Errorf("user defaults: group %q home %q shell %q", u.Group, u.Home, u.Shell)
	}
	d := s.Directories[0]
	if d.Owner != "root" || d.Group != "root" || d.Mode != 0o755 {
		t.Errorf("directory defaults: %s:%s %s", d.Owner, d.Group, d.Mode)
	}
	f := s.Files[0]
	if f.Mode != 0o600 || f.Owner != "deploy" || f.Content != nil {
		t.Errorf("file: %s %s content %v", f.Owner, f.Mode, f.Content)
	}
	svc := s.Services[0]
	if !svc.IsEnabled() || svc.Enabled == nil || svc.Sudo.File != "sidekiq-users" {
		t.Errorf("service defaults: enabled %v sudo file %q", svc.Enabled, svc.Sudo.File)
	}
	if !s.DefinesUser("deploy") || !s.DefinesGroup("deploy") || s.DefinesUser("root") {
		t.Errorf("Defines: wrong answers")
	}
}

// TestDefaults covers the defaults that the reference spec does not use.
func TestDefaults(t *testing.T) {
	s, err := Load("t.yaml", []byte(`
users:
  - {name: app, system: true}
  - {name: web, group: www-data}
directories:
  - path: /srv
files:
  - {path: /srv/a, content: ""}
services:
  - name: worker
    exec_start: /usr/bin/worker
    enabled: false
    sudo: {user: web, allow: [start, stop, status]}
sudoers:
  - name: ops
    rules:
      - {who: web, unchecked: true, commands: [/usr/bin/uptime]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if u := s.Users[0]; u.Home != "" || u.Shell != "" || u.Group != "app" {
		t.Errorf("system user defaults: home %q shell %q group %q", u.Home, u.Shell, u.Group)
	}
	if u := s.Users[1]; u.Group != "www-data" || !s.DefinesGroup("www-data") || s.DefinesGroup("web") {
		t.Errorf("explicit group: %q", u.Group)
	}
	if d := s.Directories[0]; d.Mode != DefaultDirMode || d.Owner != "root" {
		t.Errorf("directory defaults: %s %s", d.Owner, d.Mode)
	}
	if f := s.Files[0]; f.Mode != DefaultFileMode || f.Content == nil || *f.Content != "" {
		t.Errorf("file defaults: %s %v", f.Mode, f.Content)
	}
	svc := s.Services[0]
	if svc.IsEnabled() || len(svc.WantedBy) != 1 || svc.WantedBy[0] != "multi-user.target" || svc.State != StateUnmanaged {
		t.Errorf("service: enabled %v wanted_by %v state %q", svc.IsEnabled(), svc.WantedBy, svc.State)
	}
	files := s.SudoersFiles()
	if len(files) != 2 || files[0].Name != "ops" || files[1].Name != "worker-users" {
		t.Fatalf("SudoersFiles: %+v", files)
	}
	want := ManagedHeader + `web ALL= NOEXEC: /usr/bin/uptime ""
`
	if got := string(RenderSudoers(files[0])); got != want {
		t.Errorf("ops:\n%s\nwant:\n%s", got, want)
	}
	want = ManagedHeader + `web ALL= NOPASSWD: /bin/systemctl start worker
web ALL= NOPASSWD: /bin/systemctl stop worker
web ALL= NOPASSWD: /bin/systemctl status worker
`
	if got := string(RenderSudoers(files[1])); got != want {
		t.Errorf("worker-users:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderUnit(t *testing.T) {
	tests := []struct {
		name string
		svc  Service
		want string
	}{
		{
			// A verbatim unit is written as given, with a final newline.
			name: "verbatim",
			svc:  Service{Name: "x", Unit: "[Service]\nExecStart=/bin/true"},
			want: "[Service]\nExecStart=/bin/true\n",
		},
		{
			// Environment values that systemd would split, unescape or
			// expand are quoted and escaped; keys are sorted.
			name: "environment",
			svc: Service{Name: "x", ExecStart: "/bin/x", Environment: map[string]string{
				"B": `a "b" c\d`, "A": "b c", "C": "100%", "D": "", "E": "it's",
			}},
			want: ManagedHeader + `[Service]
Environment="A=b c"
Environment="B=a \"b\" c\\d"
Environment=C=100%%
Environment=D=
Environment="E=it's"
ExecStart=/bin/x
`,
		},
		{
			// Extra options go to the end of their section; unknown
			// sections come last, in order of appearance.
			name: "options",
			svc: Service{Name: "x", Type: "notify", ExecStart: "/bin/x", Wants: []string{"a.service"}, WantedBy: []string{"b.target", "c.target"},
				Options: []UnitOption{
					{Section: "X-Extra", Name: "Foo", Value: "bar"},
					{Section: "Service", Name: "LimitNOFILE", Value: "65536"},
					{Section: "Install", Name: "Alias", Value: "y.service"},
					{Section: "Unit", Name: "StartLimitIntervalSec", Value: "0"},
				}},
			want: ManagedHeader + `[Unit]
Wants=a.service
StartLimitIntervalSec=0

[Service]
Type=notify
ExecStart=/bin/x
LimitNOFILE=65536

[Install]
WantedBy=b.target c.target
Alias=y.service

[X-Extra]
Foo=bar
`,
		},
		{
			// Structured values are literal: "%" is doubled wherever
			// systemd expands specifiers, so /data/50%off does not load
			// as /data/50debianff, nor "for %u" as "for root".
			name: "specifiers",
			svc: Service{Name: "x", Description: "for %u", WorkingDirectory: "/data/50%off", EnvironmentFile: "-/etc/%n.env",
				ExecStart: "/bin/x --rate 50% %i", SyslogIdentifier: "x%h"},
			want: ManagedHeader + `[Unit]
Description=for %%u

[Service]
WorkingDirectory=/data/50%%off
EnvironmentFile=-/etc/%%n.env
ExecStart=/bin/x --rate 50%% %%i
SyslogIdentifier=x%%h
`,
		},
		{
			// In a template, %i and %I stay the instance; other % do not.
			name: "template specifiers",
			svc:  Service{Name: "x", Instances: 2, Description: "worker %i of 100%", ExecStart: "/bin/x --id %I"},
			want: ManagedHeader + `[Unit]
Description=worker %i of 100%%

[Service]
ExecStart=/bin/x --id %I
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(RenderUnit(tt.svc)); got != tt.want {
				t.Errorf("RenderUnit:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// A template service runs NAME@1 to NAME@N, and its sudo shorthand allows
// each verb on each instance, verb by verb.
func TestInstances(t *testing.T) {
	sp, err := Load("t.yaml", []byte(`services:
  - name: worker
    exec_start: /usr/bin/worker --id %i
    instances: 2
    sudo: {group: deploy, allow: [restart, quiet]}
`))
	if err != nil {
		t.Fatal(err)
	}
	svc := sp.Services[0]
	if svc.UnitName() != "worker@.service" || svc.UnitPath() != "/etc/systemd/system/worker@.service" {
		t.Errorf("unit %s at %s", svc.UnitName(), svc.UnitPath())
	}
	if got := svc.Units(); !slices.Equal(got, []string{"worker@1.service", "worker@2.service"}) {
		t.Errorf("Units() = %q", got)
	}
	want := ManagedHeader +
		"%deploy ALL= NOPASSWD: /bin/systemctl restart worker@1\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl restart worker@2\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP worker@1\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP worker@2\n"
	if got := string(RenderSudoers(sp.SudoersFiles()[0])); got != want {
		t.Errorf("sudoers:\n%s\nwant:\n%s", got, want)
	}
}

// for: capistrano-sidekiq allows every spelling the plugin's releases use,
// each line once, after the allowed verbs; allow alone writes only its
// verbs; for a template, each instance.
func TestCapistranoSidekiqPreset(t *testing.T) {
	sp, err := Load("t.yaml", []byte(`services:
  - name: sidekiq
    exec_start: /usr/bin/sidekiq
    sudo: {group: deploy, allow: [restart, quiet], for: capistrano-sidekiq}
  - name: blog
    exec_start: /usr/bin/sidekiq
    sudo: {group: deploy, allow: [restart, quiet]}
  - name: worker
    exec_start: /usr/bin/sidekiq
    instances: 2
    sudo: {group: deploy, for: capistrano-sidekiq}
`))
	if err != nil {
		t.Fatal(err)
	}
	files := sp.SudoersFiles()
	want := ManagedHeader +
		"%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP sidekiq\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl start sidekiq\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl stop sidekiq\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl status sidekiq\n" +
		"%deploy ALL= NOPASSWD: /usr/bin/systemd-cgls -u sidekiq.service\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl start sidekiq.service\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl stop sidekiq.service\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl status sidekiq.service\n" +
		"%deploy ALL= NOPASSWD: /bin/systemctl restart sidekiq.service\n"
	if got := string(RenderSudoers(files[0])); got != want {
		t.Errorf("preset:\n%s\nwant:\n%s", got, want)
	}
	if got := string(RenderSudoers(files[1])); got != ManagedHeader+"%deploy ALL= NOPASSWD: /bin/systemctl restart blog\n%deploy ALL= NOPASSWD: /bin/systemctl kill -s TSTP blog\n" {
		t.Errorf("allow alone:\n%s", got)
	}
	got := string(RenderSudoers(files[2]))
	for _, line := range []string{"/bin/systemctl kill -s TSTP worker@1\n", "/bin/systemctl restart worker@2.service\n", "/usr/bin/systemd-cgls -u worker@2.service\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("instances: no %q in\n%s", line, got)
		}
	}
	if strings.Contains(got, " worker\n") || strings.Contains(got, " worker.service\n") {
		t.Errorf("instances: a line for the template's own name:\n%s", got)
	}
	checkVisudo(t, sp)
}
