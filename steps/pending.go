package steps

import (
	"fmt"
	"os"
	"path"
)

// pendingMarkers is a directory of empty files, one per unit or file
// name, each saying that a run changed something and may have been killed
// before it finished the work that change calls for. They live on /run: a
// reboot forgets them, which is right for what they guard (processes
// running an old unit; a sudo configuration not yet checked as a whole,
// which a reboot does not change either, but which a later change to the
// same file checks again).
type pendingMarkers string

// Markers provision keeps.
const (
	// restartPending marks a running unit whose new unit file systemd has
	// loaded and that has not been restarted since.
	restartPending pendingMarkers = "/run/provision/restart-pending"
	// sudoersUnchecked marks a sudoers drop-in installed but not yet
	// checked with the whole configuration (visudo -c) and sudo -l.
	sudoersUnchecked pendingMarkers = "/run/provision/sudoers-unchecked"
)

func (m pendingMarkers) path(name string) string { return path.Join(string(m), name) }

// mark records that name has work pending.
func (m pendingMarkers) mark(e *Env, name string) error {
	if err := e.fs().MkdirAll(string(m)); err != nil {
		return fmt.Errorf("mark %s as pending: %w", name, err)
	}
	if err := e.fs().WriteFileAtomic(m.path(name), nil, 0o644, os.Geteuid(), os.Getegid(), nil); err != nil {
		return fmt.Errorf("mark %s as pending: %w", name, err)
	}
	return nil
}

// has reports whether name has work pending.
func (m pendingMarkers) has(e *Env, name string) (bool, error) {
	n, err := e.fs().Lstat(m.path(name))
	return n.Exists, err
}

// clear removes name's marker, if any.
func (m pendingMarkers) clear(e *Env, name string) error {
	pending, err := m.has(e, name)
	if err != nil || !pending {
		return err
	}
	return e.fs().Remove(m.path(name))
}
