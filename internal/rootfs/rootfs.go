// Package rootfs holds the file operations provision runs as root: every
// one of them resolves its path without following a symbolic link below
// the root (an unprivileged user could have planted one to redirect a
// write), writes atomically (temporary file, fsync, rename, fsync of the
// directory), and refuses to change the owner or mode of a file with
// several hard links. Resolve, which does follow links, is for reading a
// tree as a process inside it would.
package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/provision-dev/provision/internal/crash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrSymlink is returned when a managed path, or a directory on the way to
// it, is a symbolic link that provision will not follow. provision runs as
// root and follows a link on the way only when root alone could have
// planted it (see walkParent): anyone else's could redirect a write.
var ErrSymlink = errors.New("is a symbolic link; refusing to follow it")

// Node is what Lstat says of a path, without following links.
type Node struct {
	Exists bool
	Mode   os.FileMode // type bits and permissions
	UID    int
	GID    int
	Size   int64
	// Nlink is the number of hard links of the inode.
	Nlink uint64
}

// Perm returns the permission bits of n.
func (n Node) Perm() os.FileMode { return n.Mode & os.ModePerm }

// FS is a host's file system as seen from its root directory: "/" for the
// running system, or the directory of a tree being built (--root). Every
// path given to its methods is absolute and interpreted under Root.
type FS struct {
	// Root is the host's root directory; "" means "/".
	Root string
	// Dirs, when not nil, keeps the directories opened on the way to
	// paths for the operations that follow (see Dirs).
	Dirs *Dirs
	// SyncDir, when not nil, makes a new entry (a file renamed into
	// place, a link) or a removed one in the directory dirfd, at dir,
	// durable in place of fsync(2) at once: it may do so later (see
	// DirSyncs). Its error is the change's.
	SyncDir func(dirfd int, dir string) error
}

