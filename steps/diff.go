package steps

import (
	"fmt"
	"os"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// unifiedDiff returns a unified diff from old to new content of path, with
// three lines of context. An absent old file diffs from /dev/null.
func unifiedDiff(path string, old, new []byte, existed bool) string {
	from := path
	if !existed {
		from = "/dev/null"
	}
	d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A:        splitLines(old),
		B:        splitLines(new),
		FromFile: from,
		ToFile:   path,
		Context:  3,
	})
	if err != nil {
		return ""
	}
	return strings.TrimRight(d, "\n")
}

func modeString(m os.FileMode) string {
	return fmt.Sprintf("%04o", uint32(m.Perm())|setBits(m))
}

// setBits returns the setuid, setgid and sticky bits of m as octal bits.
func setBits(m os.FileMode) uint32 {
	var b uint32
	if m&os.ModeSetuid != 0 {
		b |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		b |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		b |= 0o1000
	}
	return b
}

// permMode turns an octal permission (as in a spec) into an os.FileMode.
func permMode(p uint32) os.FileMode {
	m := os.FileMode(p & 0o777)
	if p&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if p&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if p&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

func sameMode(a, b os.FileMode) bool {
	return a.Perm() == b.Perm() && setBits(a) == setBits(b)
}

// splitLines splits content into lines that keep their newline; empty
// content has no lines at all.
func splitLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	} else {
		lines[len(lines)-1] += "\n\\ No newline at end of file\n"
	}
	return lines
}
