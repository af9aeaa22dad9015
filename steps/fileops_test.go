package steps

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/spec"
)

func TestDirectoryApplyTwice(t *testing.T) {
	h, _ := testHost(t)
	dirs := graphOf(
		// Listed parent first: Build orders by depth, this test by hand.
		&ensureDirectory{dir: spec.Directory{Path: "/data", Owner: "root", Group: "root", Mode: 0o755}},
		&ensureDirectory{dir: spec.Directory{Path: "/data/app", Owner: "root", Group: "root", Mode: 0o2750}},
	)
	applyTwice(t, h, dirs)
	fi, err := os.Stat(filepath.Join(h.Root, "data/app"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModePerm != 0o750 || fi.Mode()&os.ModeSetgid == 0 {
		t.Errorf("mode = %v, want drwxr-s---", fi.Mode())
	}
}

func TestDirectoryModeDrift(t *testing.T) {
	h, _ := testHost(t)
	s := &ensureDirectory{dir: spec.Directory{Path: "/srv", Owner: "root", Group: "root", Mode: 0o755}}
	if err := os.Mkdir(filepath.Join(h.Root, "srv"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(h.Root, "srv"), 0o700)
	got, err := s.Converge(context.Background(), testEnv(h, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Summary != "mode 0700 -> 0755" {
		t.Fatalf("check = %+v, want one change mode 0700 -> 0755", got)
	}
	applyTwice(t, h, graphOf(s))
}

func TestFileApplyTwice(t *testing.T) {
	h, _ := testHost(t)
	content := "A=1\n"
	steps := graphOf(
		&ensureFile{file: spec.File{Path: "/etc/app.conf", Owner: "root", Group: "root", Mode: 0o644, Content: &content}},
		// No content: created empty, then left alone.
		&ensureFile{file: spec.File{Path: "/etc/app.env", Owner: "root", Group: "root", Mode: 0o600}},
	)
	first := applyTwice(t, h, steps)
	if d := first[0].Changes[0].Diff; !strings.Contains(d, "+A=1") || !strings.Contains(d, "--- /dev/null") {
		t.Errorf("create diff = %q, want a diff from /dev/null adding A=1", d)
	}
	data, err := os.ReadFile(filepath.Join(h.Root, "etc/app.conf"))
	if err != nil || string(data) != content {
		t.Fatalf("content = %q, %v", data, err)
	}
	// Content another tool wrote into an unmanaged file stays.
	os.WriteFile(filepath.Join(h.Root, "etc/app.env"), []byte("SECRET=x\n"), 0o600)
	res, err := Run(context.Background(), h, steps, ModeApply, nil)
	if err != nil || Counts(res)[StatusChanged] != 0 {
		t.Fatalf("apply after filling unmanaged file: %+v, %v", res, err)
	}
}

func TestFileContentDrift(t *testing.T) {
	h, _ := testHost(t)
	content := "one\ntwo\n"
	s := &ensureFile{file: spec.File{Path: "/etc/x.conf", Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
	os.WriteFile(filepath.Join(h.Root, "etc/x.conf"), []byte("one\nTWO\n"), 0o644)
	got, err := s.Converge(context.Background(), testEnv(h, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0].Diff, "-TWO") || !strings.Contains(got[0].Diff, "+two") {
		t.Fatalf("check = %+v, want a content diff -TWO +two", got)
	}
	applyTwice(t, h, graphOf(s))
}

func TestSecretFileDiffHidden(t *testing.T) {
	h, _ := testHost(t)
	content := "PASSWORD=hunter2\n"
	s := &ensureFile{file: spec.File{Path: "/etc/secret", Owner: "root", Group: "root", Mode: 0o600, Content: &content}}
	got, err := s.Converge(context.Background(), testEnv(h, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || strings.Contains(got[0].Diff, "hunter2") {
		t.Fatalf("check = %+v, want the content hidden", got)
	}
}

func TestRefusesSymlinks(t *testing.T) {
	for _, tc := range []struct {
		name string
		link string // relative to root, points to target
		step Step
	}{
		// A managed file replaced by a link to a file outside the spec.
		{"file", "data/.env", &ensureFile{file: spec.File{Path: "/data/.env", Owner: "root", Group: "root", Mode: 0o600}}},
		// A managed directory replaced by a link.
		{"directory", "data/shared", &ensureDirectory{dir: spec.Directory{Path: "/data/shared", Owner: "root", Group: "root", Mode: 0o755}}},
		// A link on the way to a managed file.
		{"parent", "data/shared", &ensureFile{file: spec.File{Path: "/data/shared/.env", Owner: "root", Group: "root", Mode: 0o600}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testHost(t)
			victim := filepath.Join(t.TempDir(), "victim")
			os.Mkdir(victim, 0o755)
			os.WriteFile(filepath.Join(victim, ".env"), []byte("keep"), 0o644)
			os.MkdirAll(filepath.Join(h.Root, "data"), 0o755)
			target := victim
			if tc.name == "file" {
				target = filepath.Join(victim, ".env")
			}
			if err := os.Symlink(target, filepath.Join(h.Root, tc.link)); err != nil {
				t.Fatal(err)
			}
			// Planted by someone other than root (a root-owned link
			// on a root-owned path is followed: see below).
			os.Lchown(filepath.Join(h.Root, tc.link), 1001, 1001)
			_, err := tc.step.Converge(context.Background(), testEnv(h, true))
			if !errors.Is(err, rootfs.ErrSymlink) {
				t.Fatalf("apply = %v, want ErrSymlink", err)
			}
			fi, _ := os.Stat(filepath.Join(victim, ".env"))
			data, _ := os.ReadFile(filepath.Join(victim, ".env"))
			if string(data) != "keep" || fi.Mode().Perm() != 0o644 {
				t.Errorf("link target changed: %q %v", data, fi.Mode())
			}
		})
	}
}

func TestAtomicWriteLeavesNoTemporaryFile(t *testing.T) {
	h, _ := testHost(t)
	failing := func(string) error { return errors.New("rejected") }
	err := rootfs.FS{Root: h.Root}.WriteFileAtomic("/etc/sudoers.d/x", []byte("new"), 0o440, os.Getuid(), os.Getgid(), failing)
	if err == nil {
		t.Fatal("write with a failing check succeeded")
	}
	entries, _ := os.ReadDir(filepath.Join(h.Root, "etc/sudoers.d"))
	if len(entries) != 0 {
		t.Errorf("sudoers.d holds %v after a rejected write, want nothing", entries)
	}
}

// After installing a drop-in, each of its commands is put to sudo for a
// member of the rule's group; a refusal fails the step, the file stays.
func TestSudoersSelfCheck(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	sp := &spec.Spec{
		Users:    []spec.User{{Name: "deploy", Group: "deploy", Home: "/home/deploy", Shell: "/bin/bash"}},
		Services: []spec.Service{sidekiq()},
	}
	var steps []Step
	for _, s := range Build(sp).Steps() {
		if !strings.HasPrefix(s.ID(), "service") && !strings.HasPrefix(s.ID(), "unit") && !strings.HasPrefix(s.ID(), "enable") && s.ID() != "daemon-reload" {
			steps = append(steps, s)
		}
	}
	shadow.sudoDenies = []string{"/bin/systemctl kill -s TSTP sidekiq"}
	res, err := Run(context.Background(), h, graphOf(steps...), ModeApply, nil)
	if err == nil || !strings.Contains(err.Error(), `deploy may not run "/bin/systemctl kill -s TSTP sidekiq"`) {
		t.Fatalf("apply = %v, want the TSTP rule reported as refused", err)
	}
	var asked []string
	for _, c := range shadow.calls {
		if strings.HasPrefix(c, distro.Sudo+" ") {
			asked = append(asked, c)
		}
	}
	want := []string{"sudo -n -ll -U deploy", "sudo -n -l -U deploy /bin/systemctl restart sidekiq", "sudo -n -l -U deploy /bin/systemctl kill -s TSTP sidekiq"}
	if strings.Join(asked, "\n") != strings.Join(want, "\n") {
		t.Errorf("asked sudo:\n%s\nwant:\n%s", strings.Join(asked, "\n"), strings.Join(want, "\n"))
	}
	if last := res[len(res)-1]; last.Status != StatusFailed || len(last.Changes) != 1 {
		t.Errorf("sudoers step: %+v", last)
	}
	if _, err := os.Stat(filepath.Join(h.Root, "etc/sudoers.d/sidekiq-users")); err != nil {
		t.Errorf("the drop-in visudo accepted was removed: %v", err)
	}
}

// A drop-in that a killed run installed but never checked as a whole is
// checked by the next run, although its content is right.
func TestSudoersUncheckedByAKilledRun(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	sp := &spec.Spec{
		Users:   []spec.User{{Name: "deploy", Group: "deploy", Home: "/home/deploy", Shell: "/bin/bash"}},
		Sudoers: []spec.Sudoers{{Name: "deploy-users", Rules: []spec.SudoersRule{{Who: "%deploy", NoPasswd: true, Commands: []string{"/bin/systemctl restart web"}}}}},
	}
	steps := Build(sp)
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	if err := sudoersUnchecked.mark(testEnv(h, true), "deploy-users"); err != nil {
		t.Fatal(err)
	}
	shadow.calls = nil
	res, err := Run(context.Background(), h, steps, ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	last := res[len(res)-1]
	if last.Status != StatusChanged || !strings.HasPrefix(last.Changes[0].Summary, "check the sudo configuration") {
		t.Errorf("sudoers step: %+v", last)
	}
	want := []string{"visudo -c", "sudo -n -ll -U deploy", "sudo -n -l -U deploy /bin/systemctl restart web"}
	if strings.Join(shadow.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("ran %q, want %q", shadow.calls, want)
	}
	if unchecked, _ := sudoersUnchecked.has(testEnv(h, true), "deploy-users"); unchecked {
		t.Error("the marker is still there after the check")
	}
	if res, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil || Counts(res)[StatusChanged] != 0 {
		t.Errorf("apply after the check: %v %+v", err, res)
	}
}

// A link on the way to a managed path that only root could have planted
// (root's, in directories root alone can write) is followed, inside the
// root: /data -> /srv/data on a data volume. The same link in a directory
// others can write is refused, naming it.
func TestFollowsRootsOwnLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can make root's links")
	}
	h, _ := testHost(t)
	os.Chmod(h.Root, 0o755)
	os.MkdirAll(filepath.Join(h.Root, "srv/data"), 0o755)
	os.Chown(filepath.Join(h.Root, "srv/data"), 1001, 1001) // the volume may be the app's
	if err := os.Symlink("/srv/data", filepath.Join(h.Root, "data")); err != nil {
		t.Fatal(err)
	}
	content := "x\n"
	s := &ensureFile{file: spec.File{Path: "/data/app.conf", Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
	applyTwice(t, h, graphOf(s))
	if data, err := os.ReadFile(filepath.Join(h.Root, "srv/data/app.conf")); err != nil || string(data) != content {
		t.Errorf("through /data: %q %v", data, err)
	}
	// /data itself, managed: it is the directory it points to.
	d := &ensureDirectory{dir: spec.Directory{Path: "/data", Owner: "root", Group: "root", Mode: 0o750}}
	res := applyTwice(t, h, graphOf(d))
	if got := summaries2(res[0].Changes); !slices.Equal(got, []string{"mode 0755 -> 0750 (through the link /data -> /srv/data)", "owner 1001:1001 -> root:root (through the link /data -> /srv/data)"}) {
		t.Errorf("changes %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(h.Root, "data")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("/data is no longer the link: %v %v", fi, err)
	}

	// The same link where others can write.
	os.MkdirAll(filepath.Join(h.Root, "shared"), 0o755)
	os.Chmod(filepath.Join(h.Root, "shared"), 0o777)
	if err := os.Symlink("/srv/data", filepath.Join(h.Root, "shared/data")); err != nil {
		t.Fatal(err)
	}
	s = &ensureFile{file: spec.File{Path: "/shared/data/app.conf", Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
	_, err := s.Converge(context.Background(), testEnv(h, true))
	if !errors.Is(err, rootfs.ErrSymlink) || !strings.Contains(err.Error(), "/shared/data") {
		t.Errorf("a link in a directory others can write: %v, want ErrSymlink naming /shared/data", err)
	}
}

// The content of an existing file that is not world-readable, or that has
// a second hard link, is not printed, even when the spec makes the file
// world-readable; provision's own rendering (a drop-in it wrote) is.
func TestDiffHidesWhatWasNotPublic(t *testing.T) {
	h, _ := testHost(t)
	content := "public\n"
	writeTestFile(t, h.Root, "etc/was-secret", "PASSWORD=hunter2\n")
	os.Chmod(filepath.Join(h.Root, "etc/was-secret"), 0o600)
	writeTestFile(t, h.Root, "etc/linked", "root:$6$hash:19000:0:99999:7:::\n")
	os.Link(filepath.Join(h.Root, "etc/linked"), filepath.Join(h.Root, "etc/other-name"))
	for _, p := range []string{"/etc/was-secret", "/etc/linked"} {
		s := &ensureFile{file: spec.File{Path: p, Owner: "root", Group: "root", Mode: 0o644, Content: &content}}
		got, err := s.Converge(context.Background(), testEnv(h, false))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || strings.Contains(got[0].Diff, "hunter2") || strings.Contains(got[0].Diff, "$6$") || !strings.Contains(got[0].Diff, "hidden") {
			t.Errorf("%s: %+v, want the old content hidden", p, got)
		}
	}
	// A drop-in provision wrote (0440) shows its diff.
	sf := &writeSudoers{sudoers: spec.Sudoers{Name: "x", Rules: []spec.SudoersRule{{Who: "%deploy", NoPasswd: true, Exec: true, Commands: []string{"/bin/systemctl restart a"}}}}}
	writeTestFile(t, h.Root, "etc/sudoers.d/x", spec.ManagedHeader+"%deploy ALL= NOPASSWD: /bin/systemctl restart b\n")
	os.Chmod(filepath.Join(h.Root, "etc/sudoers.d/x"), 0o440)
	got, err := sf.Converge(context.Background(), testEnv(h, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !strings.Contains(got[0].Diff, "-%deploy ALL= NOPASSWD: /bin/systemctl restart b") {
		t.Errorf("own drop-in: %+v, want its diff", got)
	}
}

// sudo's own listing of the user's rules answers for every command found
// in it word for word, in one program; a command it lists without NOPASSWD
// fails a rule that says nopasswd; a listing with a negated command is not
// read, and each command is asked about on its own.
func TestSudoersSelfCheckFromListing(t *testing.T) {
	for _, tc := range []struct {
		name, listing string
		asked         int
		fails         string
	}{
		{"all listed", "Sudoers entry:\n    RunAsUsers: root\n    Options: !authenticate\n    Commands:\n\t/bin/systemctl restart sidekiq\n\t/bin/systemctl kill -s TSTP sidekiq\n", 1, ""},
		{"a password", "Sudoers entry:\n    RunAsUsers: root\n    Commands:\n\t/bin/systemctl restart sidekiq\n\t/bin/systemctl kill -s TSTP sidekiq\n", 1, `deploy may run "/bin/systemctl restart sidekiq" only with a password`},
		{"negated", "Sudoers entry:\n    RunAsUsers: root\n    Options: !authenticate\n    Commands:\n\t/bin/systemctl restart sidekiq\n\t/bin/systemctl kill -s TSTP sidekiq\n\nSudoers entry:\n    RunAsUsers: ALL\n    Commands:\n\t!/bin/systemctl kill -s TSTP sidekiq\n", 3, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _, shadow := testHostShadow(t)
			shadow.listing = tc.listing
			sp := &spec.Spec{
				Users:    []spec.User{{Name: "deploy", Group: "deploy", Home: "/home/deploy", Shell: "/bin/bash"}},
				Services: []spec.Service{sidekiq()},
			}
			var steps []Step
			for _, s := range Build(sp).Steps() {
				if strings.HasPrefix(s.ID(), "user") || strings.HasPrefix(s.ID(), "sudoers") {
					steps = append(steps, s)
				}
			}
			_, err := Run(context.Background(), h, graphOf(steps...), ModeApply, nil)
			asked := 0
			for _, c := range shadow.calls {
				if strings.HasPrefix(c, distro.Sudo+" ") {
					asked++
				}
			}
			if asked != tc.asked {
				t.Errorf("ran sudo %d times, want %d: %q", asked, tc.asked, shadow.calls)
			}
			if (err != nil) != (tc.fails != "") || err != nil && !strings.Contains(err.Error(), tc.fails) {
				t.Errorf("apply: %v, want %q", err, tc.fails)
			}
		})
	}
}

// batchSpec is three sudoers drop-ins for the group of one user.
func batchSpec() *spec.Spec {
	sp := &spec.Spec{Users: []spec.User{{Name: "deploy", Group: "deploy", Home: "/home/deploy", Shell: "/bin/bash"}}}
	for _, name := range []string{"a", "b", "c"} {
		sp.Sudoers = append(sp.Sudoers, spec.Sudoers{Name: name, Rules: []spec.SudoersRule{{Who: "%deploy", NoPasswd: true, Commands: []string{"/bin/systemctl restart " + name}}}})
	}
	return sp
}

// The drop-ins of a run are checked with visudo before they go in, all
// together (one visudo -c -f of a file that includes a copy of each), and
// share one check of the whole configuration and one listing of what sudo
// allows: not one per drop-in. Their results come in the graph's order,
// and a second run of the same graph checks nothing.
func TestSudoersBatchChecksOnce(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	shadow.listing = "User deploy may run the following commands on vm:\n\nSudoers entry:\n    RunAsUsers: root\n    Options: !authenticate\n    Commands:\n\t/bin/systemctl restart a\n\t/bin/systemctl restart b\n\t/bin/systemctl restart c\n"
	g := Build(batchSpec())
	var reported []string
	res, err := Run(context.Background(), h, g, ModeApply, func(r Result) { reported = append(reported, r.ID+" "+string(r.Status)) })
	if err != nil {
		t.Fatal(err)
	}
	count := func(prefix string) int {
		n := 0
		for _, c := range shadow.calls {
			if c == prefix || strings.HasPrefix(c, prefix+" ") && prefix != "visudo -c" {
				n++
			}
		}
		return n
	}
	if n := count("visudo -c -f"); n != 1 {
		t.Errorf("visudo -cf ran %d times, want 1 (the drop-ins together): %q", n, shadow.calls)
	}
	var want []string
	for _, sf := range batchSpec().Sudoers {
		want = append(want, string(spec.RenderSudoers(sf)))
	}
	if !slices.Equal(shadow.included, want) {
		t.Errorf("visudo checked together:\n%q\nwant the three drop-ins:\n%q", shadow.included, want)
	}
	if n := count("visudo -c"); n != 1 {
		t.Errorf("visudo -c ran %d times, want 1: %q", n, shadow.calls)
	}
	if n := count("sudo -n -ll -U deploy"); n != 1 {
		t.Errorf("sudo -ll ran %d times, want 1: %q", n, shadow.calls)
	}
	want = []string{"user deploy changed", "sudoers /etc/sudoers.d/a changed", "sudoers /etc/sudoers.d/b changed", "sudoers /etc/sudoers.d/c changed"}
	if !slices.Equal(reported, want) {
		t.Errorf("reported %q, want %q", reported, want)
	}
	for _, name := range []string{"a", "b", "c"} {
		if unchecked, _ := sudoersUnchecked.has(testEnv(h, true), name); unchecked {
			t.Errorf("%s still marked unchecked", name)
		}
	}
	if len(res) != 4 {
		t.Fatalf("%d results", len(res))
	}
	shadow.calls = nil
	if res, err := Run(context.Background(), h, g, ModeApply, nil); err != nil || Counts(res)[StatusChanged] != 0 || len(shadow.calls) != 0 {
		t.Errorf("second run: %v, %v, ran %q", err, Counts(res), shadow.calls)
	}
}

// When visudo rejects the run's new drop-ins together, each is checked on
// its own before it goes in, as visudo -cf of its temporary file; only
// those that differ from the installed file were put to visudo together.
func TestSudoersBatchFallsBackToEachDropin(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	shadow.listing = "User deploy may run the following commands on vm:\n\nSudoers entry:\n    RunAsUsers: root\n    Options: !authenticate\n    Commands:\n\t/bin/systemctl restart a\n\t/bin/systemctl restart b2\n\t/bin/systemctl restart c2\n"
	sp := batchSpec()
	if _, err := Run(context.Background(), h, Build(&spec.Spec{Users: sp.Users, Sudoers: sp.Sudoers[:1]}), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	sp.Sudoers[1].Rules[0].Commands = []string{"/bin/systemctl restart b2"}
	sp.Sudoers[2].Rules[0].Commands = []string{"/bin/systemctl restart c2"}
	shadow.calls, shadow.included = nil, nil
	shadow.wrapperRejects = "/tmp/x/1:1:1: syntax error"
	if _, err := Run(context.Background(), h, Build(sp), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{string(spec.RenderSudoers(sp.Sudoers[1])), string(spec.RenderSudoers(sp.Sudoers[2]))}; !slices.Equal(shadow.included, want) {
		t.Errorf("visudo checked together:\n%q\nwant b and c, which changed:\n%q", shadow.included, want)
	}
	var each []string
	for _, c := range shadow.calls {
		if strings.HasPrefix(c, "visudo -c -f ") && !strings.HasSuffix(c, "/all") {
			each = append(each, c)
		}
	}
	if len(each) != 2 || !strings.Contains(each[0], "/etc/sudoers.d/.b.provision-") || !strings.Contains(each[1], "/etc/sudoers.d/.c.provision-") {
		t.Errorf("checked one by one: %q, want b's and c's temporary files", each)
	}
}

// When visudo rejects the whole configuration with the run's drop-ins in
// place, every one of them is put back as it was (the one that existed
// with its old content, the new ones removed) and each step fails with
// visudo's message.
func TestSudoersBatchRollsBackEveryDropin(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	sp := batchSpec()
	if _, err := Run(context.Background(), h, Build(&spec.Spec{Users: sp.Users, Sudoers: sp.Sudoers[:1]}), ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	aPath := filepath.Join(h.Root, "etc/sudoers.d/a")
	before, err := os.ReadFile(aPath)
	if err != nil {
		t.Fatal(err)
	}
	sp.Sudoers[0].Rules[0].Commands = []string{"/bin/systemctl restart a2"}
	shadow.wholeRejects = "/etc/sudoers.d/zz:1:1: syntax error"
	res, err := Run(context.Background(), h, Build(sp), ModeApply, nil)
	if err == nil {
		t.Fatal("apply succeeded with the whole configuration rejected")
	}
	for _, r := range res[1:] {
		if r.Status != StatusFailed || !strings.Contains(r.Err.Error(), "previous state restored") || !strings.Contains(r.Err.Error(), "zz:1:1: syntax error") || !strings.Contains(r.Err.Error(), "3 drop-ins") {
			t.Errorf("%s: %s %v", r.ID, r.Status, r.Err)
		}
		if len(r.Changes) != 0 {
			t.Errorf("%s lists changes that were undone: %+v", r.ID, r.Changes)
		}
	}
	if got, _ := os.ReadFile(aPath); string(got) != string(before) {
		t.Errorf("a after the rollback:\n%s\nwant its old content:\n%s", got, before)
	}
	for _, name := range []string{"b", "c"} {
		if _, err := os.Lstat(filepath.Join(h.Root, "etc/sudoers.d", name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is there after the rollback (%v)", name, err)
		}
		if unchecked, _ := sudoersUnchecked.has(testEnv(h, true), name); unchecked {
			t.Errorf("%s still marked unchecked", name)
		}
	}
}
