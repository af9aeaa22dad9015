// Package hostcheck checks a valid spec against the host it is about to
// be applied to, before anything changes: what the spec alone cannot tell,
// such as whether the programs its services run exist there. It only reads
// the host.
package hostcheck

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/spec"
)

// searchPath is where systemd looks for an Exec*= program given without a
// directory (systemd.service(5), "Command lines").
var searchPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// MissingExecutables checks, on the host, the programs the spec's services
// run: the first word of every ExecStart= and other Exec*= setting of
// [Service], structured, extra option or verbatim unit. It returns a
// warning, positioned at the setting, for each program that does not
// exist under root ("/" or "" for the running system), is a directory or
// is not executable; systemd would fail to start the service. Symbolic
// links are followed as the host would, absolute ones from root. Commands
// holding a specifier (%) or a variable ($) are left alone, and a program
// given without a directory is looked for where systemd looks.
//
// It only reads the host. For "rbenv exec bundle exec sidekiq" it checks
// rbenv, not what rbenv runs.
func MissingExecutables(s *spec.Spec, root string) []*spec.Error {
	var warns []*spec.Error
	// Each program is looked at once (see SudoPrograms).
	problems := map[string]string{}
	for i, svc := range s.Services {
		for _, set := range svc.Settings() {
			if set.Section != "Service" || !strings.HasPrefix(set.Name, "Exec") {
				continue
			}
			program := execProgram(set.Value)
			if program == "" || strings.ContainsAny(program, "%$") {
				continue
			}
			problem, ok := problems[program]
			if !ok {
				problem = checkProgram(root, program)
				problems[program] = problem
			}
			if problem == "" {
				continue
			}
			warns = append(warns, s.Warning(fmt.Sprintf("services[%d].%s", i, set.Path),
				fmt.Sprintf("%s= runs %s, which %s; systemd cannot start %s until it is there", set.Name, program, problem, svc.UnitName())))
		}
	}
	return spec.SortErrors(warns)
}

// execProgram returns the program of an Exec*= command line: its first
// word, without the prefixes that change how systemd runs it (@ - : + !)
// and without quotes.
func execProgram(cmd string) string {
	cmd = strings.TrimLeft(strings.TrimSpace(cmd), "@-:+!")
	words := strings.Fields(cmd)
	if len(words) == 0 {
		return ""
	}
	return strings.Trim(words[0], `"'`)
}

// checkProgram says what is wrong with program under root, or "" when it
// is an executable file there (or on systemd's search path, for a bare
// name).
func checkProgram(root, program string) string {
	where := "does not exist on this host"
	if root != "" && root != "/" {
		where = "does not exist under " + root
	}
	candidates := []string{program}
	if !strings.Contains(program, "/") {
		candidates = candidates[:0]
		for _, dir := range searchPath {
			candidates = append(candidates, path.Join(dir, program))
		}
		where = "is not in " + strings.Join(searchPath, ":")
		if root != "" && root != "/" {
			where += " under " + root
		}
	} else if !path.IsAbs(program) {
		return ""
	}
	problem := where
	for _, c := range candidates {
		fi, err := statUnder(root, c)
		switch {
		case err != nil:
			continue
		case fi.IsDir():
			problem = "is a directory"
		case fi.Mode().Perm()&0o111 == 0:
			problem = "is not executable"
		default:
			return ""
		}
	}
	return problem
}

// statUnder stats p as a process whose root directory is root would see
// it: symbolic links are followed, absolute targets from root, so that a
// tree being built is checked against itself rather than against the host
// it sits on.
func statUnder(root, p string) (fs.FileInfo, error) {
	host, _, err := rootfs.Resolve(root, p)
	if err != nil {
		return nil, err
	}
	return os.Stat(host)
}
