package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/internal/sudolist"
	"github.com/provision-dev/provision/spec"
)

// sudoersMode is the mode sudo expects of its configuration files.
const sudoersMode = 0o440

// writeSudoers installs a drop-in under /etc/sudoers.d, root:root 0440. The
// new content is checked with "visudo -cf" in a temporary file that sudo
// ignores before it replaces the drop-in (when only checking, in a
// temporary file elsewhere, so that a plan foresees a rejection), or, when
// the run installs several, in private copies of them all at once (see
// sudoersBatch.accepted); on a
// running system the whole configuration is then checked with "visudo
// -c", and if that fails (the drop-in conflicts with something else) the
// previous file is put back, or the new one removed, and the step fails
// with visudo's message. sudo is never left with a configuration that
// visudo rejects.
//
// A drop-in that visudo accepts may still allow nothing: /etc/sudoers may
// not include sudoers.d, or a later rule may deny the command. So once
// installed, every command of every rule is put to sudo itself (one
// "sudo -n -ll -U USER" listing, or "sudo -l -U USER [-u RUNAS] COMMAND"
// for what the listing cannot settle), for the rule's user or, for a
// %group, for one of the group's members on the host; the step fails when
// sudo would refuse one.
//
// The drop-ins of one run share the whole-configuration check and the
// listings, made once all of them are in (see sudoersBatch).
type writeSudoers struct {
	sudoers spec.Sudoers
	// batch is the check this drop-in shares with the run's others (see
	// sudoersBatch); nil checks it alone.
	batch *sudoersBatch
}

func (s *writeSudoers) ID() string { return "sudoers " + s.sudoers.Path() }

func (s *writeSudoers) target(e *Env) fileTarget {
	t := fileTarget{
		path:    s.sudoers.Path(),
		owner:   "root",
		group:   "root",
		perm:    sudoersMode,
		content: spec.RenderSudoers(s.sudoers),
		// Its diff shows what sudo will allow; a hand-made drop-in
		// it replaces is shown only when world-readable.
		rendered: true,
	}
	t.validate = func(ctx context.Context, tmp string) error {
		if s.batch != nil && s.batch.accepted(ctx, e, s, t.content) {
			return nil
		}
		if out, err := e.exec(ctx, distro.Visudo, "-c", "-f", tmp); err != nil {
			if errors.Is(err, ErrInterrupted) {
				return fmt.Errorf("check %s with visudo: %w; not installed", t.path, err)
			}
			return fmt.Errorf("%s: rejected by visudo, not installed: %s", t.path, visudoMessage(out, err))
		}
		return nil
	}
	return t
}

func (s *writeSudoers) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.batch == nil {
		// A drop-in of its own: checked as soon as it is installed.
		s.batch = &sudoersBatch{members: []*writeSudoers{s}}
	}
	changes, err := s.converge(ctx, e)
	if !e.Apply || s.batch.last() != s {
		return changes, err
	}
	s.batch.check(ctx, e)
	if en := s.batch.entry(e, s); en != nil && en.err != nil {
		if en.restored {
			// Undone: nothing changed.
			return nil, en.err
		}
		return changes, en.err
	}
	return changes, err
}

