package steps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/provision-dev/provision/dbusctl"
)

// ErrOffline is returned by Offline for operations that need a running
// service manager.
var ErrOffline = errors.New("not possible on a tree that is not running (--root)")

// unitDirs are where systemd looks for unit files, most important first.
var unitDirs = []string{"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// Offline is the service manager of a tree that is not running: an image
// being built, a chroot. It enables units the way "systemctl --root=DIR
// enable" does, by creating the symbolic links their [Install] section asks
// for, and cannot start or stop anything.
type Offline struct {
	Host *Host
}

// Reload does nothing: a systemd that is not running has nothing to reload.
func (o Offline) Reload(ctx context.Context) error { return nil }

// Start fails with ErrOffline.
func (o Offline) Start(ctx context.Context, unit string) error { return ErrOffline }

// StartNoWait fails with ErrOffline.
func (o Offline) StartNoWait(ctx context.Context, unit string) error { return ErrOffline }

// RestartNoWait fails with ErrOffline.
func (o Offline) RestartNoWait(ctx context.Context, unit string) error { return ErrOffline }

// SystemState reports dbusctl.SystemOffline: no manager runs the tree.
func (o Offline) SystemState(ctx context.Context) (dbusctl.SystemState, error) {
	return dbusctl.SystemOffline, nil
}

// Stop fails with ErrOffline.
func (o Offline) Stop(ctx context.Context, unit string) error { return ErrOffline }

// Restart fails with ErrOffline.
func (o Offline) Restart(ctx context.Context, unit string) error { return ErrOffline }

// Enable creates the WantedBy and RequiredBy links of units' [Install]
// sections under /etc/systemd/system, and reports whether it created any.
func (o Offline) Enable(ctx context.Context, units ...string) (bool, error) {
	return o.eachLink(units, func(unit, unitPath, link string, n node) (bool, error) {
		if n.exists {
			return false, nil
		}
		if err := o.Host.mkdirAll(path.Dir(link)); err != nil {
			return false, err
		}
		if err := o.Host.symlink(unitPath, link); err != nil {
			return false, fmt.Errorf("enable %s: %w", unit, err)
		}
		return true, nil
	})
}

// Disable removes the links Enable creates.
func (o Offline) Disable(ctx context.Context, units ...string) (bool, error) {
	return o.eachLink(units, func(unit, unitPath, link string, n node) (bool, error) {
		if !n.exists || n.mode&os.ModeSymlink == 0 {
			return false, nil
		}
		if err := o.Host.remove(link); err != nil {
			return false, fmt.Errorf("disable %s: %w", unit, err)
		}
		return true, nil
	})
}

// eachLink calls fn with each link that enabling units creates, as it is
// on the host now, and reports whether fn changed any.
func (o Offline) eachLink(units []string, fn func(unit, unitPath, link string, n node) (bool, error)) (bool, error) {
	changed := false
	for _, u := range units {
		links, unitPath, err := o.installLinks(u)
		if err != nil {
			return changed, err
		}
		for _, l := range links {
			n, err := o.Host.lstat(l)
			if err != nil {
				return changed, err
			}
			did, err := fn(u, unitPath, l, n)
			changed = changed || did
			if err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// States reports units as loaded or not-found, enabled when every link of
// their [Install] section exists, and never active.
func (o Offline) States(ctx context.Context, units ...string) ([]dbusctl.UnitState, error) {
	out := make([]dbusctl.UnitState, 0, len(units))
	for _, u := range units {
		st := dbusctl.UnitState{Name: u, LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}
		links, _, err := o.installLinks(u)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case errors.Is(err, dbusctl.ErrNoInstallSection):
			st.LoadState, st.UnitFileState = "loaded", "static"
		case err != nil:
			return nil, err
		default:
			st.LoadState, st.UnitFileState = "loaded", "enabled"
			for _, l := range links {
				n, err := o.Host.lstat(l)
				if err != nil {
					return nil, err
				}
				if !n.exists {
					st.UnitFileState = "disabled"
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// installLinks reads unit's [Install] section and returns the links that
// enabling it creates, and the unit file's path.
func (o Offline) installLinks(unit string) ([]string, string, error) {
	var data []byte
	var unitPath string
	var err error
	for _, dir := range unitDirs {
		unitPath = path.Join(dir, templateOf(unit))
		data, _, err = o.Host.readFile(unitPath, maxDiffSize)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("unit %s: %w", unit, err)
	}
	var links []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if section != "Install" || !ok {
			continue
		}
		var suffix string
		switch strings.TrimSpace(key) {
		case "WantedBy":
			suffix = ".wants"
		case "RequiredBy":
			suffix = ".requires"
		default:
			continue
		}
		for _, target := range strings.Fields(value) {
			links = append(links, path.Join("/etc/systemd/system", target+suffix, unit))
		}
	}
	if len(links) == 0 {
		return nil, unitPath, fmt.Errorf("%s: %w", unit, dbusctl.ErrNoInstallSection)
	}
	return links, unitPath, nil
}

// mkdirAll creates dir and its missing parents, 0755, owned by the user
// provision runs as (root).
func (h *Host) mkdirAll(dir string) error {
	if dir == "/" {
		return nil
	}
	n, err := h.lstat(dir)
	if err != nil {
		return err
	}
	if n.exists {
		return nil
	}
	if parent := path.Dir(dir); parent != dir {
		if err := h.mkdirAll(parent); err != nil {
			return err
		}
	}
	return h.mkdir(dir, 0o755, os.Geteuid(), os.Getegid())
}

// templateOf returns the template an instance is made from
// ("worker@1.service" -> "worker@.service"), and any other unit name as it is.
func templateOf(unit string) string {
	at := strings.IndexByte(unit, '@')
	dot := strings.LastIndexByte(unit, '.')
	if at < 0 || dot < at {
		return unit
	}
	return unit[:at+1] + unit[dot:]
}
