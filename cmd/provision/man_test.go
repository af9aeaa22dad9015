package main

import (
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The manual page documents every command of the usage and every flag of
// every command with the text of -h, and groff renders it without a
// warning.
func TestManPage(t *testing.T) {
	code, page, errOut := runCmd(t, "", "help", "--man")
	if code != exitOK || !strings.HasPrefix(page, `.\" provision(8)`) {
		t.Fatalf("help --man = %d %q", code, errOut)
	}
	for _, c := range usageCommands() {
		if !strings.Contains(page, "\n.B "+roffEscape(c.name)+"\n"+roffText(c.summary)+"\n") {
			t.Errorf("the man page does not list %s with its summary %q", c.name, c.summary)
		}
	}
	for _, cmd := range specCommands {
		if !strings.Contains(page, roffText(commandHelp[cmd])) {
			t.Errorf("the man page lacks the help of %s", cmd)
		}
		fs, _ := newFlagSet(cmd, io.Discard)
		fs.VisitAll(func(f *flag.Flag) {
			_, text := flag.UnquoteUsage(f)
			if !strings.Contains(page, roffEscape(f.Name)+` "`) || !strings.Contains(page, roffText(text)) {
				t.Errorf("the man page lacks %s's flag -%s (%q)", cmd, f.Name, text)
			}
		})
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man is not installed: the page is not rendered")
	}
	path := filepath.Join(t.TempDir(), "provision.8")
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", path)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Errorf("man -l: %v\n%s", err, stderr.String())
	}
	// man overstrikes for bold and underline when it writes to a pipe.
	text := regexp.MustCompile(".\x08").ReplaceAllString(string(out), "")
	for _, want := range []string{"NAME", "provision - converge a Linux host", "--lock-timeout duration", "EXIT STATUS"} {
		if !strings.Contains(text, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
}

// The bash completion offers every command and every flag, is valid bash,
// and knows every flag that takes a value.
func TestBashCompletion(t *testing.T) {
	code, script, _ := runCmd(t, "", "help", "--bash-completion")
	if code != exitOK {
		t.Fatalf("help --bash-completion = %d", code)
	}
	for _, c := range usageCommands() {
		if !regexp.MustCompile(`\b` + c.name + `\b`).MatchString(script) {
			t.Errorf("completion lacks the command %s", c.name)
		}
	}
	for _, cmd := range specCommands {
		fs, _ := newFlagSet(cmd, io.Discard)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(script, "-"+f.Name) {
				t.Errorf("completion lacks %s's flag -%s", cmd, f.Name)
			}
			if !slices.Contains(completedFlags, f.Name) {
				t.Errorf("-%s takes a value bashCompletion does not know about: add it to its cases and completedFlags", f.Name)
			}
		})
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	if out, err := exec.Command(bash, "-n", "-c", script).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}

func TestHelpCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{"help", "verify"}, exitOK, "-textfile path"},
		{[]string{"help", "schema"}, exitOK, "JSON Schema"},
		{[]string{"help", "version"}, exitOK, "print the version"},
		{[]string{"help", "aply"}, exitInvalid, `unknown command "aply"`},
		{[]string{"help", "apply", "plan"}, exitInvalid, `unexpected argument "plan"`},
	} {
		code, out, errOut := runCmd(t, "", tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("provision %q = %d, %q %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}
