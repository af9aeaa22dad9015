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
