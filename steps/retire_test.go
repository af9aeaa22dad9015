package steps

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/spec"
)

// changedIDs lists the steps that changed, in order.
func changedIDs(res []Result) []string {
	var out []string
	for _, r := range res {
		if r.Status == StatusChanged {
			out = append(out, r.ID)
		}
	}
	return out
}

// A started template service with a sudo drop-in, retired: its running
// instances are stopped before anything is removed, every link, the
// template and the drop-in go, with one reload; a plan says all that and
// changes nothing; the next apply changes nothing.
func TestRetireService(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	svc.Instances = 2
	if _, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	retired := serviceSpec(spec.Service{Name: "sidekiq", State: spec.StateAbsent})
	before := snapshot(t, h.Root)
	sd.calls = nil
	plan, err := Run(context.Background(), h, Build(retired), ModeCheck, nil)
	if err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, h.Root); !slices.Equal(before, after) {
		t.Error("plan changed files")
	}
	for _, c := range sd.calls {
		if strings.HasPrefix(c, "stop") || c == "reload" {
			t.Errorf("plan called %s", c)
		}
	}
	var planned []string
	for _, r := range plan {
		for _, c := range r.Changes {
			planned = append(planned, r.ID+": "+c.Summary)
		}
	}
	for _, want := range []string{
		"service sidekiq: sidekiq@1.service: stop (active -> inactive, the service is to be absent)",
		"service sidekiq: sidekiq@2.service: stop (active -> inactive, the service is to be absent)",
		"unit /etc/systemd/system/sidekiq.service: sidekiq@.service: remove file",
		"enable sidekiq.service: sidekiq@1.service: disable: remove /etc/systemd/system/multi-user.target.wants/sidekiq@1.service",
		"sudoers /etc/sudoers.d/sidekiq-users: remove file",
		"daemon-reload: reload systemd: sidekiq.service, links changed by enable sidekiq.service",
	} {
		if !slices.ContainsFunc(planned, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("plan does not say %q:\n%s", want, strings.Join(planned, "\n"))
		}
	}

	sd.calls = nil
	res := applyTwice(t, h, Build(retired))
	if got := changedIDs(res); !slices.Equal(got, []string{"service sidekiq", "unit /etc/systemd/system/sidekiq.service", "enable sidekiq.service", "daemon-reload", "sudoers /etc/sudoers.d/sidekiq-users"}) {
		t.Errorf("changed %q", got)
	}
	if count(sd.calls, "reload") != 1 {
		t.Errorf("calls %q: want one reload", sd.calls)
	}
	if i, j := slices.Index(sd.calls, "stop sidekiq@1.service"), slices.Index(sd.calls, "reload"); i < 0 || j < i {
		t.Errorf("calls %q: want the stops before the reload", sd.calls)
	}
	for _, p := range []string{"etc/systemd/system/sidekiq@.service", "etc/sudoers.d/sidekiq-users", "etc/systemd/system/multi-user.target.wants/sidekiq@1.service"} {
		if _, err := os.Lstat(filepath.Join(h.Root, p)); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", p, err)
		}
	}
}

