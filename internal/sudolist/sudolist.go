// Package sudolist reads sudo's own listing of what a user may run
// (sudo -ll -U USER): the entries sudo parsed from its configuration that
// apply to the user on this host, each with its run-as users, whether it
// asks for a password, and its commands as written. provision asks sudo
// itself what it allows; this listing lets it ask once per user instead of
// once per command, and tells which commands need no password, which
// sudo -l COMMAND does not say.
package sudolist

import (
	"strings"
)

// Entry is one "Sudoers entry" of the listing.
type Entry struct {
	RunAs []string
	// NoPassword is the NOPASSWD tag (Options: !authenticate).
	NoPassword bool
	// Commands are as the configuration writes them, one a line:
	// "/bin/systemctl restart sidekiq", "!/bin/sh", "ALL".
	Commands []string
}

// Parse reads the entries of the output of sudo -ll -U USER (sudo 1.9).
func Parse(out string) []Entry {
	var entries []Entry
	var cur *Entry
	inCommands := false
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "Sudoers entry:":
			entries = append(entries, Entry{})
			cur, inCommands = &entries[len(entries)-1], false
		case cur == nil || t == "":
		case strings.HasPrefix(t, "RunAsUsers:"):
			for _, u := range strings.Split(strings.TrimPrefix(t, "RunAsUsers:"), ",") {
				cur.RunAs = append(cur.RunAs, strings.TrimSpace(u))
			}
		case strings.HasPrefix(t, "Options:"):
			for _, o := range strings.Split(strings.TrimPrefix(t, "Options:"), ",") {
				if strings.TrimSpace(o) == "!authenticate" {
					cur.NoPassword = true
				}
			}
		case t == "Commands:":
			inCommands = true
		case inCommands:
			cur.Commands = append(cur.Commands, t)
		}
	}
	return entries
}

// Literal reports whether every command of every entry is literal: no
// negation (!), no ALL, no wildcard, no alias. Only then does a command
// found word for word in an entry mean that sudo allows it (sudo takes the
// last entry that matches, and a negated or wildcard one could match it
// too).
func Literal(entries []Entry) bool {
	for _, e := range entries {
		for _, c := range e.Commands {
			if strings.HasPrefix(c, "!") || c == "ALL" || strings.ContainsAny(c, "*?[]\\") || !strings.HasPrefix(c, "/") {
				return false
			}
		}
	}
	return true
}

// Find returns the last entry that holds cmd (words as provision writes
// them) word for word for run-as user runAs ("" is root), and whether
// there is one.
func Find(entries []Entry, cmd []string, runAs string) (Entry, bool) {
	if runAs == "" {
		runAs = "root"
	}
	var found Entry
	ok := false
	want := strings.Join(cmd, " ")
	for _, e := range entries {
		if !containsAny(e.RunAs, runAs, "ALL") {
			continue
		}
		for _, c := range e.Commands {
			if strings.Join(strings.Fields(c), " ") == want {
				found, ok = e, true
			}
		}
	}
	return found, ok
}

func containsAny(list []string, want ...string) bool {
	for _, l := range list {
		for _, w := range want {
			if l == w {
				return true
			}
		}
	}
	return false
}