// syncDir makes a change of an entry of the directory dirfd, at dir,
// durable: with fs.SyncDir, or fsync(2) now.
func (fs FS) syncDir(dirfd int, dir string) error {
	if fs.SyncDir != nil {
		return fs.SyncDir(dirfd, dir)
	}
	if err := unix.Fsync(dirfd); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

func (fs FS) root() string {
	if fs.Root == "" {
		return "/"
	}
	return fs.Root
}

// HostPath is where path (absolute, on the managed host) is in this
// process's file system.
func (fs FS) HostPath(path string) string {
	return filepath.Join(fs.root(), path)
}

// openParent opens the directory that holds path (absolute, interpreted
// under Root) without following a symbolic link below the root that
// someone other than root could have planted: openat2 with
// RESOLVE_NO_SYMLINKS when there is no link at all, else a walk of every
// component with O_NOFOLLOW (see walkParent). It returns the directory's
// file descriptor, the last component of path, and the function that
// releases the descriptor (it may be kept in fs.Dirs).
func (fs FS) openParent(path string) (int, string, func(), error) {
	clean := filepath.Clean(path)
	if !filepath.IsAbs(clean) || clean == "/" {
		return -1, "", nil, fmt.Errorf("%s: not an absolute file path", path)
	}
	dirPath, base := filepath.Dir(clean), filepath.Base(clean)
	if fd, release, ok := fs.Dirs.get(dirPath); ok {
		return fd, base, release, nil
	}
	fd, err := unix.Open(fs.root(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", nil, fmt.Errorf("open root %s: %w", fs.root(), err)
	}
	dir := strings.TrimPrefix(dirPath, "/")
	if dir == "" {
		return fd, base, closer(fd), nil
	}
	// One openat2 call resolves the whole directory without following a
	// link. When it meets one (ELOOP), or the kernel has no openat2, the
	// walk finds the answer component by component, and names the link.
	next, err := unix.Openat2(fd, dir, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err == nil {
		unix.Close(fd)
		if release := fs.keep(dirPath, next); release != nil {
			return next, base, release, nil
		}
		return next, base, closer(next), nil
	}
	if err == unix.ENOENT {
		// No link on the way to what is missing (openat2 stops at the
		// first link with ELOOP): the walk would find the same.
		unix.Close(fd)
		return -1, "", nil, &os.PathError{Op: "open", Path: dirPath, Err: err}
	}
	next, trusted, err := walkParent(fd, dirPath)
	unix.Close(fd)
	if err != nil {
		return -1, "", nil, err
	}
	if trusted {
		if release := fs.Dirs.put(dirPath, next); release != nil {
			return next, base, release, nil
		}
	}
	return next, base, closer(next), nil
}

// keep keeps fd, the directory dirPath, in fs.Dirs when it and every
// directory above it are root's and writable by root alone, opening (and
// keeping) the directories above as needed. It returns the function that
// releases fd, or nil when it did not keep fd (the caller still owns it).
func (fs FS) keep(dirPath string, fd int) func() {
	if fs.Dirs == nil || !rootOwned(fd) {
		return nil
	}
	switch parent := filepath.Dir(dirPath); {
	case parent == "/":
		var st unix.Stat_t
		if unix.Stat(fs.root(), &st) != nil || st.Uid != 0 || st.Mode&0o022 != 0 {
			return nil
		}
	case !fs.Dirs.has(parent):
		// Opening a name in parent opens parent, and keeps it if it
		// is to be kept.
		_, _, release, err := fs.openParent(parent + "/-")
		if err != nil {
			return nil
		}
		release()
		if !fs.Dirs.has(parent) {
			return nil
		}
	}
	return fs.Dirs.put(dirPath, fd)
}

func closer(fd int) func() { return func() { unix.Close(fd) } }

// ResolveTrusted returns the path that path is when it is a symbolic link
// (or a chain of them) that only root could have planted: root's, in a
// directory that root alone can write, reached through such directories
// only (see walkParent); the target is read inside the root. Any other
// path is returned as it is, and its caller treats a link there as it
// treats any link (refuses it).
func (fs FS) ResolveTrusted(path string) (string, error) {
	p := filepath.Clean(path)
	for links := 0; ; links++ {
		n, err := fs.Lstat(p)
		if err != nil || !n.Exists || n.Mode&os.ModeSymlink == 0 || n.UID != 0 {
			return p, err
		}
		if links >= maxLinks {
			return p, &os.PathError{Op: "resolve", Path: path, Err: unix.ELOOP}
		}
		rootfd, err := unix.Open(fs.root(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return p, err
		}
		dirfd, trusted, err := walkParent(rootfd, filepath.Dir(p))
		unix.Close(rootfd)
		if err != nil {
			return p, err
		}
		unix.Close(dirfd)
		if !trusted {
			return p, nil
		}
		target, err := fs.Readlink(p)
		if err != nil {
			return p, err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = filepath.Clean(target)
	}
}

// walkParent opens the directory dir (absolute, under the root open at
// rootfd) component by component with O_NOFOLLOW. It follows a symbolic
// link only when only root could have planted it: the link is root's,
// and every directory walked to reach it, the root included, is root's
// and writable by no one else (a data volume mounted elsewhere, /data ->
// /srv/data). Any other link is refused with ErrSymlink, naming it. A
// followed link's target is walked from the root (absolute) or from the
// link's directory (relative), and never leaves the root.
//
// trusted reports whether every directory walked, the last one included,
// is root's and writable by root alone.
func walkParent(rootfd int, dir string) (fd int, trusted bool, err error) {
	fd, err = unix.Dup(rootfd)
	if err != nil {
		return -1, false, err
	}
	trusted = rootOwned(fd)
	comps := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	walked := "/"
	for links := 0; len(comps) > 0; {
		c := comps[0]
		comps = comps[1:]
		if c == "" || c == "." {
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			fd = next
			walked = filepath.Join(walked, c)
			trusted = trusted && rootOwned(fd)
			continue
		}
		if explainOpenErr(fd, c, err) != ErrSymlink {
			unix.Close(fd)
			return -1, false, &os.PathError{Op: "open", Path: filepath.Join(walked, c), Err: err}
		}
		link := filepath.Join(walked, c)
		var st unix.Stat_t
		if e := unix.Fstatat(fd, c, &st, unix.AT_SYMLINK_NOFOLLOW); e != nil || st.Uid != 0 || !trusted {
			unix.Close(fd)
			why := "it is not root's"
			if e == nil && st.Uid == 0 {
				why = "a directory on the way to it is not root's, or others can write it"
			}
			return -1, false, &os.PathError{Op: "open", Path: link, Err: fmt.Errorf("%w: %s, so someone other than root could have planted it; replace it with the directory itself, or make the link and every directory on the way root's and writable by root alone", ErrSymlink, why)}
		}
		if links++; links > maxLinks {
			unix.Close(fd)
			return -1, false, &os.PathError{Op: "open", Path: link, Err: unix.ELOOP}
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, c, buf)
		if err != nil {
			unix.Close(fd)
			return -1, false, &os.PathError{Op: "readlink", Path: link, Err: err}
		}
		target := string(buf[:n])
		if !filepath.IsAbs(target) {
			target = filepath.Join(walked, target)
		}
		// Walk the target, then what was left, again from the root.
		rest := filepath.Join(append([]string{filepath.Clean(target)}, comps...)...)
		comps = strings.Split(strings.TrimPrefix(rest, "/"), "/")
		unix.Close(fd)
		if fd, err = unix.Dup(rootfd); err != nil {
			return -1, false, err
		}
		walked, trusted = "/", rootOwned(fd)
	}
	return fd, trusted, nil
}

// rootOwned reports whether the directory open at fd is root's and
// writable by root alone.
func rootOwned(fd int) bool {
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Uid == 0 && st.Mode&0o022 == 0
}

// explainOpenErr turns the ELOOP or ENOTDIR that O_NOFOLLOW gives for a
// link into ErrSymlink.
func explainOpenErr(dirfd int, name string, err error) error {
	if err != unix.ELOOP && err != unix.ENOTDIR {
		return err
	}
	var st unix.Stat_t
	if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return ErrSymlink
	}
	return err
}

// Lstat describes path without following links. A missing path, or a
// missing parent, is reported as a node that does not exist.
func (fs FS) Lstat(path string) (Node, error) {
	dirfd, base, release, err := fs.openParent(path)
	if errors.Is(err, unix.ENOENT) {
		return Node{}, nil
	}
	if err != nil {
		return Node{}, err
	}
	defer release()
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return Node{}, nil
		}
		return Node{}, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return nodeOf(&st), nil
}

func nodeOf(st *unix.Stat_t) Node {
	return Node{
		Exists: true,
		Mode:   fileMode(st.Mode),
		UID:    int(st.Uid),
		GID:    int(st.Gid),
		Size:   st.Size,
		Nlink:  uint64(st.Nlink),
	}
}

func fileMode(m uint32) os.FileMode {
	mode := os.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		mode |= os.ModeDir
	case unix.S_IFLNK:
		mode |= os.ModeSymlink
	case unix.S_IFREG:
	default:
		mode |= os.ModeIrregular
	}
	if m&unix.S_ISUID != 0 {
		mode |= os.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= os.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= os.ModeSticky
	}
	return mode
}

// Open opens path (a regular file or a directory) for reading
// without following a link at any component.
func (fs FS) Open(path string) (*os.File, error) {
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return nil, err
	}
	defer release()
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: explainOpenErr(dirfd, base, err)}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadFile reads a regular file without following links. It reads at
// most limit bytes and reports whether the file was longer.
func (fs FS) ReadFile(path string, limit int64) ([]byte, bool, error) {
	f, err := fs.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return data[:limit], true, nil
	}
	return data, false, nil
}

