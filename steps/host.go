package steps

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// NewHost returns a Host for root ("/" for the running system) that runs
// helper commands with os/exec.
func NewHost(root string, sd Systemd) *Host {
	return &Host{Root: root, Systemd: sd, Exec: ExecCommand, Run: &RunState{}}
}

// ExecCommand runs name with args and returns its combined output. A
// non-zero exit is an error that carries the output.
func ExecCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return out, fmt.Errorf("%s: %w", name, err)
		}
		return out, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return out, nil
}

func (h *Host) root() string {
	if h.Root == "" {
		return "/"
	}
	return h.Root
}

// hostPath is where path (absolute, on the managed host) is in this
// process's file system.
func (h *Host) hostPath(path string) string {
	return filepath.Join(h.root(), path)
}

// run runs a helper command. Crash points (see crash) sit before and
// after it.
func (h *Host) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if crash.on {
		cmd := strings.Join(append([]string{name}, args...), " ")
		crashPoint("run", cmd, "about to start")
		defer crashPoint("run", cmd, "exited")
	}
	// A helper may have changed the account databases: read them again.
	h.Run.accounts, h.Run.groups = nil, nil
	return h.Exec(ctx, name, args...)
}

// account is a line of /etc/passwd.
type account struct {
	name  string
	uid   int
	gid   int
	home  string
	shell string
}

// group is a line of /etc/group.
type group struct {
	name    string
	gid     int
	members []string
}

// accounts reads the host's /etc/passwd. Only local accounts count:
// provision creates them with useradd, which writes this file.
func (h *Host) accounts() (map[string]account, error) {
	if h.Run.accounts != nil {
		return h.Run.accounts, nil
	}
	m := map[string]account{}
	err := readColonFile(h.hostPath("/etc/passwd"), 7, func(f []string) {
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			m[f[0]] = account{name: f[0], uid: uid, gid: gid, home: f[5], shell: f[6]}
		}
	})
	if err == nil {
		h.Run.accounts = m
	}
	return m, err
}

// groups reads the host's /etc/group.
func (h *Host) groups() (map[string]group, error) {
	if h.Run.groups != nil {
		return h.Run.groups, nil
	}
	m := map[string]group{}
	err := readColonFile(h.hostPath("/etc/group"), 4, func(f []string) {
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		m[f[0]] = group{name: f[0], gid: gid, members: members}
	})
	if err == nil {
		h.Run.groups = m
	}
	return m, err
}

func readColonFile(path string, fields int, fn func([]string)) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) < fields {
			continue
		}
		fn(f)
	}
	return sc.Err()
}

// owner resolves user and group names to ids on the host. ok is false
// when either does not exist (yet).
func (h *Host) owner(user, grp string) (uid, gid int, ok bool, err error) {
	accts, err := h.accounts()
	if err != nil {
		return 0, 0, false, err
	}
	grps, err := h.groups()
	if err != nil {
		return 0, 0, false, err
	}
	a, okU := accts[user]
	g, okG := grps[grp]
	return a.uid, g.gid, okU && okG, nil
}

// ownerNames names uid and gid for a diff, by number when unknown.
func (h *Host) ownerNames(uid, gid int) string {
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	if accts, err := h.accounts(); err == nil {
		for _, a := range accts {
			if a.uid == uid {
				u = a.name
				break
			}
		}
	}
	if grps, err := h.groups(); err == nil {
		for _, gr := range grps {
			if gr.gid == gid {
				g = gr.name
				break
			}
		}
	}
	return u + ":" + g
}
