package hostcheck

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/spec"
)

// SudoPrograms judges, on the host, the program of every sudoers command
// the spec writes, as sudo will run it: the path given is resolved through
// its symbolic links under root (/usr/bin/editor -> /etc/alternatives/editor
// -> /usr/bin/vim.basic), and the binary it ends at is judged by
// spec.JudgeCommand, so that no name defeats the check. The binary and
// every directory and link on the way to it must be root's alone
// (rootfs.CheckTrustedIn): a program that its caller could replace is a
// root shell.
//
// It returns errors, positioned at the command (or at the service's
// sudo: for the shorthand), which make the spec unusable on this host,
// and warnings for programs the host lacks (sudo refuses them until they
// are installed).
func SudoPrograms(s *spec.Spec, root string) []*spec.Error {
	if root == "" {
		root = "/"
	}
	var out []*spec.Error
	files := s.SudoersFiles()
	// What the host says of each program is read once: a spec with a
	// hundred services names /usr/bin/systemctl a hundred times.
	type found struct {
		real       string
		resolveErr error
		missing    bool
		trustErr   error
	}
	programs := map[string]*found{}
	lookup := func(program string) *found {
		if f, ok := programs[program]; ok {
			return f
		}
		f := &found{}
		var host string
		host, f.real, f.resolveErr = rootfs.Resolve(root, program)
		if f.resolveErr == nil {
			_, err := os.Stat(host)
			f.missing = errors.Is(err, os.ErrNotExist)
		}
		if f.resolveErr == nil && !f.missing {
			f.trustErr = rootfs.CheckTrustedIn(root, program, 0)
		}
		programs[program] = f
		return f
	}
	check := func(p, cmd string, unchecked bool) {
		words := strings.Fields(cmd)
		program := words[0]
		f := lookup(program)
		if f.resolveErr != nil {
			out = append(out, s.Errorf(p, "resolve %s: %v", program, f.resolveErr))
			return
		}
		if f.missing {
			out = append(out, s.Warning(p, fmt.Sprintf("%s does not exist on this host; sudo refuses the command until it is installed", program)))
			return
		}
		if msg := spec.JudgeCommand(f.real, words[1:], unchecked); msg != "" {
			if f.real != program {
				msg = fmt.Sprintf("%s resolves to %s: %s", program, f.real, msg)
			}
			out = append(out, s.Errorf(p, "%s", msg))
			return
		}
		if f.trustErr != nil {
			out = append(out, s.Errorf(p, "%v: whoever can change %s can run anything as root through this rule", f.trustErr, program))
		}
	}
	for i, f := range s.Sudoers {
		for j, r := range f.Rules {
			for k, cmd := range r.Commands {
				check(fmt.Sprintf("sudoers[%d].rules[%d].commands[%d]", i, j, k), cmd, r.Unchecked)
			}
		}
	}
	shorthand := files[len(s.Sudoers):]
	for i, svc := range s.Services {
		if svc.Sudo == nil {
			continue
		}
		f := shorthand[0]
		shorthand = shorthand[1:]
		// Every line of the shorthand runs the same program.
		seen := map[string]bool{}
		for _, r := range f.Rules {
			for _, cmd := range r.Commands {
				if program := strings.Fields(cmd)[0]; !seen[program] {
					seen[program] = true
					check(fmt.Sprintf("services[%d].sudo", i), cmd, false)
				}
			}
		}
	}
	return spec.SortErrors(out)
}
