package nspawn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// lockFile, in a container's directory, is flock'ed by the process
	// that owns the container for as long as the container exists.
	lockFile = "lock"
	// stateFile, in a container's directory, records what Close or
	// RemoveStale must undo.
	stateFile = "state.json"
	// orphanAge is how old a container directory without a lock file must
	// be before RemoveStale removes it: New creates the lock right after
	// the directory.
	orphanAge = time.Minute
)

// state is what a container records in its directory for RemoveStale.
type state struct {
	Name        string   `json:"name"`
	Cgroups     []string `json:"cgroups,omitempty"`
	NspawnPID   int      `json:"nspawn_pid,omitempty"`
	NspawnStart uint64   `json:"nspawn_start,omitempty"`
}

func (c *Container) writeState() error {
	s := state{Name: c.name, Cgroups: c.cgroups}
	if c.nspawn != nil {
		s.NspawnPID = c.nspawn.Process.Pid
		if st, err := readProcStat(s.NspawnPID); err == nil {
			s.NspawnStart = st.startTime
		}
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(c.dir, stateFile), data, 0o600); err != nil {
		return fmt.Errorf("record container state: %w", err)
	}
	return nil
}

// createLocked creates the file p already holding an exclusive flock on
// it: the lock is taken on a temporary name which is then renamed, so that
// nobody can lock p between its creation and the lock.
func createLocked(p string) (*os.File, error) {
	tmp := p + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		f.Close()
		return nil, fmt.Errorf("create lock: %w", err)
	}
	return f, nil
}

// RemoveStale removes what containers left behind when the process that
// owned them died before calling Close (killed, or a test binary's timeout
// panic): it unmounts their overlays and removes their cgroups and
// directories. A container is stale when no process holds its lock and its
// recorded systemd-nspawn has exited; containers of other running
// processes are left alone. RemoveStale kills nothing: the systemd-nspawn
// of a dead owner receives SIGTERM from the kernel and powers off by
// itself, and is cleaned up by a later call.
func RemoveStale() error {
	dirs, err := filepath.Glob(filepath.Join(baseDir, Prefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		if err := removeIfStale(d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func removeIfStale(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return nil
	}
	c := &Container{name: filepath.Base(dir), dir: dir}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Either a directory just made by New, or what a teardown that
		// failed half-way left.
		if time.Since(fi.ModTime()) < orphanAge {
			return nil
		}
		return c.removeStale(state{})
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", dir, err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil // its owner is alive
		}
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	var s state
	if data, err := os.ReadFile(filepath.Join(dir, stateFile)); err == nil {
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("read state of %s: %w", dir, err)
		}
	}
	if s.NspawnPID != 0 {
		if st, err := readProcStat(s.NspawnPID); err == nil && (s.NspawnStart == 0 || st.startTime == s.NspawnStart) {
			return nil // still powering off
		}
	}
	return c.removeStale(s)
}

func (c *Container) removeStale(s state) error {
	for _, cg := range s.Cgroups {
		// Only cgroups named after this container.
		if filepath.Base(cg) == c.name && strings.HasPrefix(cg, "/sys/fs/cgroup/") {
			c.cgroups = append(c.cgroups, cg)
		}
	}
	if err := c.removeLeftovers(); err != nil {
		return fmt.Errorf("remove stale container %s: %w", c.name, err)
	}
	return nil
}
