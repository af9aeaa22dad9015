package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/provision-dev/provision/internal/distro"
	"github.com/provision-dev/provision/spec"
	"github.com/provision-dev/provision/steps"
)

// The check phase of provision, without process start, D-Bus or helper
// commands: a plan and a no-op apply of the reference example on a
// temporary root that a first apply converged, with systemd faked in
// memory. Every no-op iteration is checked to change nothing: no step
// reports a change, no helper command runs, and systemd is asked for
// nothing but unit states.
//
//	go test -run '^$' -bench . -benchmem ./bench/

const examplePath = "../examples/sidekiq/provision.yaml"

func BenchmarkPlanExample(b *testing.B) {
	sp := loadExample(b)
	h, sd := convergedHost(b, sp)
	benchRun(b, h, sd, sp, steps.ModeCheck, 0)
}

func BenchmarkNoopApplyExample(b *testing.B) {
	sp := loadExample(b)
	h, sd := convergedHost(b, sp)
	benchRun(b, h, sd, sp, steps.ModeApply, 0)
}

// BenchmarkNoopApplyServices is the no-op apply of ScalingSpec with 1, 10
// and 100 services; ns/unit is the time per service (a unit file, a
// sudoers drop-in and the service's state).
func BenchmarkNoopApplyServices(b *testing.B) {
	for _, n := range ScalingSizes {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			sp, err := spec.Load("scaling.yaml", ScalingSpec(n))
			if err != nil {
				b.Fatal(err)
			}
			h, sd := convergedHost(b, sp)
			benchRun(b, h, sd, sp, steps.ModeApply, n)
		})
	}
}

// BenchmarkLoadExample is reading and validating the example spec, which
// every provision run does before its first step.
func BenchmarkLoadExample(b *testing.B) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := spec.Load("provision.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRun times Build and Run of sp on the converged host h and fails
// when an iteration changes anything. units, when not 0, adds the
// ns/unit metric: the time per service.
func benchRun(b *testing.B, h *steps.Host, sd *fakeSystemd, sp *spec.Spec, mode steps.Mode, units int) {
	b.Helper()
	ctx := context.Background()
	sd.reset()
	execs := 0
	h.Exec = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		execs++
		return nil, fmt.Errorf("no-op run executed %s", name)
	}
	b.ReportAllocs()
	for b.Loop() {
		results, err := steps.Run(ctx, h, steps.Build(sp), mode, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if r.Status != steps.StatusOK {
				b.Fatalf("%s: %s %v on a converged host", r.ID, r.Status, r.Changes)
			}
		}
	}
	if execs > 0 || sd.mutations > 0 {
		b.Fatalf("no-op runs executed %d helper commands and made %d systemd changes", execs, sd.mutations)
	}
	if units > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(units), "ns/unit")
	}
}

func loadExample(b *testing.B) *spec.Spec {
	b.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		b.Fatal(err)
	}
	sp, err := spec.Load("provision.yaml", data)
	if err != nil {
		b.Fatal(err)
	}
	return sp
}

