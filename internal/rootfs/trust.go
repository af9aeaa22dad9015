package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// UntrustedError says which path on the way to a file someone other than
// root (or the invoking user) could change, and how.
type UntrustedError struct {
	// File is the file asked about; Path the component that is wrong.
	File, Path string
	Why        string
}

func (e *UntrustedError) Error() string {
	if e.Path == e.File {
		return fmt.Sprintf("%s %s", e.Path, e.Why)
	}
	return fmt.Sprintf("%s: %s %s", e.File, e.Path, e.Why)
}

// CheckTrusted reports whether only root, or the user uid, can change the
// regular file at path: the file and every directory on the way to it,
// symbolic links followed (their targets checked the same way), must be
// owned by root or uid and not writable by group or others. A directory
// writable by others is accepted when it has the sticky bit (as /tmp):
// nobody else can then rename or remove the entries that root or uid own
// in it, and the next component must be theirs. This is what sshd's
// StrictModes and sudo ask of their files. The error is an
// *UntrustedError naming the first component that is wrong.
func CheckTrusted(path string, uid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return checkTrusted("/", abs, path, uid)
}

// CheckTrustedIn is CheckTrusted for the absolute path p of the tree at
// root ("/" for the running system), whose links are followed inside the
// tree, as a process inside it would; the error names paths in the tree.
func CheckTrustedIn(root, p string, uid int) error {
	return checkTrusted(root, p, p, uid)
}

func checkTrusted(root, abs, path string, uid int) error {
	if root == "" {
		root = "/"
	}
	host := func(p string) string { return filepath.Join(root, p) }
	owned := func(st *syscall.Stat_t) bool { return st.Uid == 0 || int(st.Uid) == uid }
	who := "root"
	if uid != 0 {
		who = fmt.Sprintf("root or uid %d", uid)
	}
	bad := func(p, why string) error { return &UntrustedError{File: path, Path: p, Why: why} }

	links := 0
	cur := "/"
	rest := strings.Split(strings.TrimPrefix(filepath.Clean(abs), "/"), "/")
	for len(rest) > 0 {
		var dir syscall.Stat_t
		if err := syscall.Stat(host(cur), &dir); err != nil {
			return &os.PathError{Op: "stat", Path: cur, Err: err}
		}
		if !owned(&dir) {
			return bad(cur, fmt.Sprintf("is a directory owned by uid %d, not %s", dir.Uid, who))
		}
		if dir.Mode&0o022 != 0 && dir.Mode&syscall.S_ISVTX == 0 {
			return bad(cur, fmt.Sprintf("is a directory that group or others can write (mode %04o)", dir.Mode&0o7777))
		}
		name := rest[0]
		rest = rest[1:]
		if name == "" || name == "." {
			continue
		}
		next := filepath.Join(cur, name)
		var st syscall.Stat_t
		if err := syscall.Lstat(host(next), &st); err != nil {
			return &os.PathError{Op: "lstat", Path: next, Err: err}
		}
		if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
			if !owned(&st) && dir.Mode&syscall.S_ISVTX != 0 {
				return bad(next, fmt.Sprintf("is a symbolic link owned by uid %d in a directory others can write", st.Uid))
			}
			if links++; links > maxLinks {
				return bad(next, "is one symbolic link too many")
			}
			target, err := os.Readlink(host(next))
			if err != nil {
				return err
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(strings.Split(strings.TrimPrefix(filepath.Clean(target), "/"), "/"), rest...)
			continue
		}
		if !owned(&st) {
			what := "is"
			if st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
				what = "is a directory"
			}
			return bad(next, fmt.Sprintf("%s owned by uid %d, not %s", what, st.Uid, who))
		}
		if len(rest) == 0 {
			if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
				return bad(next, "is not a regular file")
			}
			if st.Mode&0o022 != 0 {
				return bad(next, fmt.Sprintf("can be written by group or others (mode %04o)", st.Mode&0o7777))
			}
			return nil
		}
		cur = next
	}
	return bad(abs, "is not a regular file")
}
