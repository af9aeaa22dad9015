package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinks bounds the symbolic links Resolve follows for one path, as the
// kernel's own limit does.
const maxLinks = 40

// Resolve resolves the absolute path p as a process whose root directory
// is root would: symbolic links, absolute ones included, are followed
// inside root, never out of it, and ".." stops at root. The last element,
// and the elements after a missing one, need not exist. It returns the
// path on this host and the resolved path under root.
//
// Resolve is for reading a tree as it will be seen from inside it (the
// program a unit runs, a file in a container): it follows links, so what
// it returns must never be written by root.
func Resolve(root, p string) (hostPath, resolved string, err error) {
	if root == "" {
		root = "/"
	}
	links := 0
	resolved = "/"
	rest := strings.TrimPrefix(p, "/")
	for rest != "" {
		var elem string
		elem, rest, _ = strings.Cut(rest, "/")
		switch elem {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		next := path.Join(resolved, elem)
		fi, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, os.ErrNotExist) {
			resolved = next
			continue
		}
		if err != nil {
			return "", "", err
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if links++; links > maxLinks {
			return "", "", fmt.Errorf("resolve %s: too many levels of symbolic links", p)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", "", err
		}
		if path.IsAbs(target) {
			resolved = "/"
		}
		rest = strings.TrimPrefix(target, "/") + "/" + rest
	}
	return filepath.Join(root, resolved), resolved, nil
}