// convergedHost returns a host rooted in a temporary directory, converged
// to sp by a first apply. Its passwd and group files map every user and
// group of sp to the ids of the user running the benchmark, so that no
// useradd runs and ownership can be set without privileges; visudo checks
// the sudoers drop-ins when it is installed.
func convergedHost(b *testing.B, sp *spec.Spec) (*steps.Host, *fakeSystemd) {
	b.Helper()
	root := b.TempDir()
	for _, d := range []string{"etc/sudoers.d", "etc/systemd/system", "home"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	uid, gid := strconv.Itoa(os.Getuid()), strconv.Itoa(os.Getgid())
	passwd := "root:x:" + uid + ":" + gid + ":root:/root:/bin/bash\n"
	group := "root:x:" + gid + ":\n"
	for _, u := range sp.Users {
		passwd += u.Name + ":x:" + uid + ":" + gid + "::" + u.Home + ":" + u.Shell + "\n"
		group += u.Group + ":x:" + gid + ":\n"
	}
	for name, content := range map[string]string{"etc/passwd": passwd, "etc/group": group} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	sd := &fakeSystemd{states: map[string]steps.UnitState{}, configs: map[string]steps.UnitConfig{}}
	for _, svc := range sp.Services {
		sd.configs[svc.UnitName()] = loadedConfig(svc)
	}
	h := steps.NewHost(root, sd)
	h.Exec = setupExec
	results, err := steps.Run(context.Background(), h, steps.Build(sp), steps.ModeApply, nil)
	if err != nil {
		b.Fatalf("first apply: %v", err)
	}
	if steps.Counts(results)[steps.StatusChanged] == 0 {
		b.Fatal("first apply changed nothing")
	}
	return h, sd
}

// setupExec runs the helper commands of the first apply: visudo checks a
// drop-in being installed, when visudo is there. The other helpers (visudo
// of the whole configuration, sudo's check of the rules) would look at the
// machine running the benchmark, not at the temporary root: they succeed
// without running.
func setupExec(ctx context.Context, name string, args ...string) ([]byte, error) {
	if name != distro.Visudo || !slices.Contains(args, "-f") {
		return nil, nil
	}
	if _, err := os.Stat("/usr/sbin/visudo"); err != nil {
		return nil, nil
	}
	out, err := exec.CommandContext(ctx, "/usr/sbin/visudo", args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("visudo: %w: %s", err, out)
	}
	return out, nil
}

// fakeSystemd keeps unit states in memory and counts the calls that would
// change systemd. The methods it does not define (those of jobs that are
// not waited for, the system's state) are not expected here: the embedded
// nil interface makes them panic.
type fakeSystemd struct {
	steps.Systemd
	states map[string]steps.UnitState
	// configs are what Config reports systemd loaded, by unit.
	configs   map[string]steps.UnitConfig
	mutations int
}

// Config returns what systemd would have loaded from the unit file the
// spec's service gets, for the read-back after a reload.
func (f *fakeSystemd) Config(ctx context.Context, unit string) (steps.UnitConfig, error) {
	if cfg, ok := f.configs[unit]; ok {
		return cfg, nil
	}
	return steps.UnitConfig{LoadState: steps.LoadNotFound}, nil
}

// loadedConfig is what systemd loads from the unit file provision writes
// for svc (a plain service, not a template): its settings read as systemd
// reads them (words split and unquoted, "%%" undone, RestartSec= in
// microseconds), over systemd's defaults.
func loadedConfig(svc spec.Service) steps.UnitConfig {
	cfg := steps.UnitConfig{
		LoadState: steps.LoadLoaded, FragmentPath: svc.UnitPath(),
		Description: svc.UnitName(), Type: "simple", Restart: "no", RestartUSec: 100000,
	}
	unspecify := func(v string) string {
		u, _ := spec.Unspecify(v, "")
		return u
	}
	for _, st := range svc.Settings() {
		v := st.Value
		switch st.Section + "." + st.Name {
		case "Unit.Description":
			cfg.Description = unspecify(v)
		case "Service.Type":
			cfg.Type = v
		case "Service.User":
			cfg.User = unspecify(v)
		case "Service.Group":
			cfg.Group = unspecify(v)
		case "Service.WorkingDirectory":
			cfg.WorkingDirectory = unspecify(v)
		case "Service.Restart":
			cfg.Restart = v
		case "Service.SyslogIdentifier":
			cfg.SyslogIdentifier = unspecify(v)
		case "Service.RestartSec":
			cfg.RestartUSec, _ = spec.ParseTimeSpan(v)
		case "Service.Environment":
			words, _ := spec.SplitWords(v)
			for _, w := range words {
				cfg.Environment = append(cfg.Environment, unspecify(w))
			}
		case "Service.EnvironmentFile":
			cfg.EnvironmentFiles = append(cfg.EnvironmentFiles, unspecify(v))
		case "Service.ExecStart":
			_, words, _, _ := spec.SplitExec(v)
			argv := make([]string, len(words))
			for i, w := range words {
				argv[i] = unspecify(w)
			}
			cfg.ExecStart = append(cfg.ExecStart, argv)
		case "Install.WantedBy":
			cfg.WantedBy = append(cfg.WantedBy, strings.Fields(v)...)
		}
	}
	return cfg
}

func (f *fakeSystemd) reset() { f.mutations = 0 }

func (f *fakeSystemd) update(units []string, fn func(*steps.UnitState)) {
	f.mutations++
	for _, u := range units {
		st := f.state(u)
		fn(&st)
		f.states[u] = st
	}
}

func (f *fakeSystemd) state(unit string) steps.UnitState {
	if st, ok := f.states[unit]; ok {
		return st
	}
	return steps.UnitState{Name: unit, LoadState: steps.LoadNotFound, ActiveState: steps.ActiveInactive, SubState: "dead"}
}

func (f *fakeSystemd) Reload(ctx context.Context) error {
	f.mutations++
	for name, st := range f.states {
		st.LoadState, st.NeedDaemonReload = steps.LoadLoaded, false
		f.states[name] = st
	}
	return nil
}

func (f *fakeSystemd) Start(ctx context.Context, unit string) error {
	f.update([]string{unit}, func(s *steps.UnitState) { s.ActiveState, s.SubState = steps.ActiveActive, "running" })
	return nil
}

func (f *fakeSystemd) Stop(ctx context.Context, unit string) error {
	f.update([]string{unit}, func(s *steps.UnitState) { s.ActiveState, s.SubState = steps.ActiveInactive, "dead" })
	return nil
}

func (f *fakeSystemd) Restart(ctx context.Context, unit string) error {
	return errors.Join(f.Stop(ctx, unit), f.Start(ctx, unit))
}

func (f *fakeSystemd) States(ctx context.Context, units ...string) ([]steps.UnitState, error) {
	out := make([]steps.UnitState, len(units))
	for i, u := range units {
		out[i] = f.state(u)
	}
	return out, nil
}
