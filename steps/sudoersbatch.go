package steps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/internal/sudolist"
	"github.com/provision-dev/provision/spec"
)

// sudoersBatch is the check that the drop-ins a run installs share: the
// whole sudo configuration with all of them in place (visudo -c), then
// what sudo allows each rule's user (one sudo -ll listing per user). Each
// drop-in was checked with visudo before it was installed (the run's new
// ones together, see accepted); what the batch adds is what only the
// whole can tell, once per run
// instead of once per drop-in, since both programs read every drop-in
// (a hundred drop-ins took 200 visudo and 100 sudo runs, growing with the
// square of their number).
//
// The batch's last step checks it as soon as it has run; the results of
// the steps before it are deferred until then (see deferred). When visudo
// rejects the whole, every drop-in of the batch is put back as it was and
// each of their steps fails with visudo's message: sudo is never left
// with a configuration visudo rejects, and a rejection cannot be pinned
// on one drop-in when several changed.
//
// The batch is part of the graph; what one run does with it is kept in the
// run's state (sudoersRun), so that a graph runs again as new.
type sudoersBatch struct {
	// members are the batch's steps, in the graph's order; the last
	// checks the batch.
	members []*writeSudoers
}

func (b *sudoersBatch) last() *writeSudoers { return b.members[len(b.members)-1] }

// sudoersRun is a batch in one run: the drop-ins installed, and whether
// they were checked.
type sudoersRun struct {
	entries []*sudoersEntry
	checked bool
	// prechecked says whether the run's new drop-ins were put to visudo
	// together (see accepted); passed holds the content visudo accepted
	// for each.
	prechecked bool
	passed     map[*writeSudoers][]byte
}

// run returns b's state in e's run.
func (b *sudoersBatch) run(e *Env) *sudoersRun {
	if e.run.sudoers == nil {
		e.run.sudoers = map[*sudoersBatch]*sudoersRun{}
	}
	r, ok := e.run.sudoers[b]
	if !ok {
		r = &sudoersRun{}
		e.run.sudoers[b] = r
	}
	return r
}

// sudoersEntry is one drop-in installed in the batch: restore undoes its
// installation; err is its step's error once the batch is checked, and
// restored says whether the check undid it.
type sudoersEntry struct {
	step     *writeSudoers
	restore  func() error
	err      error
	restored bool
}

// entry returns s's entry in b in e's run, or nil.
func (b *sudoersBatch) entry(e *Env, s *writeSudoers) *sudoersEntry {
	for _, en := range b.run(e).entries {
		if en.step == s {
			return en
		}
	}
	return nil
}

// add enters s's installed drop-in in b and defers s's result until b is
// checked; the last step's is not deferred, since it checks b itself
// (see writeSudoers.Converge).
func (b *sudoersBatch) add(ctx context.Context, e *Env, s *writeSudoers, restore func() error) {
	r := b.run(e)
	entry := &sudoersEntry{step: s, restore: restore}
	r.entries = append(r.entries, entry)
	if s == b.last() {
		return
	}
	e.later(deferred{
		ready: func() bool { return r.checked },
		wait: func() error {
			b.check(ctx, e)
			return entry.err
		},
		undone: func() bool { return entry.restored },
	})
}

// pending reports whether s has a drop-in in b that b has not checked
// yet: its unchecked marker is the batch's to clear.
func (b *sudoersBatch) pending(e *Env, s *writeSudoers) bool {
	if b == nil {
		return false
	}
	return !b.run(e).checked && b.entry(e, s) != nil
}

// check checks b once (see sudoersBatch). A drop-in's unchecked marker
// goes once visudo and sudo agree, or once the drop-in is undone; when
// the check is interrupted it stays, and the next run checks again.
func (b *sudoersBatch) check(ctx context.Context, e *Env) {
	r := b.run(e)
	if r.checked {
		return
	}
	r.checked = true
	if len(r.entries) == 0 {
		return
	}
	out, err := e.exec(ctx, distro.Visudo, "-c")
	if errors.Is(err, ErrInterrupted) {
		for _, en := range r.entries {
			en.err = fmt.Errorf("check the sudo configuration with %s installed: %w", en.step.sudoers.Path(), err)
		}
		return
	}
	if err != nil {
		r.rollBack(e, visudoMessage(out, err))
		return
	}
	listings := map[string][]sudolist.Entry{}
	for _, en := range r.entries {
		if en.err = en.step.checkAllowed(ctx, e, listings); en.err == nil {
			en.err = sudoersUnchecked.clear(e, en.step.sudoers.Name)
		}
	}
}