// WriteFileAtomic replaces path with data, owned by uid:gid with mode perm,
// so that path is at every moment either absent, its old content or the
// complete new content. The temporary file lives in the target's directory
// under a name that starts with "." and contains "." (sudo ignores such
// names in sudoers.d); it is written, chowned, chmodded and fsynced before
// the rename, and the directory is fsynced after it (see SyncDir). If check is not nil it
// is called with the temporary file's path on the host before the rename,
// and an error from it leaves the target untouched.
//
// A run killed half-way leaves its temporary file behind; the next write
// of the same path removes such leftovers first (see removeLeftovers).
func (fs FS) WriteFileAtomic(path string, data []byte, perm os.FileMode, uid, gid int, check func(tmp string) error) error {
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return err
	}
	defer release()
	if err := fs.removeLeftovers(filepath.Dir(filepath.Clean(path)), dirfd, base); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := tempPrefix(base) + randomSuffix()
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(filepath.Dir(path), tmp), Err: err}
	}
	crash.Point("write", path, "temporary file created")
	f := os.NewFile(uintptr(fd), tmp)
	installed := false
	defer func() {
		if !installed {
			unix.Unlinkat(dirfd, tmp, 0)
		}
	}()
	err = writeAndSync(f, data, perm, uid, gid)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	crash.Point("write", path, "temporary file written and synced")
	if check != nil {
		if err := check(fs.HostPath(filepath.Join(filepath.Dir(path), tmp))); err != nil {
			return err
		}
	}
	if err := unix.Renameat(dirfd, tmp, dirfd, base); err != nil {
		return &os.PathError{Op: "rename", Path: path, Err: err}
	}
	installed = true
	crash.Point("write", path, "renamed into place")
	if err := fs.syncDir(dirfd, filepath.Dir(path)); err != nil {
		return err
	}
	crash.Point("write", path, "directory synced")
	return nil
}