func (s *writeSudoers) converge(ctx context.Context, e *Env) ([]Change, error) {
	if s.sudoers.State == spec.Absent {
		return s.remove(ctx, e)
	}
	t := s.target(e)
	// What differs, read without changing anything. When applying, the
	// content is validated once, below, in the temporary file that is
	// then renamed into place.
	probe := *e
	probe.Apply = false
	pt := t
	if e.Apply {
		pt.validate = nil
	}
	changes, err := probe.convergeFile(ctx, pt)
	if err != nil {
		return nil, err
	}
	if len(changes) == 0 {
		changes, err = s.uncheckedChange(e)
		if err != nil || len(changes) == 0 || !e.Apply {
			return changes, err
		}
		// Installed by a killed run: there is no previous file to put
		// back if the configuration fails as a whole.
		s.batch.add(ctx, e, s, func() error { return e.fs().Remove(t.path) })
		return changes, nil
	}
	if !e.Apply {
		return changes, nil
	}
	prev, err := e.fs().Lstat(t.path)
	if err != nil {
		return nil, err
	}
	var old []byte
	if prev.Exists && prev.Mode.IsRegular() {
		if old, _, err = e.fs().ReadFile(t.path, maxDiffSize); err != nil {
			return nil, err
		}
	}
	if !e.Host.Offline {
		if err := sudoersUnchecked.mark(e, s.sudoers.Name); err != nil {
			return nil, err
		}
	}
	if changes, err = e.convergeFile(ctx, t); err != nil {
		return nil, err
	}
	if e.Host.Offline {
		return changes, nil
	}
	s.batch.add(ctx, e, s, func() error {
		if prev.Exists {
			return e.fs().WriteFileAtomic(t.path, old, prev.Perm(), prev.UID, prev.GID, nil)
		}
		return e.fs().Remove(t.path)
	})
	return changes, nil
}

// remove removes the drop-in of a retired rule set, then checks the whole
// configuration (visudo -c): if sudo is broken without it (another file
// needs one of its aliases), the drop-in is put back and the step fails.
// A drop-in that a retired service's shorthand would have written, which
// the spec does not name (IfOwn), is removed only when provision wrote it.
func (s *writeSudoers) remove(ctx context.Context, e *Env) ([]Change, error) {
	path := s.sudoers.Path()
	if s.sudoers.IfOwn {
		n, err := e.fs().Lstat(path)
		if err != nil || !n.Exists || !n.Mode.IsRegular() {
			return nil, err
		}
		head, _, err := e.fs().ReadFile(path, int64(len(spec.ManagedHeader)))
		if err != nil || string(head) != spec.ManagedHeader {
			return nil, err
		}
	}
	probe := *e
	probe.Apply = false
	changes, err := probe.removeFile(path)
	if err != nil || len(changes) == 0 || !e.Apply {
		return changes, err
	}
	prev, err := e.fs().Lstat(path)
	if err != nil {
		return nil, err
	}
	old, _, err := e.fs().ReadFile(path, maxDiffSize)
	if err != nil {
		return nil, err
	}
	if _, err := e.removeFile(path); err != nil {
		return nil, err
	}
	if e.Host.Offline {
		return changes, nil
	}
	out, err := e.exec(ctx, distro.Visudo, "-c")
	if errors.Is(err, ErrInterrupted) {
		return nil, fmt.Errorf("check the sudo configuration without %s: %w", path, err)
	}
	if err != nil {
		msg := visudoMessage(out, err)
		if err := e.fs().WriteFileAtomic(path, old, prev.Perm(), prev.UID, prev.GID, nil); err != nil {
			return nil, fmt.Errorf("%s: the sudo configuration is invalid without it (%s), and putting it back failed: %w", path, msg, err)
		}
		return nil, fmt.Errorf("%s: not removed: the sudo configuration is invalid without it, so it was put back: %s", path, msg)
	}
	return changes, sudoersUnchecked.clear(e, s.sudoers.Name)
}

// uncheckedChange reports a drop-in whose content is right but that an
// earlier run, killed after installing it, never checked as a whole.
func (s *writeSudoers) uncheckedChange(e *Env) ([]Change, error) {
	if e.Host.Offline || s.batch.pending(e, s) {
		// Installed by this run, and checked with the batch.
		return nil, nil
	}
	unchecked, err := sudoersUnchecked.has(e, s.sudoers.Name)
	if err != nil || !unchecked {
		return nil, err
	}
	return []Change{{Summary: "check the sudo configuration: an earlier run installed this file and did not finish checking it"}}, nil
}

