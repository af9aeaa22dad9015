package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/provision-dev/provision/internal/nspawn"
	"github.com/provision-dev/provision/spec"
)

// listingRoots are the paths whose every file, directory and link is
// listed (type, mode, owner, size, mtime, ctime, checksum) before and after
// each no-op run: a no-op must leave all of it as it was.
var listingRoots = []string{
	"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow",
	"/etc/subuid", "/etc/subgid", "/etc/sudoers", "/etc/sudoers.d",
	"/etc/systemd/system", "/data", "/home",
}

// wantPath is the expected state of one path.
type wantPath struct {
	path         string
	dir          bool
	perm         string // as stat %a prints it
	owner, group string
	sha256       string // of the content; "" when the content is not managed
}

// wantUnit is the expected state of one service.
type wantUnit struct {
	name    string
	enabled bool
	active  bool
}

// expectation is the state a spec asks for, as the three tools must leave
// the host. It is derived from the spec with provision's own renderer: the
// shell script and the playbook must write the same bytes.
type expectation struct {
	users []spec.User
	paths []wantPath
	units []wantUnit
}

func expect(sp *spec.Spec) expectation {
	var e expectation
	e.users = sp.Users
	for _, d := range sp.Directories {
		e.paths = append(e.paths, wantPath{path: d.Path, dir: true, perm: perm(d.Mode), owner: d.Owner, group: d.Group})
	}
	for _, f := range sp.Files {
		w := wantPath{path: f.Path, perm: perm(f.Mode), owner: f.Owner, group: f.Group}
		if f.Content != nil {
			w.sha256 = sum([]byte(*f.Content))
		}
		e.paths = append(e.paths, w)
	}
	for _, s := range sp.SudoersFiles() {
		e.paths = append(e.paths, wantPath{path: s.Path(), perm: "440", owner: "root", group: "root", sha256: sum(spec.RenderSudoers(s))})
	}
	for _, svc := range sp.Services {
		e.paths = append(e.paths, wantPath{path: svc.UnitPath(), perm: "644", owner: "root", group: "root", sha256: sum(spec.RenderUnit(svc))})
		e.units = append(e.units, wantUnit{name: svc.UnitName(), enabled: svc.IsEnabled(), active: svc.State == spec.StateStarted})
	}
	return e
}

func perm(m spec.Mode) string { return strconv.FormatUint(uint64(m)&0o7777, 8) }

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// hostState is what the state script reports of a container.
type hostState struct {
	sections map[string][]string
	// listing lists every path under listingRoots with its metadata and
	// checksum, and the state of every expected unit.
	listing string
	// reloads counts systemd's reloads since boot.
	reloads int
}

// stateScript prints, section by section, what verify and the no-op
// comparison need, in one command run in the container.
func (e expectation) stateScript() string {
	var b strings.Builder
	q := func(ss []string) string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
		return strings.Join(out, " ")
	}
	var paths, sums, users, groups, units []string
	for _, p := range e.paths {
		paths = append(paths, p.path)
		if p.sha256 != "" {
			sums = append(sums, p.path)
		}
	}
	for _, u := range e.users {
		users = append(users, u.Name)
		groups = append(groups, u.Group)
	}
	for _, u := range e.units {
		units = append(units, u.name)
	}
	fmt.Fprintf(&b, "echo '== stat'; stat -c '%%n|%%F|%%a|%%U|%%G' -- %s 2>&1\n", q(paths))
	if len(sums) > 0 {
		fmt.Fprintf(&b, "echo '== sha256'; sha256sum -- %s 2>&1\n", q(sums))
	}
	if len(users) > 0 {
		fmt.Fprintf(&b, "echo '== passwd'; getent passwd %s\n", q(users))
		fmt.Fprintf(&b, "echo '== group'; getent group %s\n", q(groups))
	}
	if len(units) > 0 {
		fmt.Fprintf(&b, "echo '== units'; systemctl show -p Id -p LoadState -p ActiveState -p UnitFileState -p NeedDaemonReload -- %s\n", q(units))
	}
	b.WriteString("echo '== visudo'; visudo -c >/dev/null 2>&1; echo $?\n")
	b.WriteString("echo '== reloads'; journalctl -b -q --no-pager -o cat _PID=1 | grep -c '^Reloading'\n")
	fmt.Fprintf(&b, "echo '== listing'; find %s -xdev -printf '%%p %%y %%m %%u:%%g %%s %%T@ %%C@ %%l\\n' 2>&1 | LC_ALL=C sort\n", q(listingRoots))
	fmt.Fprintf(&b, "find %s -xdev -type f -exec sha256sum {} + 2>&1 | LC_ALL=C sort\n", q(listingRoots))
	return b.String()
}

// ctrStateScript is where readState puts the state script in a
// container: with a thousand services it is longer than one argument may
// be (MAX_ARG_STRLEN, 128 KiB).
const ctrStateScript = "/var/tmp/bench-state.sh"

