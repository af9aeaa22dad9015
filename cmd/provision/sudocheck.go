package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/internal/sudolist"
	"github.com/provision-dev/provision/spec"
)

const sudoCheckHelp = `Read command lines (one a line, with or without a leading sudo or
/usr/bin/env sudo, as a deploy tool's log or "cap --dry-run" prints them;
a shell pipe after the command is ignored) and say of each whether the
user may run it through sudo without a password: "allowed", "denied", or
"password" (allowed only with one). sudo itself answers (sudo -l -U USER
COMMAND, which resolves the program as sudo will, through its secure_path);
whether a password is needed is read from sudo's listing of the user's
rules (sudo -ll -U USER). Exit 1 when any line is not allowed. Needs root.`

// sudoCheckFlags returns the flag set of sudo-check and its values.
func sudoCheckFlags(w io.Writer) (*flag.FlagSet, *string, *string, *string) {
	fs := flag.NewFlagSet("provision sudo-check", flag.ContinueOnError)
	fs.SetOutput(w)
	file := fs.String("f", "-", "`file` of command lines; - reads standard input")
	user := fs.String("u", "deploy", "the `user` who runs the commands")
	output := fs.String("output", "text", "output `format`: text or json")
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: provision sudo-check [flags]\n\n%s\n\nFlags:\n", sudoCheckHelp)
		fs.PrintDefaults()
	}
	return fs, file, user, output
}

// sudoVerdict is what sudo-check says of one command line.
type sudoVerdict struct {
	Line    string `json:"line"`
	Command string `json:"command"`
	// Verdict is allowed, denied or password.
	Verdict string `json:"verdict"`
	// Runs is the command as sudo resolved it, when allowed.
	Runs string `json:"runs,omitempty"`
	Note string `json:"note,omitempty"`
}

func sudoCheck(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, file, user, output := sudoCheckFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitInvalid
	}
	if fs.NArg() > 0 || *output != "text" && *output != "json" {
		fs.Usage()
		return exitInvalid
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "provision sudo-check: must run as root: it asks sudo about another user")
		return exitFailed
	}
	in := stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			fmt.Fprintf(stderr, "provision sudo-check: %v\n", err)
			return exitInvalid
		}
		defer f.Close()
		in = f
	}
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(in, spec.MaxSize))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "provision sudo-check: read: %v\n", err)
		return exitInvalid
	}
	listing, err := sudoRun(ctx, "-n", "-ll", "-U", *user)
	if err != nil {
		fmt.Fprintf(stderr, "provision sudo-check: list the rules of %s: %v\n", *user, err)
		return exitFailed
	}
	entries := sudolist.Parse(string(listing))
	var verdicts []sudoVerdict
	exit := exitOK
	for _, l := range lines {
		v := judgeLine(ctx, l, *user, entries)
		if v.Verdict != "allowed" {
			exit = exitFailed
		}
		verdicts = append(verdicts, v)
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(struct {
			User     string        `json:"user"`
			Commands []sudoVerdict `json:"commands"`
			ExitCode int           `json:"exit_code"`
		}{*user, verdicts, exit})
		return exit
	}
	for _, v := range verdicts {
		msg := fmt.Sprintf("%-9s %s", v.Verdict, v.Command)
		if v.Note != "" {
			msg += "  (" + v.Note + ")"
		}
		fmt.Fprintln(stdout, msg)
	}
	return exit
}

// judgeLine asks sudo about one command line.
func judgeLine(ctx context.Context, line, user string, entries []sudolist.Entry) sudoVerdict {
	words, runAs, note := commandWords(line)
	v := sudoVerdict{Line: line, Command: strings.Join(words, " "), Note: note}
	if len(words) == 0 {
		v.Verdict, v.Note = "denied", "no command"
		return v
	}
	args := []string{"-n", "-l", "-U", user}
	if runAs != "" {
		args = append(args, "-u", runAs)
	}
	out, err := sudoRun(ctx, append(args, words...)...)
	if err != nil {
		v.Verdict = "denied"
		return v
	}
	v.Runs = strings.TrimSpace(string(out))
	v.Verdict = "allowed"
	switch e, ok := matchingEntry(entries, strings.Fields(v.Runs), runAs); {
	case !ok:
		v.Note = "sudo allows it by a rule whose command provision cannot read; whether it asks for a password is not known"
	case !e.NoPassword:
		v.Verdict = "password"
	}
	return v
}