// visudoMessage keeps what visudo says is wrong, without the "parsed OK"
// lines of the files it accepted.
func visudoMessage(out []byte, err error) string {
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasSuffix(l, "parsed OK") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	return strings.Join(lines, "; ")
}

// checkAllowed asks sudo whether each rule's commands are allowed to the
// rule's user, or to a member of its group. Rules of a group that has no
// member yet cannot be asked about and are passed over. listings holds
// the users' listings already asked for (nil: unusable), shared by the
// drop-ins of a batch.
func (s *writeSudoers) checkAllowed(ctx context.Context, e *Env, listings map[string][]sudolist.Entry) error {
	var denied []string
	for _, r := range s.sudoers.Rules {
		user, err := e.someMember(r.Who)
		if err != nil {
			return err
		}
		if user == "" {
			continue
		}
		entries, asked := listings[user]
		if !asked {
			// One listing of what sudo allows the user answers for every
			// command found in it word for word, as long as nothing in
			// it could override that (a negated command, ALL, a
			// wildcard); any other command is asked about on its own.
			out, err := e.exec(ctx, distro.Sudo, "-n", "-ll", "-U", user)
			if errors.Is(err, ErrInterrupted) {
				return fmt.Errorf("ask sudo about %s: %w", s.sudoers.Path(), err)
			}
			if entries = sudolist.Parse(string(out)); err != nil || !sudolist.Literal(entries) {
				entries = nil
			}
			listings[user] = entries
		}
		for _, cmd := range r.Commands {
			if entry, ok := sudolist.Find(entries, strings.Fields(spec.SudoersCommand(cmd)), r.RunAs); ok {
				if r.NoPasswd && !entry.NoPassword {
					denied = append(denied, fmt.Sprintf("%s may run %q only with a password", user, cmd))
				}
				continue
			}
			args := []string{"-n", "-l", "-U", user}
			if r.RunAs != "" {
				args = append(args, "-u", r.RunAs)
			}
			args = append(args, sudoersWords(cmd)...)
			if _, err := e.exec(ctx, distro.Sudo, args...); errors.Is(err, ErrInterrupted) {
				return fmt.Errorf("ask sudo about %s: %w", s.sudoers.Path(), err)
			} else if err != nil {
				denied = append(denied, fmt.Sprintf("%s may not run %q", user, cmd))
			}
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("%s: installed, but sudo does not allow what it says: %s (is sudoers.d included by /etc/sudoers, and does no later rule deny it?)",
			s.sudoers.Path(), strings.Join(denied, "; "))
	}
	return nil
}

// someMember returns who itself for a user name, and the first member (by
// name) of the group for a %group: a user whose primary group it is or who
// is listed in it. It returns "" when there is no such user on the host.
func (e *Env) someMember(who string) (string, error) {
	accts, err := e.accounts()
	if err != nil {
		return "", err
	}
	name, isGroup := strings.CutPrefix(who, "%")
	if !isGroup {
		if _, ok := accts[name]; ok {
			return name, nil
		}
		return "", nil
	}
	grps, err := e.groups()
	if err != nil {
		return "", err
	}
	g, ok := grps[name]
	if !ok {
		return "", nil
	}
	var members []string
	for _, a := range accts {
		if a.gid == g.gid {
			members = append(members, a.name)
		}
	}
	for _, m := range g.members {
		if _, ok := accts[m]; ok {
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		return "", nil
	}
	return slices.Min(members), nil
}

// sudoersWords splits a sudoers command into the words sudo compares,
// undoing the backslash escapes of sudoers' special characters.
func sudoersWords(cmd string) []string {
	words := strings.Fields(cmd)
	for i, w := range words {
		var b strings.Builder
		for j := 0; j < len(w); j++ {
			if w[j] == '\\' && j+1 < len(w) {
				j++
			}
			b.WriteByte(w[j])
		}
		words[i] = b.String()
	}
	return words
}
