package rootfs

import (
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// DirSyncs makes changes of directory entries durable in groups: a
// request for a directory is answered by an fsync(2) of it that started
// after the request, and requests made while one runs share the next.
// Files renamed into one directory one after the other (a hundred unit
// files, a hundred sudoers drop-ins) thus cost a few fsyncs of it, not one
// each, and the caller need not wait for them (FS.SyncDir). A file's own
// data is synced before its rename, as before: the directory's fsync
// makes the rename durable, not the content.
//
// Its methods may be called from several goroutines; Close when done.
type DirSyncs struct {
	mu   sync.Mutex
	dirs map[dirKey]*dirSync
	wg   sync.WaitGroup
}

type dirKey struct{ dev, ino uint64 }

// dirSync is the state of one directory: requests are numbered, and
// synced is the number of the last one an fsync covered.
type dirSync struct {
	fd        int
	path      string
	requested uint64
	synced    uint64
	running   bool
	// failed are the requests whose fsync failed, as ranges.
	failed []failedSync
	done   *sync.Cond
}

type failedSync struct {
	from, to uint64
	err      error
}

// NewDirSyncs returns an empty DirSyncs.
func NewDirSyncs() *DirSyncs { return &DirSyncs{dirs: map[dirKey]*dirSync{}} }

// Request asks for an fsync of the directory dirfd, at path, that starts
// after this call, and returns at once: ready reports without blocking
// whether it is done, wait waits for it and returns its error. dirfd is
// not kept; the directory is.
func (s *DirSyncs) Request(dirfd int, path string) (ready func() bool, wait func() error, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(dirfd, &st); err != nil {
		return nil, nil, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	key := dirKey{uint64(st.Dev), st.Ino}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dirs[key]
	if d == nil {
		fd, err := unix.FcntlInt(uintptr(dirfd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, nil, &os.PathError{Op: "dup", Path: path, Err: err}
		}
		d = &dirSync{fd: fd, path: path, done: sync.NewCond(&s.mu)}
		s.dirs[key] = d
	}
	d.requested++
	ticket := d.requested
	if !d.running {
		d.running = true
		s.wg.Add(1)
		go s.sync(d)
	}
	ready = func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return d.synced >= ticket
	}
	wait = func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		for d.synced < ticket {
			d.done.Wait()
		}
		for _, f := range d.failed {
			if f.from <= ticket && ticket <= f.to {
				return f.err
			}
		}
		return nil
	}
	return ready, wait, nil
}

// sync fsyncs d until every request made so far is covered.
func (s *DirSyncs) sync(d *dirSync) {
	defer s.wg.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for d.synced < d.requested {
		from, to := d.synced+1, d.requested
		s.mu.Unlock()
		err := unix.Fsync(d.fd)
		s.mu.Lock()
		if err != nil {
			d.failed = append(d.failed, failedSync{from, to, fmt.Errorf("make the change in %s durable: %w", d.path, &os.PathError{Op: "fsync", Path: d.path, Err: err})})
		}
		d.synced = to
		d.done.Broadcast()
	}
	d.running = false
}

// Close waits for the fsyncs under way and closes the directories.
func (s *DirSyncs) Close() {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, d := range s.dirs {
		unix.Close(d.fd)
		delete(s.dirs, k)
	}
}