// commandWords takes the command out of a line: a leading env and sudo
// (with sudo's flags; -u gives runAs) go, and so does anything after a
// shell operator (| ; && ||). Single and double quotes group words.
func commandWords(line string) (words []string, runAs, note string) {
	words = shellWords(line)
	for i, w := range words {
		if slices.Contains([]string{"|", "||", "&&", ";"}, w) {
			words = words[:i]
			break
		}
	}
	if len(words) > 0 && (words[0] == "env" || filepath.Base(words[0]) == "env" && strings.HasPrefix(words[0], "/")) {
		words = words[1:]
	}
	if len(words) > 0 && filepath.Base(words[0]) == "sudo" {
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0], "-") {
			flag := words[0]
			words = words[1:]
			switch flag {
			case "-u", "--user":
				if len(words) > 0 {
					runAs, words = words[0], words[1:]
				}
			case "--":
				return words, runAs, note
			case "-n", "--non-interactive", "-E", "-H", "-S":
			default:
				note = "sudo flag " + flag + " was not read"
			}
		}
	}
	return words, runAs, note
}

// shellWords splits a line into words as a shell would, for the simple
// lines deploy tools print: white space separates, quotes group, a
// backslash escapes the next character; | ; && || are words of their own.
func shellWords(line string) []string {
	var words []string
	var b strings.Builder
	in := false
	var quote rune
	flush := func() {
		if in {
			words = append(words, b.String())
		}
		b.Reset()
		in = false
	}
	rs := []rune(line)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			b.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteRune(rs[i])
			in = true
		case r == ' ' || r == '\t':
			flush()
		case r == '|' || r == ';' || r == '&':
			flush()
			op := string(r)
			if i+1 < len(rs) && rs[i+1] == r && r != ';' {
				op += string(r)
				i++
			}
			words = append(words, op)
		default:
			b.WriteRune(r)
			in = true
		}
	}
	flush()
	return words
}

// matchingEntry finds the last entry (sudo's last match wins) with a
// command that is runs: the same program file (sudo compares files, so
// /bin/systemctl is /usr/bin/systemctl on a merged /usr) and the same
// arguments (an entry's program alone allows any; "" none). ok is false
// when no entry can be read as matching (aliases, wildcards, ALL, a
// negated command): then the caller cannot tell about a password.
func matchingEntry(entries []sudolist.Entry, runs []string, runAs string) (sudolist.Entry, bool) {
	var found sudolist.Entry
	ok := false
	for _, e := range entries {
		if runAs != "" && !slices.Contains(e.RunAs, runAs) && !slices.Contains(e.RunAs, "ALL") {
			continue
		}
		for _, c := range e.Commands {
			if strings.HasPrefix(c, "!") {
				return sudolist.Entry{}, false
			}
			words := strings.Fields(c)
			if len(words) == 0 || !sameFile(words[0], runs[0]) {
				continue
			}
			switch {
			case len(words) == 1:
			case len(words) == 2 && words[1] == `""`:
				if len(runs) != 1 {
					continue
				}
			case !slices.Equal(words[1:], runs[1:]):
				continue
			}
			found, ok = e, true
		}
	}
	return found, ok
}

// sudoRun runs sudo with args in a clean environment and returns its
// standard output.
func sudoRun(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, distro.Sudo, args...)
	cmd.Env = []string{"PATH=" + distro.Path, "LC_ALL=C"}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return out, fmt.Errorf("%w: %s", err, msg)
		}
	}
	return out, err
}
