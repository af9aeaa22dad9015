package steps

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrSymlink is returned when a managed path, or a directory on the way to
// it, is a symbolic link. provision runs as root and never follows a link:
// an unprivileged user could have planted it to redirect a write.
var ErrSymlink = errors.New("is a symbolic link; refusing to follow it")

// node is what lstat says of a path, without following links.
type node struct {
	exists bool
	mode   os.FileMode // type bits and permissions
	uid    int
	gid    int
	size   int64
}

func (n node) perm() os.FileMode { return n.mode & os.ModePerm }

// openParent opens the directory that holds path (absolute, interpreted
// under h.Root) by walking every component with O_NOFOLLOW, so no symbolic
// link below the root is ever followed. It returns the directory's file
// descriptor and the last component of path.
func (h *Host) openParent(path string) (int, string, error) {
	clean := filepath.Clean(path)
	if !filepath.IsAbs(clean) || clean == "/" {
		return -1, "", fmt.Errorf("%s: not an absolute file path", path)
	}
	fd, err := unix.Open(h.root(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("open root %s: %w", h.root(), err)
	}
	dir := filepath.Dir(clean)
	walked := ""
	for _, c := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if c == "" {
			continue
		}
		walked += "/" + c
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			err = explainOpenErr(fd, c, err)
			unix.Close(fd)
			return -1, "", &os.PathError{Op: "open", Path: walked, Err: err}
		}
		unix.Close(fd)
		fd = next
	}
	return fd, filepath.Base(clean), nil
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

// lstat describes path without following links. A missing path, or a
// missing parent, is reported as a node that does not exist.
func (h *Host) lstat(path string) (node, error) {
	dirfd, base, err := h.openParent(path)
	if errors.Is(err, unix.ENOENT) {
		return node{}, nil
	}
	if err != nil {
		return node{}, err
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if err == unix.ENOENT {
			return node{}, nil
		}
		return node{}, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return node{
		exists: true,
		mode:   fileMode(st.Mode),
		uid:    int(st.Uid),
		gid:    int(st.Gid),
		size:   st.Size,
	}, nil
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

// openNoFollow opens path (a regular file or a directory) for reading
// without following a link at any component.
func (h *Host) openNoFollow(path string) (*os.File, error) {
	dirfd, base, err := h.openParent(path)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dirfd)
	fd, err := unix.Openat(dirfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: explainOpenErr(dirfd, base, err)}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// readFile reads a regular file without following links. It reads at
// most limit bytes and reports whether the file was longer.
func (h *Host) readFile(path string, limit int64) ([]byte, bool, error) {
	f, err := h.openNoFollow(path)
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

// writeFileAtomic replaces path with data, owned by uid:gid with mode perm,
// so that path is at every moment either absent, its old content or the
// complete new content. The temporary file lives in the target's directory
// under a name that starts with "." and contains "." (sudo ignores such
// names in sudoers.d); it is written, chowned, chmodded and fsynced before
// the rename, and the directory is fsynced after it. If check is not nil it
// is called with the temporary file's path on the host before the rename,
// and an error from it leaves the target untouched.
func (h *Host) writeFileAtomic(path string, data []byte, perm os.FileMode, uid, gid int, check func(tmp string) error) error {
	dirfd, base, err := h.openParent(path)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	tmp := "." + base + ".provision-" + randomSuffix()
	fd, err := unix.Openat(dirfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(filepath.Dir(path), tmp), Err: err}
	}
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
	if check != nil {
		if err := check(h.hostPath(filepath.Join(filepath.Dir(path), tmp))); err != nil {
			return err
		}
	}
	if err := unix.Renameat(dirfd, tmp, dirfd, base); err != nil {
		return &os.PathError{Op: "rename", Path: path, Err: err}
	}
	installed = true
	if err := unix.Fsync(dirfd); err != nil {
		return &os.PathError{Op: "fsync", Path: filepath.Dir(path), Err: err}
	}
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

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mkdir creates directory path with the given owner and mode. Its parent
// must exist.
func (h *Host) mkdir(path string, perm os.FileMode, uid, gid int) error {
	dirfd, base, err := h.openParent(path)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := unix.Mkdirat(dirfd, base, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
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
	return nil
}

// chownChmod sets the owner and mode of an existing file or directory
// through a descriptor opened without following links.
func (h *Host) chownChmod(path string, perm os.FileMode, uid, gid int) error {
	f, err := h.openNoFollow(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	return f.Chmod(perm)
}

// remove deletes a file without following links.
func (h *Host) remove(path string) error {
	dirfd, base, err := h.openParent(path)
	if err != nil {
		return err
	}
	defer unix.Close(dirfd)
	if err := unix.Unlinkat(dirfd, base, 0); err != nil {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return unix.Fsync(dirfd)
}