// readState runs the state script in c.
func (e expectation) readState(ctx context.Context, c *nspawn.Container) (hostState, error) {
	if err := c.WriteFile(ctrStateScript, []byte(e.stateScript()), 0o644); err != nil {
		return hostState{}, fmt.Errorf("read state: %w", err)
	}
	out, _, err := c.Exec(ctx, "sh", ctrStateScript)
	if err != nil {
		return hostState{}, fmt.Errorf("read state: %w", err)
	}
	st := hostState{sections: map[string][]string{}}
	cur := ""
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if name, ok := strings.CutPrefix(line, "== "); ok {
			cur = name
			continue
		}
		st.sections[cur] = append(st.sections[cur], line)
	}
	st.reloads, err = strconv.Atoi(strings.TrimSpace(strings.Join(st.sections["reloads"], "")))
	if err != nil {
		return hostState{}, fmt.Errorf("read state: count reloads: %v", err)
	}
	st.listing = strings.Join(st.sections["listing"], "\n") + "\n" + strings.Join(st.sections["units"], "\n")
	return st, nil
}

// verify returns what differs between st and e, or nil.
func (e expectation) verify(st hostState) []string {
	var bad []string
	stats := map[string][]string{}
	for _, line := range st.sections["stat"] {
		f := strings.Split(line, "|")
		if len(f) == 5 {
			stats[f[0]] = f
		} else {
			bad = append(bad, "stat: "+line)
		}
	}
	sums := map[string]string{}
	for _, line := range st.sections["sha256"] {
		if h, p, ok := strings.Cut(line, "  "); ok {
			sums[p] = h
		}
	}
	for _, w := range e.paths {
		f, ok := stats[w.path]
		if !ok {
			bad = append(bad, w.path+": missing")
			continue
		}
		kind := f[1]
		if w.dir && kind != "directory" || !w.dir && kind != "regular file" && kind != "regular empty file" {
			bad = append(bad, fmt.Sprintf("%s: is a %s", w.path, kind))
		}
		if got := f[2] + " " + f[3] + ":" + f[4]; got != w.perm+" "+w.owner+":"+w.group {
			bad = append(bad, fmt.Sprintf("%s: mode and owner %s, want %s %s:%s", w.path, got, w.perm, w.owner, w.group))
		}
		if w.sha256 != "" && sums[w.path] != w.sha256 {
			bad = append(bad, w.path+": content differs from what provision renders")
		}
	}

	gids := map[string]string{}
	for _, line := range st.sections["group"] {
		f := strings.Split(line, ":")
		if len(f) == 4 {
			gids[f[0]] = f[2]
		}
	}
	accounts := map[string][]string{}
	for _, line := range st.sections["passwd"] {
		f := strings.Split(line, ":")
		if len(f) == 7 {
			accounts[f[0]] = f
		}
	}
	for _, u := range e.users {
		a, ok := accounts[u.Name]
		switch {
		case !ok:
			bad = append(bad, "user "+u.Name+": missing")
		case gids[u.Group] == "" || a[3] != gids[u.Group]:
			bad = append(bad, fmt.Sprintf("user %s: primary gid %s, want group %s (gid %q)", u.Name, a[3], u.Group, gids[u.Group]))
		case u.Home != "" && a[5] != u.Home:
			bad = append(bad, fmt.Sprintf("user %s: home %s, want %s", u.Name, a[5], u.Home))
		case a[6] != u.Shell:
			bad = append(bad, fmt.Sprintf("user %s: shell %s, want %s", u.Name, a[6], u.Shell))
		}
	}

	units := parseShow(st.sections["units"])
	for _, w := range e.units {
		p, ok := units[w.name]
		if !ok {
			bad = append(bad, w.name+": not reported by systemctl show")
			continue
		}
		wantFile, wantActive := "disabled", "inactive"
		if w.enabled {
			wantFile = "enabled"
		}
		if w.active {
			wantActive = "active"
		}
		if p["LoadState"] != "loaded" || p["NeedDaemonReload"] != "no" || p["UnitFileState"] != wantFile || p["ActiveState"] != wantActive {
			bad = append(bad, fmt.Sprintf("%s: LoadState=%s NeedDaemonReload=%s UnitFileState=%s ActiveState=%s, want loaded, no, %s, %s",
				w.name, p["LoadState"], p["NeedDaemonReload"], p["UnitFileState"], p["ActiveState"], wantFile, wantActive))
		}
	}
	if v := strings.Join(st.sections["visudo"], ""); v != "0" {
		bad = append(bad, "visudo -c exits "+v)
	}
	return bad
}

// parseShow parses the output of systemctl show for several units:
// blocks of KEY=VALUE lines separated by empty lines, keyed by Id.
func parseShow(lines []string) map[string]map[string]string {
	out := map[string]map[string]string{}
	cur := map[string]string{}
	flush := func() {
		if id := cur["Id"]; id != "" {
			out[id] = cur
		}
		cur = map[string]string{}
	}
	for _, l := range lines {
		if l == "" {
			flush()
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok {
			cur[k] = v
		}
	}
	flush()
	return out
}

// listingDiff describes how two listings differ, in a few lines.
func listingDiff(before, after string) string {
	b := strings.Split(before, "\n")
	a := strings.Split(after, "\n")
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, "+ "+l)
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			out = append(out, "- "+l)
		}
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more lines", len(out)-20))
	}
	return strings.Join(out, "\n")
}
