package hostcheck

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/provision-dev/provision/spec"
)

// ProgramsAsUser checks, on the host, that the program of each service's
// ExecStart= can be run by the service's user, as systemd runs it: every
// directory on the way to it (links followed, inside root) searchable by
// that user, and the program executable by it. provision runs as root, for
// whom both always hold; a service that runs as deploy fails with
// status=203/EXEC when /usr/local/rbenv is 0700 root, the most reported
// failure of a Sidekiq unit. It returns a warning per program, positioned
// at ExecStart=; users the host does not have yet are not checked.
func ProgramsAsUser(s *spec.Spec, root string) []*spec.Error {
	if root == "" {
		root = "/"
	}
	accounts := readAccounts(root)
	var warns []*spec.Error
	// Each program is walked once per user (see SudoPrograms).
	type asUser struct{ program, user string }
	problems := map[asUser]string{}
	for i, svc := range s.Services {
		if svc.Absent() {
			continue
		}
		var user, execStart string
		var at string
		for _, set := range svc.Settings() {
			if set.Section != "Service" {
				continue
			}
			switch set.Name {
			case "User":
				user = set.Value
			case "ExecStart":
				execStart, at = set.Value, set.Path
			}
		}
		a, ok := accounts.users[user]
		if user == "" || !ok || a.uid == 0 || execStart == "" {
			continue
		}
		program := execProgram(execStart)
		if program == "" || strings.ContainsAny(program, "%$") || !path.IsAbs(program) {
			continue
		}
		key := asUser{program, user}
		problem, ok := problems[key]
		if !ok {
			gids := append([]int{a.gid}, accounts.member[user]...)
			problem = accessibleAs(root, program, a.uid, gids)
			problems[key] = problem
		}
		if problem != "" {
			warns = append(warns, s.Warning(fmt.Sprintf("services[%d].%s", i, at),
				fmt.Sprintf("ExecStart= runs %s as %s, but %s: systemd will fail to start it (status=203/EXEC); give %s read and search access (chmod o+x on the directory, or its group), or run the program from elsewhere", program, user, problem, user)))
		}
	}
	return spec.SortErrors(warns)
}

type account struct{ uid, gid int }

type accountDB struct {
	users map[string]account
	// member maps a user name to the gids of its supplementary groups.
	member map[string][]int
}

// readAccounts reads the tree's /etc/passwd and /etc/group.
func readAccounts(root string) accountDB {
	db := accountDB{users: map[string]account{}, member: map[string][]int{}}
	each := func(file string, fn func([]string)) {
		f, err := os.Open(filepath.Join(root, file))
		if err != nil {
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fn(strings.Split(sc.Text(), ":"))
		}
	}
	each("/etc/passwd", func(f []string) {
		if len(f) >= 4 {
			uid, err1 := strconv.Atoi(f[2])
			gid, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				db.users[f[0]] = account{uid, gid}
			}
		}
	})
	each("/etc/group", func(f []string) {
		if len(f) >= 4 && f[3] != "" {
			gid, err := strconv.Atoi(f[2])
			if err != nil {
				return
			}
			for _, m := range strings.Split(f[3], ",") {
				db.member[m] = append(db.member[m], gid)
			}
		}
	})
	return db
}

// accessibleAs says why uid (with gids) cannot run the program at p under
// root, or returns "": each directory walked must grant it search (x),
// the program execute; symbolic links are followed as the kernel does,
// inside root.
func accessibleAs(root, p string, uid int, gids []int) string {
	can := func(st *syscall.Stat_t, bit uint32) bool {
		switch {
		case int(st.Uid) == uid:
			return st.Mode&(bit<<6) != 0
		case slices.Contains(gids, int(st.Gid)):
			return st.Mode&(bit<<3) != 0
		}
		return st.Mode&bit != 0
	}
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(path.Clean(p), "/"), "/")
	for links := 0; len(rest) > 0; {
		var dir syscall.Stat_t
		if err := syscall.Stat(filepath.Join(root, cur), &dir); err != nil {
			return ""
		}
		if !can(&dir, 1) {
			return fmt.Sprintf("it cannot search %s (mode %04o, owner %d:%d)", cur, dir.Mode&0o7777, dir.Uid, dir.Gid)
		}
		name := rest[0]
		rest = rest[1:]
		next := path.Join(cur, name)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			return "" // missing: MissingExecutables tells
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			if links++; links > 40 {
				return ""
			}
			target, err := os.Readlink(filepath.Join(root, next))
			if err != nil {
				return ""
			}
			if path.IsAbs(target) {
				cur = "/"
			}
			rest = append(strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/"), rest...)
			continue
		}
		if len(rest) == 0 {
			st := fi.Sys().(*syscall.Stat_t)
			if !fi.IsDir() && !can(st, 1) {
				return fmt.Sprintf("it may not execute %s (mode %04o, owner %d:%d)", next, st.Mode&0o7777, st.Uid, st.Gid)
			}
			return ""
		}
		cur = next
	}
	return ""
}
