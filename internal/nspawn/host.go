package nspawn

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mountOverlay mounts a copy-on-write overlay of the host's / on dir/merged,
// with dir/upper and dir/work as its writable layer.
func mountOverlay(dir string) error {
	opts := fmt.Sprintf("lowerdir=/,upperdir=%s,workdir=%s",
		filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := syscall.Mount("overlay", filepath.Join(dir, "merged"), "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay on %s: %w", filepath.Join(dir, "merged"), err)
	}
	return nil
}

// unmountOverlay unmounts target if it is a mount point, retrying for a
// second while it is busy and detaching it lazily as a last resort, which
// is reported as an error.
func unmountOverlay(target string) error {
	mounted, err := isMountpoint(target)
	if err != nil || !mounted {
		return err
	}
	for i := 0; ; i++ {
		err = syscall.Unmount(target, 0)
		if err == nil || errors.Is(err, syscall.EINVAL) {
			return nil // EINVAL: no longer a mount point
		}
		if !errors.Is(err, syscall.EBUSY) || i == 20 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if derr := syscall.Unmount(target, syscall.MNT_DETACH); derr != nil {
		return fmt.Errorf("unmount %s: %w; lazily: %w", target, err, derr)
	}
	return fmt.Errorf("unmount %s: %w; detached it lazily", target, err)
}

// isMountpoint reports whether path is a mount point in this process's
// mount namespace.
func isMountpoint(path string) (bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if m.point == path {
			return true, nil
		}
	}
	return false, nil
}

// mountinfoEntry is the part of a /proc/PID/mountinfo line this package
// uses.
type mountinfoEntry struct {
	root, point, fstype, source, superOpts string
}

// parseMountinfo parses the format of proc(5)'s /proc/PID/mountinfo.
func parseMountinfo(f *os.File) ([]mountinfoEntry, error) {
	var out []mountinfoEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		e, ok := parseMountinfoLine(sc.Text())
		if ok {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}

func parseMountinfoLine(line string) (mountinfoEntry, bool) {
	// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
	pre, post, ok := strings.Cut(line, " - ")
	if !ok {
		return mountinfoEntry{}, false
	}
	f := strings.Fields(pre)
	g := strings.Fields(post)
	if len(f) < 5 || len(g) < 3 {
		return mountinfoEntry{}, false
	}
	return mountinfoEntry{
		root:      unescapeMountinfo(f[3]),
		point:     unescapeMountinfo(f[4]),
		fstype:    g[0],
		source:    g[1],
		superOpts: g[2],
	}, true
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// mountinfo's path fields.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupHierarchy is a cgroup hierarchy systemd uses, with this process's
// cgroup in it.
type cgroupHierarchy struct {
	mount   string // where the hierarchy is mounted
	current string // this process's cgroup directory in it
}

// child returns the directory of the cgroup name under the current one.
func (h cgroupHierarchy) child(name string) string {
	return filepath.Join(h.current, name)
}

// cgroupHierarchies finds the hierarchies systemd uses: the named v1
// hierarchy name=systemd and the unified (v2) one, whichever are mounted.
func cgroupHierarchies() ([]cgroupHierarchy, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return nil, err
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, err
	}
	hs, err := selectHierarchies(mounts, string(own))
	if err != nil {
		return nil, err
	}
	if len(hs) == 0 {
		return nil, errors.New("find cgroup hierarchies: neither name=systemd nor cgroup2 is mounted")
	}
	return hs, nil
}

// selectHierarchies matches the cgroup mounts against the process's
// /proc/self/cgroup: the first name=systemd (v1) mount and the first
// cgroup2 mount.
func selectHierarchies(mounts []mountinfoEntry, procCgroup string) ([]cgroupHierarchy, error) {
	paths := map[string]string{} // "name=systemd" or "" (v2) -> path
	for _, line := range strings.Split(strings.TrimSpace(procCgroup), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			paths[""] = parts[2]
		case parts[1] == "name=systemd":
			paths["name=systemd"] = parts[2]
		}
	}
	var hs []cgroupHierarchy
	seen := map[string]bool{}
	for _, m := range mounts {
		var key string
		switch {
		case m.fstype == "cgroup2":
			key = ""
		case m.fstype == "cgroup" && hasOption(m.superOpts, "name=systemd"):
			key = "name=systemd"
		default:
			continue
		}
		if seen[key] {
			continue
		}
		p, ok := paths[key]
		if !ok {
			continue
		}
		rel, err := filepath.Rel(m.root, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("find cgroup: %s is outside the mount of %s at %s", p, m.root, m.point)
		}
		seen[key] = true
		hs = append(hs, cgroupHierarchy{mount: m.point, current: filepath.Join(m.point, rel)})
	}
	return hs, nil
}

func hasOption(opts, want string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// removeCgroup removes the cgroup directory dir and its descendants,
// deepest first, retrying for a few seconds while processes in them are
// still exiting. A missing dir is not an error.
func removeCgroup(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := rmdirTree(dir)
		if err == nil || !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("remove cgroup: %w", err)
			}
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func rmdirTree(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// WalkDir visits parents before children: remove in reverse.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
			return &fs.PathError{Op: "rmdir", Path: dirs[i], Err: err}
		}
	}
	return nil
}

// procStat is what this package reads of /proc/PID/stat.
type procStat struct {
	comm      string
	ppid      int
	startTime uint64 // clock ticks after boot; tells a PID's reuse apart
}

func readProcStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(string(data))
}

// parseProcStat parses proc(5)'s /proc/PID/stat, whose second field (comm,
// in parentheses) may itself contain spaces and parentheses.
func parseProcStat(s string) (procStat, error) {
	open := strings.IndexByte(s, '(')
	closing := strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("parse /proc stat %q", s)
	}
	f := strings.Fields(s[closing+1:])
	// f[0] is field 3 (state); ppid is field 4, starttime field 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("parse /proc stat %q", s)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat ppid: %w", err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("parse /proc stat starttime: %w", err)
	}
	return procStat{comm: s[open+1 : closing], ppid: ppid, startTime: start}, nil
}

// findChild returns the PID of a child of parent whose command name is
// comm, or 0 when there is none.
func findChild(parent int, comm string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		if st.ppid == parent && st.comm == comm {
			return pid, nil
		}
	}
	return 0, nil
}
