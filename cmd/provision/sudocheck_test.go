package main

import (
	"slices"
	"testing"

	"github.com/provision-dev/provision/internal/sudolist"
)

func TestCommandWords(t *testing.T) {
	for _, tc := range []struct {
		line, runAs string
		words       []string
	}{
		{"sudo /bin/systemctl kill -s TSTP sidekiq", "", []string{"/bin/systemctl", "kill", "-s", "TSTP", "sidekiq"}},
		{"/usr/bin/env sudo systemctl stop sidekiq", "", []string{"systemctl", "stop", "sidekiq"}},
		{"systemctl restart sidekiq.service", "", []string{"systemctl", "restart", "sidekiq.service"}},
		{`sudo systemd-cgls -u sidekiq.service | tr -cd '\11\12\15\40-\176'`, "", []string{"systemd-cgls", "-u", "sidekiq.service"}},
		{"sudo -n -u postgres /usr/bin/psql -c 'select 1' && echo ok", "postgres", []string{"/usr/bin/psql", "-c", "select 1"}},
	} {
		words, runAs, _ := commandWords(tc.line)
		if !slices.Equal(words, tc.words) || runAs != tc.runAs {
			t.Errorf("commandWords(%q) = %q %q, want %q %q", tc.line, words, runAs, tc.words, tc.runAs)
		}
	}
}

// sudo -ll's listing, as sudo 1.9 prints it.
const listing = `User deploy may run the following commands on vm:

Sudoers entry:
    RunAsUsers: root
    Commands:
	/bin/true

Sudoers entry:
    RunAsUsers: root
    Options: !authenticate
    Commands:
	/bin/systemctl restart sidekiq
`

// The program sudo resolved is compared by file: /bin/systemctl and
// /usr/bin/systemctl are one on a merged /usr.
func TestMatchingEntry(t *testing.T) {
	entries := sudolist.Parse(listing)
	if e, ok := matchingEntry(entries, []string{"/bin/systemctl", "restart", "sidekiq"}, ""); !ok || !e.NoPassword {
		t.Errorf("restart: %+v %v", e, ok)
	}
	if e, ok := matchingEntry(entries, []string{"/bin/true", "x"}, ""); !ok || e.NoPassword {
		t.Errorf("true (a password): %+v %v", e, ok)
	}
	if _, ok := matchingEntry(entries, []string{"/bin/systemctl", "stop", "sidekiq"}, ""); ok {
		t.Error("stop matched")
	}
	denied := append(sudolist.Parse(listing), sudolist.Entry{RunAs: []string{"root"}, Commands: []string{"!/bin/systemctl kill -s TSTP sidekiq"}})
	if _, ok := matchingEntry(denied, []string{"/bin/systemctl", "restart", "sidekiq"}, ""); ok {
		t.Error("a negated command is not read: the verdict must say it cannot tell")
	}
}
