package spec

import (
	"slices"
	"testing"
)

func TestSplitExec(t *testing.T) {
	for _, tc := range []struct {
		line, prefix string
		argv         []string
		sep, err     bool
	}{
		// Words, prefixes, quotes anywhere in a word, escapes.
		{line: "/bin/a b  c", argv: []string{"/bin/a", "b", "c"}},
		{line: "-@/bin/a argv0 x", prefix: "-@", argv: []string{"/bin/a", "argv0", "x"}},
		{line: `/bin/a "b c" 'd "e"' f"g h"i`, argv: []string{"/bin/a", "b c", `d "e"`, "fg hi"}},
		{line: `/bin/a \"x\" a\sb \x41 \101`, argv: []string{"/bin/a", `"x"`, "a b", "A", "A"}},
		// A lone ";" separates commands; quoted or escaped it is a word.
		{line: "/bin/a ; /bin/b", argv: []string{"/bin/a", ";", "/bin/b"}, sep: true},
		{line: `/bin/a \; ";"`, argv: []string{"/bin/a", ";", ";"}},
		// What makes systemd ignore the line.
		{line: `/bin/a "b`, err: true},
		{line: `/bin/a \q`, err: true},
		{line: `/bin/a \x4`, err: true},
	} {
		prefix, argv, sep, err := SplitExec(tc.line)
		if (err != nil) != tc.err {
			t.Errorf("SplitExec(%q) error %v, want error %v", tc.line, err, tc.err)
			continue
		}
		if tc.err {
			continue
		}
		if prefix != tc.prefix || !slices.Equal(argv, tc.argv) || sep != tc.sep {
			t.Errorf("SplitExec(%q) = %q %q %v, want %q %q %v", tc.line, prefix, argv, sep, tc.prefix, tc.argv, tc.sep)
		}
	}
}

func TestParseTimeSpan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		err  bool
	}{
		{in: "1", want: 1e6},
		{in: "500ms", want: 500e3},
		{in: "1min 30.5s", want: 90.5e6},
		{in: "2h", want: 7200e6},
		{in: "infinity", want: USecInfinity},
		{in: "99999999999999999999", err: true},
		{in: "600000000y", err: true},
		{in: "5 parsecs", err: true},
		{in: "", err: true},
	} {
		got, err := ParseTimeSpan(tc.in)
		if (err != nil) != tc.err || !tc.err && got != tc.want {
			t.Errorf("ParseTimeSpan(%q) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