// A failed unit of a retired service is reset, so that systemd forgets it.
func TestRetireResetsFailed(t *testing.T) {
	h, sd := testHost(t)
	svc := sidekiq()
	svc.State = spec.StateUnmanaged
	if _, err := Run(context.Background(), h, Build(serviceSpec(svc)), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	sd.set("sidekiq.service", func(s *UnitState) { s.LoadState, s.ActiveState = LoadLoaded, ActiveFailed })
	res := applyTwice(t, h, Build(serviceSpec(spec.Service{Name: "sidekiq", State: spec.StateAbsent})))
	if r := serviceResult(t, res, "forget sidekiq"); r.Status != StatusChanged || !slices.Contains(sd.calls, "reset-failed sidekiq.service") {
		t.Errorf("forget: %s %+v, calls %q", r.Status, r.Changes, sd.calls)
	}
}

// Files, directories (only empty ones), sudoers drop-ins and accounts go
// when the spec says absent; a directory with something in it, a link
// and a file with a second hard link are refused, naming what is wrong.
func TestRetireFilesDirectoriesUsers(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	h.Offline = true
	os.MkdirAll(filepath.Join(h.Root, "srv/old/empty"), 0o755)
	os.MkdirAll(filepath.Join(h.Root, "srv/full"), 0o755)
	writeTestFile(t, h.Root, "srv/full/left", "x")
	writeTestFile(t, h.Root, "srv/old/app.env", "A=1\n")
	writeTestFile(t, h.Root, "srv/linked", "secret")
	os.Link(filepath.Join(h.Root, "srv/linked"), filepath.Join(h.Root, "srv/other-name"))
	os.Symlink("/etc/passwd", filepath.Join(h.Root, "srv/link"))
	writeTestFile(t, h.Root, "etc/sudoers.d/old-users", "%old ALL= NOPASSWD: /bin/systemctl restart old\n")
	h.Exec(context.Background(), "groupadd", "old")
	h.Exec(context.Background(), "useradd", "-d", "/home/old", "-m", "-s", "/bin/sh", "old")
	shadow.calls = nil
	sp := &spec.Spec{
		Users: []spec.User{{Name: "old", Group: "old", State: spec.Absent}},
		Files: []spec.File{
			{Path: "/srv/old/app.env", Owner: "root", Group: "root", Mode: 0o644, State: spec.Absent},
			{Path: "/srv/linked", Owner: "root", Group: "root", Mode: 0o644, State: spec.Absent},
			{Path: "/srv/link", Owner: "root", Group: "root", Mode: 0o644, State: spec.Absent},
		},
		Directories: []spec.Directory{
			{Path: "/srv/old", Owner: "root", Group: "root", Mode: 0o755, State: spec.Absent},
			{Path: "/srv/old/empty", Owner: "root", Group: "root", Mode: 0o755, State: spec.Absent},
			{Path: "/srv/full", Owner: "root", Group: "root", Mode: 0o755, State: spec.Absent},
		},
		Sudoers: []spec.Sudoers{{Name: "old-users", State: spec.Absent}},
	}
	res, err := Run(context.Background(), h, Build(sp), ModeApply, nil)
	if err == nil {
		t.Fatal("refusals are not errors")
	}
	byID := map[string]Result{}
	for _, r := range res {
		byID[r.ID] = r
	}
	for id, want := range map[string]string{
		"file /srv/old/app.env":            "changed",
		"directory /srv/old/empty":         "changed",
		"directory /srv/old":               "changed",
		"sudoers /etc/sudoers.d/old-users": "changed",
		"user old":                         "changed",
		"file /srv/linked":                 "failed: /srv/linked: has more than one hard link",
		"file /srv/link":                   "failed: /srv/link: is a symbolic link",
		"directory /srv/full":              "failed: /srv/full: is to be absent but is not empty: left;",
	} {
		r := byID[id]
		got := string(r.Status)
		if r.Err != nil {
			got += ": " + r.Err.Error()
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
	for _, p := range []string{"srv/old", "etc/sudoers.d/old-users"} {
		if _, err := os.Lstat(filepath.Join(h.Root, p)); !os.IsNotExist(err) {
			t.Errorf("%s is still there", p)
		}
	}
	for _, p := range []string{"srv/full/left", "srv/linked", "home/old"} {
		if _, err := os.Lstat(filepath.Join(h.Root, p)); err != nil {
			t.Errorf("%s is gone: %v", p, err)
		}
	}
	if !slices.Contains(shadow.calls, "userdel --root "+h.Root+" old") {
		t.Errorf("calls %q: want userdel without --remove", shadow.calls)
	}
}

// A drop-in for a unit provision does not manage is written, reloads
// systemd once and restarts the unit when it runs and the drop-in
// changed; restart: false only reloads; absent removes it.
func TestDropinForeignUnit(t *testing.T) {
	h, sd := testHost(t)
	sd.run("redis-server.service")
	sd.set("redis-server.service", func(s *UnitState) { s.LoadState = LoadLoaded })
	d := spec.Dropin{Unit: "redis-server.service", Name: "provision", Options: []spec.UnitOption{{Section: "Service", Name: "LimitNOFILE", Value: "65536"}}}
	sp := &spec.Spec{Dropins: []spec.Dropin{d}}
	res := applyTwice(t, h, Build(sp))
	if got := changedIDs(res); !slices.Equal(got, []string{"dropin /etc/systemd/system/redis-server.service.d/provision.conf", "daemon-reload", "restart redis-server.service"}) {
		t.Errorf("changed %q", got)
	}
	if n := count(sd.calls, "restart redis-server.service"); n != 1 {
		t.Errorf("calls %q: %d restarts, want 1", sd.calls, n)
	}
	data, _ := os.ReadFile(filepath.Join(h.Root, "etc/systemd/system/redis-server.service.d/provision.conf"))
	if string(data) != spec.ManagedHeader+"[Service]\nLimitNOFILE=65536\n" {
		t.Errorf("drop-in:\n%s", data)
	}
	no := false
	d.Restart, d.Options[0].Value = &no, "4096"
	sd.calls = nil
	applyTwice(t, h, Build(&spec.Spec{Dropins: []spec.Dropin{d}}))
	if count(sd.calls, "reload") != 1 || slices.ContainsFunc(sd.calls, func(c string) bool { return strings.HasPrefix(c, "restart") }) {
		t.Errorf("restart: false: calls %q", sd.calls)
	}
	d.State = spec.Absent
	applyTwice(t, h, Build(&spec.Spec{Dropins: []spec.Dropin{d}}))
	if _, err := os.Stat(filepath.Join(h.Root, "etc/systemd/system/redis-server.service.d/provision.conf")); !os.IsNotExist(err) {
		t.Errorf("absent drop-in still there: %v", err)
	}
}

// A drop-in on a managed service that the spec does not write is drift: a
// check reports it, apply fails the service step naming it; listed with
// state: absent it is removed, and allow_dropins lets it be.
func TestForeignDropinsOnAService(t *testing.T) {
	h, sd := testHost(t)
	sp := serviceSpec(sidekiq())
	if _, err := Run(context.Background(), h, Build(sp), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	override := "/etc/systemd/system/sidekiq.service.d/override.conf"
	os.MkdirAll(filepath.Join(h.Root, filepath.Dir(override)), 0o755)
	writeTestFile(t, h.Root, override[1:], "[Service]\nUser=root\n")
	res, err := Run(context.Background(), h, Build(sp), ModeCheck, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := serviceResult(t, res, "service sidekiq"); r.Status != StatusChanged || !strings.Contains(summaries(r.Changes), "foreign drop-ins "+override) {
		t.Errorf("check: %s %+v", r.Status, r.Changes)
	}
	_, err = Run(context.Background(), h, Build(sp), ModeApply, nil)
	if err == nil || !strings.Contains(err.Error(), "service sidekiq: foreign drop-ins "+override+" change what sidekiq.service runs") {
		t.Errorf("apply: %v", err)
	}
	allowed := serviceSpec(sidekiq())
	allowed.Services[0].AllowDropins = true
	if res, err := Run(context.Background(), h, Build(allowed), ModeApply, nil); err != nil || Counts(res)[StatusChanged] != 0 {
		t.Errorf("allow_dropins: %v %+v", err, res)
	}
	sp.Dropins = []spec.Dropin{{Unit: "sidekiq.service", Name: "override", State: spec.Absent}}
	sd.calls = nil
	applyTwice(t, h, Build(sp))
	if _, err := os.Stat(filepath.Join(h.Root, override[1:])); !os.IsNotExist(err) {
		t.Errorf("the listed drop-in is still there")
	}
	if !slices.Contains(sd.calls, "restart sidekiq.service") {
		t.Errorf("calls %q: the service runs its unit without the drop-in only after a restart", sd.calls)
	}
}
