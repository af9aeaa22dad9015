package steps

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/spec"
)

// maxDiffSize is the largest file whose content provision reads to show a
// diff; larger files are compared by size and hash of what was read.
const maxDiffSize = 1 << 20

// fileTarget is the desired state of one regular file.
type fileTarget struct {
	path  string
	owner string
	group string
	perm  os.FileMode
	// content is the wanted content; nil leaves an existing file's content
	// alone and creates a missing one empty.
	content []byte
	// secret hides content diffs: the file is not to be world-readable.
	secret bool
	// rendered says content is provision's own rendering of the spec (a
	// unit, a sudoers drop-in): an existing file that starts with
	// spec.ManagedHeader was written by provision, and its diff can be
	// shown although it is not world-readable.
	rendered bool
	// validate, when set, checks the new content in a temporary file before
	// it replaces the target.
	validate func(ctx context.Context, tmp string) error
}

// convergeFile checks, and when applying fixes, one regular file. It returns
// what differed.
func (e *Env) convergeFile(ctx context.Context, t fileTarget) ([]Change, error) {
	n, o, err := e.inspect(t.path, t.owner, t.group, 0)
	if err != nil {
		return nil, err
	}
	if !n.Exists {
		c := Change{Summary: fmt.Sprintf("create file, mode %s, owner %s", modeString(t.perm), o.name)}
		if len(t.content) > 0 {
			c.Diff = e.contentDiff(t, rootfs.Node{}, nil)
		}
		if err := e.writeFile(ctx, t, o.uid, o.gid); err != nil {
			return nil, err
		}
		return []Change{c}, nil
	}

	var changes []Change
	rewrite := false
	if t.content != nil {
		var old []byte
		same := n.Size == int64(len(t.content))
		if same || n.Size <= maxDiffSize {
			old, _, err = e.fs().ReadFile(t.path, maxDiffSize)
			if err != nil {
				return nil, err
			}
			same = same && bytes.Equal(old, t.content)
		}
		if !same {
			c := Change{Summary: fmt.Sprintf("content (%d -> %d bytes)", n.Size, len(t.content))}
			if n.Size <= maxDiffSize {
				c.Diff = e.contentDiff(t, n, old)
			}
			changes = append(changes, c)
			rewrite = true
		}
	}
	changes = append(changes, e.attrChanges(n, t.perm, o)...)
	switch {
	case rewrite:
		err = e.writeFile(ctx, t, o.uid, o.gid)
	case e.Apply && len(changes) > 0:
		err = e.fs().ChownChmod(t.path, t.perm, o.uid, o.gid)
	}
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// writeFile writes t's content atomically, validated in its temporary
// file first when t has a validate function. When only checking, it
// writes nothing on the host; it validates the content all the same, in a
// temporary file of its own, so that a check foresees a rejection.
func (e *Env) writeFile(ctx context.Context, t fileTarget, uid, gid int) error {
	var check func(string) error
	if t.validate != nil {
		check = func(tmp string) error { return t.validate(ctx, tmp) }
	}
	if !e.Apply {
		if check == nil {
			return nil
		}
		return validateCopy(t.content, check)
	}
	return e.fs().WriteFileAtomic(t.path, t.content, t.perm, uid, gid, check)
}

// validateCopy runs check on a private copy of content (see
// inPrivateDir).
func validateCopy(content []byte, check func(string) error) error {
	return inPrivateDir(func(dir string) error {
		tmp := filepath.Join(dir, "content")
		if err := os.WriteFile(tmp, content, 0o600); err != nil {
			return fmt.Errorf("check: %w", err)
		}
		return check(tmp)
	})
}

// inPrivateDir runs fn in a directory of its own under the system's
// temporary directory, removed afterwards, for private copies to check.
func inPrivateDir(fn func(dir string) error) error {
	dir, err := os.MkdirTemp("", "provision-check-")
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	defer os.RemoveAll(dir)
	return fn(dir)
}

// contentDiff returns the diff from the existing file (n, with content
// old; n.Exists false for none) to t's content. A file's content is never
// printed when the file is not (or is not to be) world-readable, or has
// more than one hard link (another name, such as /etc/shadow, may be the
// same file) -- unless it is provision's own rendering of the spec.
func (e *Env) contentDiff(t fileTarget, n rootfs.Node, old []byte) string {
	if t.secret {
		return "(content diff hidden: " + t.path + " is not world-readable)"
	}
	if n.Exists {
		own := t.rendered && bytes.HasPrefix(old, []byte(spec.ManagedHeader))
		switch {
		case n.Nlink > 1:
			return fmt.Sprintf("(content diff hidden: %s has %d hard links)", t.path, n.Nlink)
		case n.Perm()&0o004 == 0 && !own:
			return "(content diff hidden: " + t.path + " is not world-readable)"
		}
	}
	return unifiedDiff(t.path, old, t.content, n.Exists)
}

// dirTarget is the desired state of one directory.
type dirTarget struct {
	path  string
	owner string
	group string
	perm  os.FileMode
}

// convergeDir checks, and when applying fixes, one directory. Its parent must
// exist (list parents in the spec before their children).
func (e *Env) convergeDir(t dirTarget) ([]Change, error) {
	// A directory that is a link only root could have planted (a data
	// volume: /data -> /srv/data) is the directory it points to.
	real, err := e.fs().ResolveTrusted(t.path)
	if err != nil {
		return nil, err
	}
	if real != t.path {
		changes, err := e.convergeDir(dirTarget{path: real, owner: t.owner, group: t.group, perm: t.perm})
		for i := range changes {
			changes[i].Summary = fmt.Sprintf("%s (through the link %s -> %s)", changes[i].Summary, t.path, real)
		}
		return changes, err
	}
	n, o, err := e.inspect(t.path, t.owner, t.group, os.ModeDir)
	if err != nil {
		return nil, err
	}
	if !n.Exists {
		c := Change{Summary: fmt.Sprintf("create directory, mode %s, owner %s", modeString(t.perm), o.name)}
		if e.Apply {
			if err := e.fs().Mkdir(t.path, t.perm, o.uid, o.gid); err != nil {
				return nil, err
			}
		}
		return []Change{c}, nil
	}
	changes := e.attrChanges(n, t.perm, o)
	if e.Apply && len(changes) > 0 {
		if err := e.fs().ChownChmod(t.path, t.perm, o.uid, o.gid); err != nil {
			return nil, err
		}
	}
	return changes, nil
}

// wantOwner is the owner a file or directory should have.
type wantOwner struct {
	name     string // "user:group"
	uid, gid int
	known    bool // both names exist on the host
}

// inspect reads what path is without following links and resolves the
// wanted owner. It refuses a link, and anything not of type typ (0 for a
// regular file, os.ModeDir for a directory); when applying, an owner that
// does not exist is an error, while a check reports it as a change (a
// step before it will create the owner).
func (e *Env) inspect(path, user, group string, typ os.FileMode) (rootfs.Node, wantOwner, error) {
	n, err := e.fs().Lstat(path)
	if err != nil {
		return n, wantOwner{}, err
	}
	if n.Exists && n.Mode&os.ModeSymlink != 0 {
		return n, wantOwner{}, fmt.Errorf("%s: %w", path, rootfs.ErrSymlink)
	}
	if n.Exists && n.Mode.Type() != typ {
		what := "a regular file"
		if typ == os.ModeDir {
			what = "a directory"
		}
		return n, wantOwner{}, fmt.Errorf("%s: exists and is not %s (%s)", path, what, n.Mode.Type())
	}
	o := wantOwner{name: user + ":" + group}
	o.uid, o.gid, o.known, err = e.owner(user, group)
	if err != nil {
		return n, o, err
	}
	if !o.known && e.Apply {
		return n, o, fmt.Errorf("%s: owner %s: no such user or group", path, o.name)
	}
	return n, o, nil
}

// attrChanges lists how an existing node's mode and owner differ.
func (e *Env) attrChanges(n rootfs.Node, perm os.FileMode, o wantOwner) []Change {
	var changes []Change
	if !sameMode(n.Mode, perm) {
		changes = append(changes, Change{Summary: fmt.Sprintf("mode %s -> %s", modeString(n.Mode), modeString(perm))})
	}
	if !o.known || n.UID != o.uid || n.GID != o.gid {
		changes = append(changes, Change{Summary: fmt.Sprintf("owner %s -> %s", e.ownerNames(n.UID, n.GID), o.name)})
	}
	return changes
}

// removeFile checks, and when applying removes, the regular file path,
// with the refusals of a write: a link, anything but a regular file, and a
// file with a second hard link (its content lives on under the other name,
// which the spec did not ask about) are errors, not removed.
func (e *Env) removeFile(path string) ([]Change, error) {
	n, err := e.fs().Lstat(path)
	if err != nil || !n.Exists {
		return nil, err
	}
	switch {
	case n.Mode&os.ModeSymlink != 0:
		return nil, fmt.Errorf("%s: %w", path, rootfs.ErrSymlink)
	case !n.Mode.IsRegular():
		return nil, fmt.Errorf("%s: is not a regular file (%s); refusing to remove it", path, n.Mode.Type())
	case n.Nlink > 1:
		return nil, fmt.Errorf("%s: %w (%d names); remove the other names first", path, rootfs.ErrHardLink, n.Nlink)
	}
	c := Change{Summary: fmt.Sprintf("remove file (mode %s, owner %s, %d bytes)", modeString(n.Mode), e.ownerNames(n.UID, n.GID), n.Size)}
	if e.Apply {
		if err := e.fs().Remove(path); err != nil {
			return nil, err
		}
	}
	return []Change{c}, nil
}

// removeDir checks, and when applying removes, the directory path when it
// is empty. A directory that holds anything is an error that lists what
// is left: provision never removes recursively. A link is refused.
func (e *Env) removeDir(path string) ([]Change, error) {
	real, err := e.fs().ResolveTrusted(path)
	if err != nil {
		return nil, err
	}
	if real != path {
		return nil, fmt.Errorf("%s: is a link to %s; remove the link by hand if the directory is to go", path, real)
	}
	n, err := e.fs().Lstat(path)
	if err != nil || !n.Exists {
		return nil, err
	}
	switch {
	case n.Mode&os.ModeSymlink != 0:
		return nil, fmt.Errorf("%s: %w", path, rootfs.ErrSymlink)
	case !n.Mode.IsDir():
		return nil, fmt.Errorf("%s: is not a directory (%s); refusing to remove it", path, n.Mode.Type())
	}
	entries, err := e.fs().ReadDir(path)
	if err != nil {
		return nil, err
	}
	if len(entries) > 0 {
		names := make([]string, 0, min(len(entries), 10))
		for _, ent := range entries[:min(len(entries), 10)] {
			names = append(names, ent.Name)
		}
		more := ""
		if len(entries) > len(names) {
			more = fmt.Sprintf(" and %d more", len(entries)-len(names))
		}
		return nil, fmt.Errorf("%s: is to be absent but is not empty: %s%s; provision removes a directory only when it is empty", path, strings.Join(names, ", "), more)
	}
	c := Change{Summary: fmt.Sprintf("remove empty directory (mode %s, owner %s)", modeString(n.Mode), e.ownerNames(n.UID, n.GID))}
	if e.Apply {
		if err := e.fs().RemoveDir(path); err != nil {
			return nil, err
		}
	}
	return []Change{c}, nil
}
