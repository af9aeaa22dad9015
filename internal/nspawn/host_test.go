package nspawn

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseMountinfoLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want mountinfoEntry
		ok   bool
	}{
		// The example of proc(5), with optional fields.
		{"proc5", "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
			mountinfoEntry{root: "/mnt1", point: "/mnt2", fstype: "ext3", source: "/dev/root", superOpts: "rw,errors=continue"}, true},
		// No optional fields, as for an overlay mounted by New.
		{"overlay", "612 28 0:61 / /tmp/provision-e2e-1/merged rw,relatime - overlay overlay rw,lowerdir=/,upperdir=/tmp/provision-e2e-1/upper",
			mountinfoEntry{root: "/", point: "/tmp/provision-e2e-1/merged", fstype: "overlay", source: "overlay", superOpts: "rw,lowerdir=/,upperdir=/tmp/provision-e2e-1/upper"}, true},
		// Spaces in paths are escaped as \040.
		{"escaped", `40 30 0:5 / /mnt/a\040b rw - tmpfs tmpfs rw`,
			mountinfoEntry{root: "/", point: "/mnt/a b", fstype: "tmpfs", source: "tmpfs", superOpts: "rw"}, true},
		// A line without the separator is skipped.
		{"garbage", "not a mountinfo line", mountinfoEntry{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseMountinfoLine(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Errorf("parseMountinfoLine() = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestSelectHierarchies(t *testing.T) {
	hybrid := []mountinfoEntry{
		{root: "/", point: "/sys/fs/cgroup/memory", fstype: "cgroup", superOpts: "rw,memory"},
		{root: "/", point: "/sys/fs/cgroup/systemd", fstype: "cgroup", superOpts: "rw,name=systemd"},
		{root: "/", point: "/sys/fs/cgroup/unified", fstype: "cgroup2", superOpts: "rw"},
	}
	tests := []struct {
		name   string
		mounts []mountinfoEntry
		cgroup string
		want   []cgroupHierarchy
	}{
		// The development VMs: v1 hybrid, the process in root cgroups
		// except for memory.
		{"hybrid", hybrid, "9:name=systemd:/\n4:memory:/process_api/a01e\n0::/\n", []cgroupHierarchy{
			{mount: "/sys/fs/cgroup/systemd", current: "/sys/fs/cgroup/systemd"},
			{mount: "/sys/fs/cgroup/unified", current: "/sys/fs/cgroup/unified"},
		}},
		// A process in a nested cgroup gets children of its own cgroup.
		{"nested", hybrid, "9:name=systemd:/ci/job\n0::/ci/job\n", []cgroupHierarchy{
			{mount: "/sys/fs/cgroup/systemd", current: "/sys/fs/cgroup/systemd/ci/job"},
			{mount: "/sys/fs/cgroup/unified", current: "/sys/fs/cgroup/unified/ci/job"},
		}},
		// Pure cgroup v2.
		{"unified", []mountinfoEntry{{root: "/", point: "/sys/fs/cgroup", fstype: "cgroup2", superOpts: "rw"}},
			"0::/user.slice\n", []cgroupHierarchy{
				{mount: "/sys/fs/cgroup", current: "/sys/fs/cgroup/user.slice"},
			}},
		// A cgroup namespace: the mount's root is the process's cgroup.
		{"namespaced", []mountinfoEntry{{root: "/outer", point: "/sys/fs/cgroup", fstype: "cgroup2", superOpts: "rw"}},
			"0::/outer/inner\n", []cgroupHierarchy{
				{mount: "/sys/fs/cgroup", current: "/sys/fs/cgroup/inner"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectHierarchies(tt.mounts, tt.cgroup)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("selectHierarchies() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseProcStat(t *testing.T) {
	// comm may hold spaces and parentheses; only the last ')' ends it.
	line := "4242 (sd (init) x) S 4200 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0"
	got, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{comm: "sd (init) x", ppid: 4200, startTime: 987654}
	if got != want {
		t.Errorf("parseProcStat() = %+v, want %+v", got, want)
	}
	if _, err := parseProcStat("4242 (short) S 1"); err == nil {
		t.Error("parseProcStat accepted a truncated line")
	}
}

func TestMaskUnits(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc/systemd/system")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A unit file of the same name is replaced by the mask.
	if err := os.WriteFile(filepath.Join(dir, "postgresql.service"), []byte("[Service]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // masking twice is fine
		if err := maskUnits(root, []string{"postgresql.service", "docker.socket"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"postgresql.service", "docker.socket"} {
		if got, err := os.Readlink(filepath.Join(dir, u)); err != nil || got != "/dev/null" {
			t.Errorf("%s -> %q (%v), want /dev/null", u, got, err)
		}
	}
	if err := maskUnits(root, []string{"../evil.service"}); err == nil {
		t.Error("maskUnits accepted a unit name with a slash")
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"smoke":                             true,
		"a":                                 true,
		"parallel-0":                        true,
		"Smoke":                             false,
		"-x":                                false,
		"x-":                                false,
		"a_b":                               false,
		"abcdefghijklmnopqrstuvwxyz0123456": false, // 33 characters
	} {
		if got := validName.MatchString(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}
