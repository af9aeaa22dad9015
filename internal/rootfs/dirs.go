package rootfs

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Dirs keeps, for one run, the directories FS opened on the way to the
// paths it was given, so that the next path in the same directory costs
// one system call instead of three (open the root, resolve the directory,
// close both): a run with a hundred services reads some six hundred
// paths in a handful of directories.
//
// Only a directory that root alone can change, on a path whose every
// directory root alone can change, is kept: no one else can rename or
// replace it while the run goes on, so its descriptor and its path stay
// the same directory. Anything else is resolved afresh each time. The
// changes FS makes to directories themselves (ChownChmod of a directory,
// RemoveDir) forget every kept directory, and so must whoever changes
// directories another way (a helper program such as userdel): see Forget.
//
// A nil *Dirs keeps nothing. Close releases the descriptors.
type Dirs struct {
	mu   sync.Mutex
	kept map[string]*keptDir
}

// keptDir is a kept directory's descriptor and how many operations are
// using it: one forgotten while in use is closed when the last is done.
type keptDir struct {
	fd        int
	users     int
	forgotten bool
	// leftovers are the temporary files of killed runs in the
	// directory, by the name they were written for, once listed (see
	// takeLeftovers).
	leftovers map[string][]string
}

// NewDirs returns an empty Dirs.
func NewDirs() *Dirs { return &Dirs{kept: map[string]*keptDir{}} }

// get returns dir's kept descriptor and the function that says the
// caller is done with it.
func (d *Dirs) get(dir string) (int, func(), bool) {
	if d == nil {
		return -1, nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k, ok := d.kept[dir]
	if !ok {
		return -1, nil, false
	}
	k.users++
	return k.fd, d.releaser(k), true
}

// has reports whether dir is kept.
func (d *Dirs) has(dir string) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.kept[dir]
	return ok
}

// put keeps fd, in use by the caller, as dir's, unless d is nil or keeps
// dir already; it returns the function that says the caller is done with
// it, or nil when it did not keep fd (the caller still owns it).
func (d *Dirs) put(dir string, fd int) func() {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.kept == nil {
		d.kept = map[string]*keptDir{}
	}
	if _, ok := d.kept[dir]; ok {
		return nil
	}
	k := &keptDir{fd: fd, users: 1}
	d.kept[dir] = k
	return d.releaser(k)
}

func (d *Dirs) releaser(k *keptDir) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			defer d.mu.Unlock()
			if k.users--; k.users == 0 && k.forgotten {
				unix.Close(k.fd)
			}
		})
	}
}

// Forget forgets every kept directory, and closes those not in use (the
// others are closed when their operations are done).
func (d *Dirs) Forget() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for dir, k := range d.kept {
		delete(d.kept, dir)
		k.forgotten = true
		if k.users == 0 {
			unix.Close(k.fd)
		}
	}
}

// Close releases the kept directories; d may be used again afterwards.
func (d *Dirs) Close() { d.Forget() }

// takeLeftovers returns the temporary files a killed run left beside base
// in the kept directory dir (fd), and forgets them: the directory is listed
// once per run, the first time, instead of at every write in it (a
// thousand unit files made a million names read). Only a kept directory,
// which root alone can change, can be listed once: no other program makes
// provision's temporary files, and the run removes or renames its own. ok
// is false when dir is not kept.
func (d *Dirs) takeLeftovers(dir string, fd int, base string) (names []string, ok bool, err error) {
	if d == nil {
		return nil, false, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k, kept := d.kept[dir]
	if !kept || k.fd != fd {
		return nil, false, nil
	}
	if k.leftovers == nil {
		all, err := listNames(fd)
		if err != nil {
			return nil, true, err
		}
		k.leftovers = map[string][]string{}
		for _, name := range all {
			if b, ok := leftoverOf(name); ok {
				k.leftovers[b] = append(k.leftovers[b], name)
			}
		}
	}
	names = k.leftovers[base]
	delete(k.leftovers, base)
	return names, true, nil
}
