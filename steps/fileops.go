package steps

import (
	"bytes"
	"context"
	"fmt"
	"os"
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
	// secret hides content diffs (the file is not world-readable).
	secret bool
	// validate, when set, checks the new content in a temporary file before
	// it replaces the target.
	validate func(ctx context.Context, tmp string) error
}

// convergeFile checks, and with apply fixes, one regular file. It returns
// what differed.
func (h *Host) convergeFile(ctx context.Context, t fileTarget, apply bool) ([]Change, error) {
	n, o, err := h.inspect(t.path, t.owner, t.group, 0, apply)
	if err != nil {
		return nil, err
	}
	if !n.exists {
		c := Change{Summary: fmt.Sprintf("create file, mode %s, owner %s", modeString(t.perm), o.name)}
		if len(t.content) > 0 {
			c.Diff = h.contentDiff(t, nil, false)
		}
		if apply {
			if err := h.writeFile(ctx, t, o.uid, o.gid); err != nil {
				return nil, err
			}
		}
		return []Change{c}, nil
	}

	var changes []Change
	rewrite := false
	if t.content != nil {
		var old []byte
		same := n.size == int64(len(t.content))
		if same || n.size <= maxDiffSize {
			old, _, err = h.readFile(t.path, maxDiffSize)
			if err != nil {
				return nil, err
			}
			same = same && bytes.Equal(old, t.content)
		}
		if !same {
			c := Change{Summary: fmt.Sprintf("content (%d -> %d bytes)", n.size, len(t.content))}
			if n.size <= maxDiffSize {
				c.Diff = h.contentDiff(t, old, true)
			}
			changes = append(changes, c)
			rewrite = true
		}
	}
	changes = append(changes, h.attrChanges(n, t.perm, o)...)
	if !apply || len(changes) == 0 {
		return changes, nil
	}
	if rewrite {
		err = h.writeFile(ctx, t, o.uid, o.gid)
	} else {
		err = h.chownChmod(t.path, t.perm, o.uid, o.gid)
	}
	if err != nil {
		return nil, err
	}
	return changes, nil
}

func (h *Host) writeFile(ctx context.Context, t fileTarget, uid, gid int) error {
	var check func(string) error
	if t.validate != nil {
		check = func(tmp string) error { return t.validate(ctx, tmp) }
	}
	return h.writeFileAtomic(t.path, t.content, t.perm, uid, gid, check)
}

func (h *Host) contentDiff(t fileTarget, old []byte, existed bool) string {
	if t.secret {
		return "(content diff hidden: " + t.path + " is not world-readable)"
	}
	return unifiedDiff(t.path, old, t.content, existed)
}

// dirTarget is the desired state of one directory.
type dirTarget struct {
	path  string
	owner string
	group string
	perm  os.FileMode
}

// convergeDir checks, and with apply fixes, one directory. Its parent must
// exist (list parents in the spec before their children).
func (h *Host) convergeDir(t dirTarget, apply bool) ([]Change, error) {
	n, o, err := h.inspect(t.path, t.owner, t.group, os.ModeDir, apply)
	if err != nil {
		return nil, err
	}
	if !n.exists {
		c := Change{Summary: fmt.Sprintf("create directory, mode %s, owner %s", modeString(t.perm), o.name)}
		if apply {
			if err := h.mkdir(t.path, t.perm, o.uid, o.gid); err != nil {
				return nil, err
			}
		}
		return []Change{c}, nil
	}
	changes := h.attrChanges(n, t.perm, o)
	if apply && len(changes) > 0 {
		if err := h.chownChmod(t.path, t.perm, o.uid, o.gid); err != nil {
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
// does not exist is an error, while a check reports it as a change.
func (h *Host) inspect(path, user, group string, typ os.FileMode, apply bool) (node, wantOwner, error) {
	n, err := h.lstat(path)
	if err != nil {
		return n, wantOwner{}, err
	}
	if n.exists && n.mode&os.ModeSymlink != 0 {
		return n, wantOwner{}, fmt.Errorf("%s: %w", path, ErrSymlink)
	}
	if n.exists && n.mode.Type() != typ {
		what := "a regular file"
		if typ == os.ModeDir {
			what = "a directory"
		}
		return n, wantOwner{}, fmt.Errorf("%s: exists and is not %s (%s)", path, what, n.mode.Type())
	}
	o := wantOwner{name: user + ":" + group}
	o.uid, o.gid, o.known, err = h.owner(user, group)
	if err != nil {
		return n, o, err
	}
	if !o.known && apply {
		return n, o, fmt.Errorf("%s: owner %s: no such user or group", path, o.name)
	}
	return n, o, nil
}

// attrChanges lists how an existing node's mode and owner differ.
func (h *Host) attrChanges(n node, perm os.FileMode, o wantOwner) []Change {
	var changes []Change
	if !sameMode(n.mode, perm) {
		changes = append(changes, Change{Summary: fmt.Sprintf("mode %s -> %s", modeString(n.mode), modeString(perm))})
	}
	if !o.known || n.uid != o.uid || n.gid != o.gid {
		changes = append(changes, Change{Summary: fmt.Sprintf("owner %s -> %s", h.ownerNames(n.uid, n.gid), o.name)})
	}
	return changes
}
