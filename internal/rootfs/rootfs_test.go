package rootfs

import "testing"

func TestIsLeftover(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{".app.conf.provision-0123456789ab", true},
		// Another file's temporary file.
		{".app.conf.d.provision-0123456789ab", false},
		// Suffixes that writeFileAtomic never makes.
		{".app.conf.provision-0123456789", false},
		{".app.conf.provision-0123456789abcd", false},
		{".app.conf.provision-0123456789AB", false},
		{".app.conf.provision-", false},
		// The file itself, and names that only look alike.
		{"app.conf", false},
		{"app.conf.provision-0123456789ab", false},
		{".app.conf.provision-0123456789ab~", false},
	} {
		if got := isLeftover(tc.name, "app.conf"); got != tc.want {
			t.Errorf("isLeftover(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// leftoverOf finds the file a temporary name was made for, as isLeftover
// would match it.
func TestLeftoverOf(t *testing.T) {
	for _, tc := range []struct {
		name, base string
		ok         bool
	}{
		{".app.conf.provision-0123456789ab", "app.conf", true},
		{".app.conf.d.provision-0123456789ab", "app.conf.d", true},
		{".a.provision-0123456789ab", "a", true},
		{"..provision-0123456789ab", "", false},
		{".app.conf.provision-0123456789AB", "", false},
		{".app.conf.provision-0123456789", "", false},
		{"app.conf.provision-0123456789ab", "", false},
		{".provision-0123456789ab", "", false},
		{"x", "", false},
	} {
		base, ok := leftoverOf(tc.name)
		if ok != tc.ok || ok && base != tc.base {
			t.Errorf("leftoverOf(%q) = %q, %v; want %q, %v", tc.name, base, ok, tc.base, tc.ok)
		}
		if ok && !isLeftover(tc.name, base) {
			t.Errorf("isLeftover(%q, %q) = false", tc.name, base)
		}
	}
}
