package steps

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/spec"
)

func deployUser() spec.User {
	return spec.User{Name: "deploy", Group: "deploy", Home: "/home/deploy", Shell: "/bin/bash",
		AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB deploy@example"}}
}

func TestUserApplyTwice(t *testing.T) {
	h, _ := testHost(t)
	steps := Build(&spec.Spec{Users: []spec.User{deployUser()}})
	applyTwice(t, h, steps)
	accts, _ := testEnv(h, false).accounts()
	if a := accts["deploy"]; a.shell != "/bin/bash" || a.home != "/home/deploy" {
		t.Errorf("deploy = %+v", a)
	}
}

func TestUserDrift(t *testing.T) {
	h, _ := testHost(t)
	u := deployUser()
	u.AuthorizedKeys = nil
	u.Groups = []string{} // exactly none
	steps := Build(&spec.Spec{Users: []spec.User{u}})
	if _, err := Run(context.Background(), h, steps, ModeApply, nil); err != nil {
		t.Fatal(err)
	}
	// By hand: a new shell and an extra group.
	h.Exec(context.Background(), distro.Usermod, "-s", "/bin/sh", "deploy")
	h.Exec(context.Background(), distro.Groupadd, "docker")
	h.Exec(context.Background(), distro.Usermod, "-G", "docker", "deploy")
	res, err := Run(context.Background(), h, steps, ModeApply, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		for _, c := range r.Changes {
			got = append(got, r.ID+": "+c.Summary)
		}
	}
	want := "user deploy: groups [docker] -> []\nuser deploy: shell /bin/sh -> /bin/bash"
	if strings.Join(got, "\n") != want {
		t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func TestAuthorizedKeys(t *testing.T) {
	h, _ := testHost(t)
	first := applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{deployUser()}}))
	var summaries []string
	for _, r := range first {
		if r.ID == "authorized_keys deploy" {
			summaries = append(summaries, summaries2(r.Changes)...)
		}
	}
	want := []string{
		"/home/deploy/.ssh: create directory, mode 0700, owner deploy:deploy",
		"/home/deploy/.ssh/authorized_keys: create file, mode 0600, owner deploy:deploy",
	}
	if strings.Join(summaries, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes = %q, want %q", summaries, want)
	}
}

func summaries2(cs []Change) []string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Summary)
	}
	return s
}

// What the spec leaves out of an existing account stays: an account made
// with -d /srv/deploy -s /bin/sh keeps both, its groups stay, and its keys
// go to its own home.
func TestExistingAccountKeepsHomeShellGroups(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	h.Exec(context.Background(), distro.Groupadd, "deploy")
	h.Exec(context.Background(), distro.Groupadd, "docker")
	h.Exec(context.Background(), distro.Useradd, "-d", "/srv/deploy", "-m", "-s", "/bin/sh", "-G", "docker", "deploy")
	shadow.calls = nil
	u := spec.User{Name: "deploy", Group: "deploy", AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB deploy@example"}}
	res := applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{u}}))
	for _, c := range shadow.calls {
		if strings.HasPrefix(c, distro.Usermod) {
			t.Errorf("ran %s", c)
		}
	}
	if r := serviceResult(t, res, "user deploy"); r.Status != StatusOK {
		t.Errorf("user deploy: %s %+v", r.Status, r.Changes)
	}
	if _, err := os.Stat(filepath.Join(h.Root, "srv/deploy/.ssh/authorized_keys")); err != nil {
		t.Errorf("keys not in the account's own home: %v", err)
	}
	accts, _ := testEnv(h, false).accounts()
	if a := accts["deploy"]; a.home != "/srv/deploy" || a.shell != "/bin/sh" {
		t.Errorf("deploy = %+v", a)
	}
}

// root's keys are managed without a word about root's home or shell.
func TestRootKeys(t *testing.T) {
	h, _, shadow := testHostShadow(t)
	os.MkdirAll(filepath.Join(h.Root, "root"), 0o700)
	u := spec.User{Name: "root", Group: "root", AuthorizedKeys: []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB admin@example"}}
	res := applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{u}}))
	if len(shadow.calls) != 0 {
		t.Errorf("ran %q", shadow.calls)
	}
	var changed []string
	for _, r := range res {
		if r.Status == StatusChanged {
			changed = append(changed, r.ID)
		}
	}
	if !slices.Equal(changed, []string{"authorized_keys root"}) {
		t.Errorf("changed %q, want only root's keys", changed)
	}
	if _, err := os.Stat(filepath.Join(h.Root, "root/.ssh/authorized_keys")); err != nil {
		t.Error(err)
	}
}

// An account whose home is missing gets it made as useradd -m makes it:
// owned by the user, mode from login.defs, the skeleton copied.
func TestMissingHomeCreated(t *testing.T) {
	h, _ := testHost(t)
	writeTestFile(t, h.Root, "etc/login.defs", "UMASK\t\t027\n")
	os.MkdirAll(filepath.Join(h.Root, "etc/skel/.config"), 0o755)
	writeTestFile(t, h.Root, "etc/skel/.profile", "umask 022\n")
	h.Exec(context.Background(), distro.Groupadd, "deploy")
	// useradd killed after writing /etc/passwd: no home.
	h.Exec(context.Background(), distro.Useradd, "-d", "/home/deploy", "-M", "-s", "/bin/bash", "deploy")
	u := deployUser()
	res := applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{u}}))
	if got := summaries2(serviceResult(t, res, "user deploy").Changes); !slices.Equal(got, []string{"home /home/deploy is missing: create it as useradd -m does (mode 0750, from /etc/skel)"}) {
		t.Errorf("changes %q", got)
	}
	fi, err := os.Stat(filepath.Join(h.Root, "home/deploy"))
	if err != nil || fi.Mode().Perm() != 0o750 {
		t.Fatalf("home: %v %v", fi, err)
	}
	if data, err := os.ReadFile(filepath.Join(h.Root, "home/deploy/.profile")); err != nil || string(data) != "umask 022\n" {
		t.Errorf(".profile: %q %v", data, err)
	}
	if fi, err := os.Stat(filepath.Join(h.Root, "home/deploy/.config")); err != nil || !fi.IsDir() {
		t.Errorf(".config: %v", err)
	}
	if _, err := os.Stat(filepath.Join(h.Root, "home/deploy/.ssh/authorized_keys")); err != nil {
		t.Errorf("keys: %v", err)
	}
}

// An empty list of keys empties the file: a revoked key stops working.
func TestRevokedKeys(t *testing.T) {
	h, _ := testHost(t)
	u := deployUser()
	u.AuthorizedKeys = []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA a@example", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB b@example"}
	applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{u}}))
	keys := filepath.Join(h.Root, "home/deploy/.ssh/authorized_keys")
	u.AuthorizedKeys = u.AuthorizedKeys[:1]
	applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{u}}))
	if data, _ := os.ReadFile(keys); string(data) != "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA a@example\n" {
		t.Errorf("after removing b: %q", data)
	}
	u.AuthorizedKeys = []string{}
	applyTwice(t, h, Build(&spec.Spec{Users: []spec.User{u}}))
	if data, err := os.ReadFile(keys); err != nil || len(data) != 0 {
		t.Errorf("authorized_keys: [] leaves %q, %v", data, err)
	}
}