// rollBack puts every drop-in of r back as it was, the last installed
// first, after visudo rejected the whole with msg.
func (r *sudoersRun) rollBack(e *Env, msg string) {
	with := "with this file"
	if len(r.entries) > 1 {
		paths := make([]string, len(r.entries))
		for i, en := range r.entries {
			paths[i] = en.step.sudoers.Path()
		}
		with = fmt.Sprintf("with the %d drop-ins this run installed (%s)", len(paths), strings.Join(paths, ", "))
	}
	for i := len(r.entries) - 1; i >= 0; i-- {
		en := r.entries[i]
		path := en.step.sudoers.Path()
		if err := en.restore(); err != nil {
			en.err = fmt.Errorf("%s: sudo configuration rejected by visudo (%s), and putting the previous file back failed: %w", path, msg, err)
			continue
		}
		if err := sudoersUnchecked.clear(e, en.step.sudoers.Name); err != nil {
			en.err = err
			continue
		}
		en.err, en.restored = fmt.Errorf("%s: sudo configuration rejected by visudo %s, previous state restored: %s", path, with, msg), true
	}
}

// accepted reports whether visudo accepted content as s's drop-in in the
// check this run made of the batch's new drop-ins together: the first
// drop-in to need its "visudo -cf" puts its own content and that of every
// later drop-in of the batch that differs from the installed file to one
// visudo, each in a private copy that a wrapper includes ("visudo -c -f
// WRAPPER" parses each and names the file of an error). A hundred new
// drop-ins cost one visudo instead of a hundred (each about 1.5 ms of CPU
// while systemd reloads on the other). When the whole is rejected, or
// cannot be checked so, accepted is false and each drop-in is checked
// with visudo -cf on its own, as before, which names the rejected one.
func (b *sudoersBatch) accepted(ctx context.Context, e *Env, s *writeSudoers, content []byte) bool {
	r := b.run(e)
	if !r.prechecked {
		r.prechecked = true
		r.passed = b.precheck(ctx, e, s)
	}
	c, ok := r.passed[s]
	return ok && bytes.Equal(c, content)
}

// precheck puts the content of from and of the later drop-ins of b that
// differ from the installed files to visudo together, and returns the
// content of each if visudo accepts them all; nil if not.
func (b *sudoersBatch) precheck(ctx context.Context, e *Env, from *writeSudoers) map[*writeSudoers][]byte {
	pending := map[*writeSudoers][]byte{}
	var order []*writeSudoers
	for _, m := range b.members[slices.Index(b.members, from):] {
		if m.sudoers.State == spec.Absent {
			continue
		}
		content := spec.RenderSudoers(m.sudoers)
		if m != from {
			old, _, err := e.fs().ReadFile(m.sudoers.Path(), int64(len(content))+1)
			if err == nil && bytes.Equal(old, content) {
				continue
			}
		}
		pending[m] = content
		order = append(order, m)
	}
	if len(order) < 2 {
		// One drop-in: its own visudo -cf is as cheap.
		return nil
	}
	err := inPrivateDir(func(dir string) error {
		if strings.ContainsFunc(dir, func(c rune) bool { return !isIncludeChar(c) }) {
			return errors.New("an include line holds the path as is")
		}
		var wrapper strings.Builder
		for n, m := range order {
			p := filepath.Join(dir, strconv.Itoa(n))
			if err := os.WriteFile(p, pending[m], 0o600); err != nil {
				return err
			}
			fmt.Fprintf(&wrapper, "@include %s\n", p)
		}
		w := filepath.Join(dir, "all")
		if err := os.WriteFile(w, []byte(wrapper.String()), 0o600); err != nil {
			return err
		}
		_, err := e.exec(ctx, distro.Visudo, "-c", "-f", w)
		return err
	})
	if err != nil {
		return nil
	}
	return pending
}

// isIncludeChar reports whether c may stand unquoted in the path of a
// sudoers @include line.
func isIncludeChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-", c)
}
