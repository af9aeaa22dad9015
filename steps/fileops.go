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
	n, err := h.lstat(t.path)
	if err != nil {
		return nil, err
	}
	if n.exists && n.mode&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: %w", t.path, ErrSymlink)
	}
	if n.exists && !n.mode.IsRegular() {
		return nil, fmt.Errorf("%s: exists and is not a regular file (%s)", t.path, n.mode.Type())
	}
	uid, gid, known, err := h.owner(t.owner, t.group)
	if err != nil {
		return nil, err
	}
	if !known && apply {
		return nil, fmt.Errorf("%s: owner %s:%s: no such user or group", t.path, t.owner, t.group)
	}
	want := t.owner + ":" + t.group

	if !n.exists {
		c := Change{Summary: fmt.Sprintf("create file, mode %s, owner %s", modeString(t.perm), want)}
		if len(t.content) > 0 {
			c.Diff = h.contentDiff(t, nil, false)
		}
		if apply {
			if err := h.writeFile(ctx, t, uid, gid); err != nil {
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
	if !sameMode(n.mode, t.perm) {
		changes = append(changes, Change{Summary: fmt.Sprintf("mode %s -> %s", modeString(n.mode), modeString(t.perm))})
	}
	if !known || n.uid != uid || n.gid != gid {
		changes = append(changes, Change{Summary: fmt.Sprintf("owner %s -> %s", h.ownerNames(n.uid, n.gid), want)})
	}
	if !apply || len(changes) == 0 {
		return changes, nil
	}
	if rewrite {
		err = h.writeFile(ctx, t, uid, gid)
	} else {
		err = h.chownChmod(t.path, t.perm, uid, gid)
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
	n, err := h.lstat(t.path)
	if err != nil {
		return nil, err
	}
	if n.exists && n.mode&os.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: %w", t.path, ErrSymlink)
	}
	if n.exists && !n.mode.IsDir() {
		return nil, fmt.Errorf("%s: exists and is not a directory (%s)", t.path, n.mode.Type())
	}
	uid, gid, known, err := h.owner(t.owner, t.group)
	if err != nil {
		return nil, err
	}
	if !known && apply {
		return nil, fmt.Errorf("%s: owner %s:%s: no such user or group", t.path, t.owner, t.group)
	}
	want := t.owner + ":" + t.group
	if !n.exists {
		c := Change{Summary: fmt.Sprintf("create directory, mode %s, owner %s", modeString(t.perm), want)}
		if apply {
			if err := h.mkdir(t.path, t.perm, uid, gid); err != nil {
				return nil, err
			}
		}
		return []Change{c}, nil
	}
	var changes []Change
	if !sameMode(n.mode, t.perm) {
		changes = append(changes, Change{Summary: fmt.Sprintf("mode %s -> %s", modeString(n.mode), modeString(t.perm))})
	}
	if !known || n.uid != uid || n.gid != gid {
		changes = append(changes, Change{Summary: fmt.Sprintf("owner %s -> %s", h.ownerNames(n.uid, n.gid), want)})
	}
	if apply && len(changes) > 0 {
		if err := h.chownChmod(t.path, t.perm, uid, gid); err != nil {
			return nil, err
		}
	}
	return changes, nil
}
