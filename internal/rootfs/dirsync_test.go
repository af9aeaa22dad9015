package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Requests for one directory are answered by fsyncs that started after
// them; many made at once share few; an fsync that fails fails the
// requests it answered.
func TestDirSyncs(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	s := NewDirSyncs()
	var waits []func() error
	for i := range 50 {
		if err := os.WriteFile(filepath.Join(dir, "f"+string(rune('a'+i%26))), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, wait, err := s.Request(fd, dir)
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, wait)
	}
	for i, wait := range waits {
		if err := wait(); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	d := s.dirs[keyOf(t, fd)]
	if d.synced != 50 || d.running {
		t.Errorf("after the waits: synced %d of 50, running %v", d.synced, d.running)
	}

	// Requests from several goroutines at once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ready, wait, err := s.Request(fd, dir)
			if err != nil {
				t.Error(err)
				return
			}
			if err := wait(); err != nil || !ready() {
				t.Errorf("wait: %v, then ready %v", err, ready())
			}
		})
	}
	wg.Wait()

	// fsync(2) of a pipe fails (EINVAL): each request says so, naming
	// the path it was given.
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	_, wait, err := s.Request(p[0], "/the/dir")
	if err != nil {
		t.Fatal(err)
	}
	err = wait()
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != "/the/dir" || !errors.Is(err, syscall.EINVAL) {
		t.Errorf("fsync of a pipe: %v, want an fsync error on /the/dir", err)
	}
	s.Close()
	if len(s.dirs) != 0 {
		t.Errorf("Close left %d directories open", len(s.dirs))
	}
}

func keyOf(t *testing.T, fd int) dirKey {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return dirKey{uint64(st.Dev), st.Ino}
}
