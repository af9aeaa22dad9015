package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// searchPath is where systemd looks for an Exec*= program given without a
// directory (systemd.service(5), "Command lines").
var searchPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// maxLinks bounds the symbolic links followed to find one program.
const maxLinks = 40

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
func MissingExecutables(s *Spec, root string) []*Error {
	var warns []*Error
	for i, svc := range s.Services {
		for _, set := range unitSettings(svc) {
			if set.section != sectionService || !strings.HasPrefix(set.name, "Exec") {
				continue
			}
			program := execProgram(set.value)
			if program == "" || strings.ContainsAny(program, "%$") {
				continue
			}
			problem := checkProgram(root, program)
			if problem == "" {
				continue
			}
			pe := pathError{path: indexPath("services", i) + "." + set.path,
				msg: fmt.Sprintf("%s= runs %s, which %s; systemd cannot start %s until it is there", set.name, program, problem, svc.UnitName())}
			w := &Error{Path: pe.path, Msg: pe.msg}
			if s.locate != nil {
				w = s.locate(pe)
			}
			w.Warning = true
			warns = append(warns, w)
		}
	}
	return sortErrors(warns)
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
	if root == "" || root == "/" {
		return os.Stat(p)
	}
	rest := strings.Split(p, "/")
	cur := "/"
	for links := 0; len(rest) > 0; {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		host := filepath.Join(root, next)
		fi, err := os.Lstat(host)
		if err != nil {
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > maxLinks {
			return nil, errors.New("too many levels of symbolic links")
		}
		target, err := os.Readlink(host)
		if err != nil {
			return nil, err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return os.Stat(filepath.Join(root, cur))
}
