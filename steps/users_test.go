package steps

import (
	"context"
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
