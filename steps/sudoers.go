package steps

import (
	"context"
	"fmt"
	"strings"

	"provision/spec"
)

// sudoersMode is the mode sudo expects of its configuration files.
const sudoersMode = 0o440

// WriteSudoers installs a drop-in under /etc/sudoers.d, root:root 0440. The
// new content is checked with "visudo -cf" in a temporary file that sudo
// ignores before it replaces the drop-in; on a running system the whole
// configuration is then checked with "visudo -c", and if that fails (the
// drop-in conflicts with something else) the previous file is put back, or
// the new one removed, and the step fails with visudo's message. sudo is
// never left with a configuration that visudo rejects.
type WriteSudoers struct {
	deps
	Sudoers spec.Sudoers
}

// ID implements Step.
func (s *WriteSudoers) ID() string { return "sudoers " + s.Sudoers.Path() }

func (s *WriteSudoers) target() fileTarget {
	return fileTarget{
		path:    s.Sudoers.Path(),
		owner:   "root",
		group:   "root",
		perm:    sudoersMode,
		content: spec.RenderSudoers(s.Sudoers),
	}
}

// Check implements Step.
func (s *WriteSudoers) Check(ctx context.Context, h *Host) ([]Change, error) {
	return h.convergeFile(ctx, s.target(), false)
}

// Apply implements Step.
func (s *WriteSudoers) Apply(ctx context.Context, h *Host) ([]Change, error) {
	t := s.target()
	t.validate = func(ctx context.Context, tmp string) error {
		if out, err := h.run(ctx, VisudoCmd, "-c", "-q", "-f", tmp); err != nil {
			return fmt.Errorf("%s: rejected by visudo, not installed: %s", t.path, visudoMessage(out, err))
		}
		return nil
	}
	changes, err := h.convergeFile(ctx, t, false)
	if err != nil || len(changes) == 0 {
		return changes, err
	}
	prev, err := h.lstat(t.path)
	if err != nil {
		return nil, err
	}
	var old []byte
	if prev.exists && prev.mode.IsRegular() {
		if old, _, err = h.readFile(t.path, maxDiffSize); err != nil {
			return nil, err
		}
	}
	if changes, err = h.convergeFile(ctx, t, true); err != nil {
		return nil, err
	}
	if h.Offline {
		return changes, nil
	}
	out, err := h.run(ctx, VisudoCmd, "-c", "-q")
	if err == nil {
		return changes, nil
	}
	msg := visudoMessage(out, err)
	if prev.exists {
		err = h.writeFileAtomic(t.path, old, prev.perm(), prev.uid, prev.gid, nil)
	} else {
		err = h.remove(t.path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: sudo configuration rejected by visudo (%s), and putting the previous file back failed: %w", t.path, msg, err)
	}
	return nil, fmt.Errorf("%s: sudo configuration rejected by visudo with this file, previous state restored: %s", t.path, msg)
}

func visudoMessage(out []byte, err error) string {
	if msg := strings.TrimSpace(string(out)); msg != "" {
		return strings.ReplaceAll(msg, "\n", "; ")
	}
	return err.Error()
}
