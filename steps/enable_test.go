package steps

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/provision-dev/provision/spec"
)

// A service's [Install] links are found among those of the host's other
// services: its own name and its instances, in any link directory, and
// aliases at the top; not a service whose name starts like it, nor
// another kind of unit of the same name.
func TestInstallLinksOf(t *testing.T) {
	h, _ := testHost(t)
	unitDir := filepath.Join(h.Root, "etc/systemd/system")
	links := map[string]string{
		"multi-user.target.wants/worker.service":    "/etc/systemd/system/worker.service",
		"multi-user.target.wants/worker@1.service":  "/etc/systemd/system/worker@.service",
		"default.target.wants/worker.service":       "/etc/systemd/system/worker.service",
		"multi-user.target.wants/worker-2.service":  "/etc/systemd/system/worker-2.service",
		"multi-user.target.wants/workerx.service":   "/etc/systemd/system/workerx.service",
		"timers.target.wants/worker.timer":          "/etc/systemd/system/worker.timer",
		"multi-user.target.wants/worker@.service.x": "/etc/systemd/system/worker@.service",
		"jobs.service": "/etc/systemd/system/worker.service",
	}
	for p, target := range links {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(unitDir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(unitDir, p)); err != nil {
			t.Fatal(err)
		}
	}
	e := testEnv(h, false)
	e.run.dirs = nil
	l, err := e.links()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		svc  spec.Service
		want []string
	}{
		{spec.Service{Name: "worker"}, []string{"/etc/systemd/system/default.target.wants/worker.service", "/etc/systemd/system/jobs.service", "/etc/systemd/system/multi-user.target.wants/worker.service"}},
		{spec.Service{Name: "worker", Instances: 2}, []string{"/etc/systemd/system/multi-user.target.wants/worker@1.service"}},
		{spec.Service{Name: "worker", State: spec.StateAbsent}, []string{"/etc/systemd/system/default.target.wants/worker.service", "/etc/systemd/system/jobs.service", "/etc/systemd/system/multi-user.target.wants/worker.service", "/etc/systemd/system/multi-user.target.wants/worker@1.service"}},
		{spec.Service{Name: "worker-2"}, []string{"/etc/systemd/system/multi-user.target.wants/worker-2.service"}},
		{spec.Service{Name: "work"}, nil},
	} {
		got, err := l.of(e, tt.svc)
		if err != nil {
			t.Fatal(err)
		}
		if paths := slices.Sorted(maps.Keys(got)); !slices.Equal(paths, tt.want) {
			t.Errorf("links of %s (instances %d, %s):\n got %q\nwant %q", tt.svc.Name, tt.svc.Instances, tt.svc.State, paths, tt.want)
		}
	}
}