func writeAndSync(f *os.File, data []byte, perm os.FileMode, uid, gid int) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	// chown before chmod: chown clears the setuid and setgid bits.
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	return f.Sync()
}

// tempPrefix starts the name of WriteFileAtomic's temporary files for the
// file named base; randomSuffix ends it.
func tempPrefix(base string) string { return "." + base + tempMarker }

// tempMarker stands between a temporary file's base and its suffix.
const tempMarker = ".provision-"

func randomSuffix() string {
	var b [tempRandomBytes]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

const tempRandomBytes = 6

// isLeftover reports whether name is one of WriteFileAtomic's temporary
// file names for base: the prefix and exactly the random hex suffix.
func isLeftover(name, base string) bool {
	suffix, ok := strings.CutPrefix(name, tempPrefix(base))
	if !ok || len(suffix) != 2*tempRandomBytes {
		return false
	}
	for _, r := range suffix {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// removeLeftovers removes, from the directory dirfd, the temporary files a
// killed run left beside base. Only regular files whose name is exactly a
// temporary name for base are removed; unlinkat removes a name and never
// follows a link, and anything else is left alone.
func (fs FS) removeLeftovers(dir string, dirfd int, base string) error {
	names, listed, err := fs.Dirs.takeLeftovers(dir, dirfd, base)
	if err != nil {
		return fmt.Errorf("list directory: %w", err)
	}
	if !listed {
		all, err := listNames(dirfd)
		if err != nil {
			return fmt.Errorf("list directory: %w", err)
		}
		for _, name := range all {
			if isLeftover(name, base) {
				names = append(names, name)
			}
		}
	}
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
			return fmt.Errorf("remove leftover temporary file %s: %w", name, err)
		}
	}
	return nil
}

// listNames returns the names in the directory dirfd.
func listNames(dirfd int) ([]string, error) {
	dfd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(dfd), ".")
	defer d.Close()
	return d.Readdirnames(-1)
}

// leftoverOf returns the name a temporary file name was made for, if it
// is one (isLeftover(name, base) holds).
func leftoverOf(name string) (base string, ok bool) {
	if len(name) < 1+len(tempMarker)+2*tempRandomBytes || name[0] != '.' {
		return "", false
	}
	i := len(name) - len(tempMarker) - 2*tempRandomBytes
	if name[i:i+len(tempMarker)] != tempMarker {
		return "", false
	}
	base = name[1:i]
	return base, base != "" && isLeftover(name, base)
}

// Mkdir creates directory path with the given owner and mode. Its parent
// must exist.
func (fs FS) Mkdir(path string, perm os.FileMode, uid, gid int) error {
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return err
	}
	defer release()
	if err := unix.Mkdirat(dirfd, base, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	crash.Point("mkdir", path, "created")
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	if err := f.Chmod(perm); err != nil {
		return err
	}
	if err := unix.Fsync(dirfd); err != nil {
		return &os.PathError{Op: "fsync", Path: filepath.Dir(path), Err: err}
	}
	crash.Point("mkdir", path, "owner and mode set")
	return nil
}

