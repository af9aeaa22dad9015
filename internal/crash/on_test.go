//go:build crashpoints

package crash

import "testing"

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		at, list string
		n        int64
		listing  bool
	}{
		{"", "", 0, false},
		{"7", "", 7, false},
		{"0", "", 0, false},
		{"-3", "", 0, false},
		{"x", "", 0, false},
		{"", "1", 0, true},
		{"", "0", 0, false},
	} {
		c := load(tc.at, "", tc.list)
		if c.at != tc.n || c.list != tc.listing {
			t.Errorf("load(%q, %q) = at %d list %v, want at %d list %v", tc.at, tc.list, c.at, c.list, tc.n, tc.listing)
		}
	}
}
