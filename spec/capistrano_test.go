package spec

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The Capistrano example runs, through sudo, exactly the commands the
// reference spec's drop-in allows the deploy group, word for word: sudo
// would refuse any other spelling.
func TestCapistranoExampleMatchesSudoers(t *testing.T) {
	data, err := os.ReadFile("../examples/sidekiq/provision.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load("provision.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for _, f := range s.SudoersFiles() {
		for _, r := range f.Rules {
			if r.Who == "%deploy" && r.NoPasswd && r.RunAs == "" {
				allowed = append(allowed, r.Commands...)
			}
		}
	}

	rb, err := os.ReadFile("../examples/capistrano/deploy.rb")
	if err != nil {
		t.Fatal(err)
	}
	sudoLine := regexp.MustCompile(`(?m)^\s*execute :sudo, (.*)$`)
	literal := regexp.MustCompile(`^"([^"\\#]*)"$`)
	var used []string
	for _, m := range sudoLine.FindAllStringSubmatch(string(rb), -1) {
		var words []string
		for _, arg := range strings.Split(m[1], ", ") {
			lit := literal.FindStringSubmatch(strings.TrimSpace(arg))
			if lit == nil {
				t.Fatalf("execute :sudo with %s: the test reads only string literals", arg)
			}
			words = append(words, lit[1])
		}
		if len(words) == 0 || words[0] != "-n" {
			t.Errorf("%q: call sudo -n, so that a refused command fails instead of waiting for a password", m[0])
		} else {
			words = words[1:]
		}
		cmd := strings.Join(words, " ")
		if !slices.Contains(allowed, cmd) {
			t.Errorf("deploy.rb runs sudo %q, which the drop-in does not allow (it allows %q)", cmd, allowed)
		}
		used = append(used, cmd)
	}
	slices.Sort(used)
	slices.Sort(allowed)
	if !slices.Equal(used, allowed) {
		t.Errorf("deploy.rb uses %q; the drop-in allows %q", used, allowed)
	}
}
