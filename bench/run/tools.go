package main

import (
	"fmt"
	"regexp"
	"strconv"

	"github.com/provision-dev/provision/internal/nspawn"
)

// Where the tools and their inputs go in a container.
const (
	ctrRunner   = "/usr/local/bin/bench-run"
	ctrProvison = "/usr/local/bin/provision"
	ctrSpec     = "/etc/provision.yaml"
	ctrScript   = "/usr/local/sbin/sidekiq.sh"
	ctrPlaybook = "/etc/bench/sidekiq.yml"
)

// tool is one way of converging the reference host.
type tool struct {
	name string
	// install copies what the tool needs into a container.
	install func(c *nspawn.Container, in inputs) error
	// cmd converges the host.
	cmd []string
	// changes returns how many changes the tool says it made, from its
	// output, and an error when the output says a step failed.
	changes func(out string) (int, error)
}

// inputs are the host files the tools are made of.
type inputs struct {
	provision string // static provision binary
	spec      string // the example spec
	script    string // sidekiq.sh
	playbook  string // sidekiq.yml
}

var (
	provisionRecap = regexp.MustCompile(`(?m)^apply: (\d+) ok, (\d+) changed, (\d+) failed, (\d+) skipped`)
	scriptRecap    = regexp.MustCompile(`(?m)^sidekiq\.sh: (\d+) changed$`)
	ansibleRecap   = regexp.MustCompile(`(?m)^localhost\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)
)

func provisionTool(specPath string) tool {
	return tool{
		name: "provision",
		install: func(c *nspawn.Container, in inputs) error {
			if err := c.CopyIn(in.provision, ctrProvison, 0o755); err != nil {
				return err
			}
			return c.CopyIn(specPath, ctrSpec, 0o644)
		},
		cmd: []string{"provision", "apply", "-f", ctrSpec},
		changes: func(out string) (int, error) {
			m := provisionRecap.FindStringSubmatch(out)
			if m == nil {
				return 0, fmt.Errorf("no recap line in provision's output")
			}
			if m[3] != "0" || m[4] != "0" {
				return 0, fmt.Errorf("provision: %s failed, %s skipped", m[3], m[4])
			}
			return strconv.Atoi(m[2])
		},
	}
}

var shellTool = tool{
	name: "shell",
	install: func(c *nspawn.Container, in inputs) error {
		return c.CopyIn(in.script, ctrScript, 0o755)
	},
	cmd: []string{ctrScript},
	changes: func(out string) (int, error) {
		m := scriptRecap.FindStringSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("no recap line in sidekiq.sh's output")
		}
		return strconv.Atoi(m[1])
	},
}

var ansibleTool = tool{
	name: "ansible",
	install: func(c *nspawn.Container, in inputs) error {
		return c.CopyIn(in.playbook, ctrPlaybook, 0o644)
	},
	cmd: []string{"ansible-playbook", "-c", "local", "-i", "localhost,", ctrPlaybook},
	changes: func(out string) (int, error) {
		m := ansibleRecap.FindStringSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("no PLAY RECAP line in ansible-playbook's output")
		}
		if m[3] != "0" || m[4] != "0" {
			return 0, fmt.Errorf("ansible-playbook: unreachable=%s failed=%s", m[3], m[4])
		}
		return strconv.Atoi(m[2])
	},
}
