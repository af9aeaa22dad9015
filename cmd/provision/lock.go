package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// lockPath is the lock that serializes apply and plan on the running
// system. It lives on /run, a tmpfs: a reboot forgets it.
var lockPath = "/run/provision.lock"

// lockPoll is how often a waiting run tries the lock again.
const lockPoll = 100 * time.Millisecond

// lockHost takes the lock that keeps two apply or plan runs on one host
// from interleaving their changes, waiting up to timeout for the run that
// holds it, and says once on stderr that it waits. The returned release
// drops it; the kernel drops it too when the process dies, however it dies.
//
// On the running system (root "") the lock is an flock on lockPath, a file
// that holds the PID of the run that last took it. With --root it is an
// flock on the tree's root directory itself, so that nothing is written
// into an image being built; a --root that is the running system's / uses
// lockPath. A caller that is not root cannot open lockPath, and needs no
// lock: converge refuses to run without root.
func lockHost(ctx context.Context, root string, timeout time.Duration, stderr io.Writer) (release func(), err error) {
	path, isDir := lockPath, false
	if root != "" && !sameFile(root, "/") {
		path, isDir = root, true
	} else if root == "" && os.Geteuid() != 0 {
		return func() {}, nil
	}
	return takeLock(ctx, path, isDir, timeout, stderr)
}

// takeLock takes an exclusive flock on the file at path (created if
// missing; the holder's PID is written into it) or on the directory at
// path, waiting up to timeout.
func takeLock(ctx context.Context, path string, isDir bool, timeout time.Duration, stderr io.Writer) (release func(), err error) {
	f, err := openLock(path, isDir)
	if err != nil {
		return nil, err
	}
	if err := waitLock(ctx, f, path, timeout, stderr); err != nil {
		f.Close()
		return nil, err
	}
	if !isDir {
		// Best effort: the PID only helps a waiting run name the holder.
		if f.Truncate(0) == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return func() { f.Close() }, nil
}

// openLock opens the lock file, created if missing and never through a
// symbolic link, or the directory.
func openLock(path string, isDir bool) (*os.File, error) {
	var f *os.File
	var err error
	if isDir {
		f, err = os.OpenFile(path, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	} else {
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	}
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	return f, nil
}

// waitLock takes an exclusive flock on f, trying every lockPoll until
// timeout has passed or ctx is done.
func waitLock(ctx context.Context, f *os.File, path string, timeout time.Duration, stderr io.Writer) error {
	deadline := time.Now().Add(timeout)
	said := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("lock %s: %w", path, err)
		}
		holder := lockHolder(f)
		if !time.Now().Before(deadline) {
			return fmt.Errorf("another run holds the lock %s (%s); gave up after %v (--lock-timeout)", path, holder, timeout)
		}
		if !said {
			fmt.Fprintf(stderr, "provision: waiting for the lock %s, held by %s (up to %v)\n", path, holder, timeout)
			said = true
		}
		wait := min(lockPoll, time.Until(deadline))
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the lock %s (%s): %w", path, holder, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// lockHolder names the process that holds the flock on f: from
// /proc/locks, which the kernel keeps right whoever took the lock, else
// from the PID the holder wrote into the file.
func lockHolder(f *os.File) string {
	pid := flockHolder(f)
	if pid == 0 {
		buf := make([]byte, 32)
		n, _ := f.ReadAt(buf, 0)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	}
	if pid <= 0 {
		return "an unknown process"
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return fmt.Sprintf("PID %d", pid)
	}
	return fmt.Sprintf("PID %d, %s", pid, strings.TrimSpace(string(comm)))
}

// flockHolder finds in /proc/locks the PID holding an flock on the file
// open as f, or returns 0. Lines read
// "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF", the device numbers in
// hex; a waiter's line has "->" after the number.
func flockHolder(f *os.File) int {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0
	}
	want := fmt.Sprintf("%02x:%02x:%d", unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	locks, err := os.Open("/proc/locks")
	if err != nil {
		return 0
	}
	defer locks.Close()
	sc := bufio.NewScanner(locks)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && pid > 0 {
			return pid
		}
	}
	return 0
}

// sameFile reports whether a and b name the same file (or directory).
func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}