// ChownChmod sets the owner and mode of an existing file or directory
// through a descriptor opened without following links. It refuses a file
// with more than one hard link: the same inode has another name, maybe
// one the spec does not manage, such as /etc/shadow linked by the owner of
// the directory where fs.protected_hardlinks is off.
func (fs FS) ChownChmod(path string, perm os.FileMode, uid, gid int) error {
	f, err := fs.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 {
		return fmt.Errorf("%s: %w (%d names)", path, ErrHardLink, st.Nlink)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		// Who may change the directory, and those below it, changes.
		defer fs.Dirs.Forget()
	}
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	crash.Point("chown", path, "owner set")
	if err := f.Chmod(perm); err != nil {
		return err
	}
	crash.Point("chmod", path, "mode set")
	return nil
}

// ErrHardLink is returned when the owner or mode of a file with several
// hard links would be changed: it would change every other name too.
var ErrHardLink = errors.New("has more than one hard link; refusing to change its owner or mode")

// Remove deletes a file without following links.
func (fs FS) Remove(path string) error {
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return err
	}
	defer release()
	if err := unix.Unlinkat(dirfd, base, 0); err != nil {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	crash.Point("remove", path, "removed")
	if err := fs.syncDir(dirfd, filepath.Dir(path)); err != nil {
		return err
	}
	return nil
}

// RemoveDir removes the empty directory path without following links; a
// directory that is not empty is an error (ENOTEMPTY): nothing is ever
// removed recursively.
func (fs FS) RemoveDir(path string) error {
	defer fs.Dirs.Forget()
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return err
	}
	defer release()
	if err := unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR); err != nil {
		return &os.PathError{Op: "rmdir", Path: path, Err: err}
	}
	crash.Point("rmdir", path, "removed")
	if err := unix.Fsync(dirfd); err != nil {
		return &os.PathError{Op: "fsync", Path: filepath.Dir(path), Err: err}
	}
	return nil
}

// Symlink creates the symbolic link path pointing to target, without
// following links on the way to path.
func (fs FS) Symlink(target, path string) error {
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return err
	}
	defer release()
	if err := unix.Symlinkat(target, dirfd, base); err != nil {
		return &os.PathError{Op: "symlink", Path: path, Err: err}
	}
	crash.Point("symlink", path, "created")
	if err := fs.syncDir(dirfd, filepath.Dir(path)); err != nil {
		return err
	}
	return nil
}

// MkdirAll creates dir and its missing parents, 0755, owned by the user
// provision runs as (root), without following links on the way.
func (fs FS) MkdirAll(dir string) error {
	if dir == "/" {
		return nil
	}
	n, err := fs.Lstat(dir)
	if err != nil {
		return err
	}
	if n.Exists {
		if n.Mode&os.ModeSymlink != 0 {
			return fmt.Errorf("%s: %w", dir, ErrSymlink)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := fs.MkdirAll(parent); err != nil {
			return err
		}
	}
	return fs.Mkdir(dir, 0o755, os.Geteuid(), os.Getegid())
}

// Entry is one name in a directory, with what Lstat says of it.
type Entry struct {
	Name string
	Node
}

// ReadDir lists directory path, without following links to it or on the
// way, and describes each entry without following it. A missing directory
// has no entries.
func (fs FS) ReadDir(path string) ([]Entry, error) {
	d, err := fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, &os.PathError{Op: "readdir", Path: path, Err: err}
	}
	slices.Sort(names)
	out := make([]Entry, 0, len(names))
	for _, name := range names {
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if err == unix.ENOENT {
				continue
			}
			return nil, &os.PathError{Op: "lstat", Path: filepath.Join(path, name), Err: err}
		}
		out = append(out, Entry{Name: name, Node: nodeOf(&st)})
	}
	return out, nil
}

// Readlink returns the target of the symbolic link path, without
// following links on the way to it.
func (fs FS) Readlink(path string) (string, error) {
	dirfd, base, release, err := fs.openParent(path)
	if err != nil {
		return "", err
	}
	defer release()
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, base, buf)
	if err != nil {
		return "", &os.PathError{Op: "readlink", Path: path, Err: err}
	}
	return string(buf[:n]), nil
}
