package steps

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/provision-dev/provision/internal/crash"
)

// daemonReload reloads systemd's configuration when, and only when,
// something it reads changed: a unit file or [Install] links a step
// before it changed in this run (it is notified of them), or a managed
// unit whose file changed on disk since systemd loaded it
// (NeedDaemonReload). It touches the units whose configuration changed, so
// that the steps it notifies restart those that run; a change of links
// alone restarts nothing. One reload serves the whole run.
type daemonReload struct {
	// units are the managed units, whose NeedDaemonReload is checked.
	units []string
	// readBack are the units of the services that are to be there:
	// those the reload touches are read back right after it (see
	// prefetchConfigs).
	readBack []string
}

func (s *daemonReload) ID() string { return "daemon-reload" }

func (s *daemonReload) asksSystemd() {}

func (s *daemonReload) Converge(ctx context.Context, e *Env) ([]Change, error) {
	if e.Host.Offline || len(s.units) == 0 {
		return nil, nil
	}
	var stale, why, links []string
	for _, ev := range e.Notified() {
		if len(ev.Units) == 0 {
			links = append(links, "links changed by "+ev.From)
		}
		for _, u := range ev.Units {
			if !slices.Contains(stale, u) {
				stale = append(stale, u)
				why = append(why, u)
			}
		}
	}
	states, err := e.states(ctx, s.units...)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		if st.NeedDaemonReload && !slices.Contains(stale, st.Name) {
			stale = append(stale, st.Name)
			why = append(why, st.Name+" (changed on disk)")
		}
	}
	if len(why)+len(links) == 0 {
		return nil, nil
	}
	slices.Sort(why)
	slices.Sort(links)
	why = append(why, links...)
	e.Touch(stale...)
	c := Change{Summary: "reload systemd: " + strings.Join(why, ", ")}
	if !e.Apply {
		return []Change{c}, nil
	}
	// After the reload, nothing on the host says that a running service
	// still runs its old unit: a run killed before the restart would
	// leave it so for good. A marker says it until ensureService has
	// restarted the service.
	for _, st := range states {
		if slices.Contains(stale, st.Name) && (st.Active() || st.StartQueued()) {
			if err := restartPending.mark(e, st.Name); err != nil {
				return nil, err
			}
		}
	}
	var read []string
	for _, u := range stale {
		if slices.Contains(s.readBack, u) {
			read = append(read, u)
		}
	}
	e.run.configs = nil
	reload := func() (map[string]configRead, error) {
		if err := e.Host.Systemd.Reload(ctx); err != nil {
			return nil, err
		}
		crash.Point("daemon-reload", "systemd", "done")
		return readConfigs(ctx, e.Host.Systemd, read), nil
	}
	if crash.Armed() {
		// A run that is to be killed at a crash point passes them in
		// one order, the same in every run.
		configs, err := reload()
		if err != nil {
			return nil, err
		}
		e.forgetStates()
		e.run.configs = configs
		return []Change{c}, nil
	}
	// systemd takes a while to reload (about 100 ms on a small host),
	// and what comes next in the run until the services (accounts,
	// directories, files, sudoers) does not need it: the reload runs
	// while they do. The steps that need it wait for it (see deferred).
	done := make(chan struct{})
	var configs map[string]configRead
	var reloadErr error
	go func() {
		defer close(done)
		configs, reloadErr = reload()
	}()
	e.run.reloading = done
	e.later(deferred{
		ready: func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		},
		wait: func() error {
			<-done
			if e.run.reloading == done {
				e.run.reloading = nil
			}
			e.forgetStates()
			e.run.configs = configs
			return reloadErr
		},
	})
	return []Change{c}, nil
}

// configRead is what systemd answered when asked what it loaded for a
// unit.
type configRead struct {
	cfg UnitConfig
	err error
}

// configReaders bounds how many units are read back at once.
const configReaders = 8

// readConfigs asks systemd what it loaded for each of units, several at
// once, right after a reload, for the read-backs of the service steps
// (see ensureService.readBack): a hundred services read one after the
// other spent a hundred round trips of waiting. What systemd loaded does
// not change until the next reload, which forgets the answers.
func readConfigs(ctx context.Context, sd Systemd, units []string) map[string]configRead {
	reads := make([]configRead, len(units))
	sem := make(chan struct{}, configReaders)
	var wg sync.WaitGroup
	for i, u := range units {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			reads[i].cfg, reads[i].err = sd.Config(ctx, u)
		})
	}
	wg.Wait()
	configs := make(map[string]configRead, len(units))
	for i, u := range units {
		configs[u] = reads[i]
	}
	return configs
}

// config returns what systemd loaded for unit: read after this run's
// reload, or asked now.
func (e *Env) config(ctx context.Context, unit string) (UnitConfig, error) {
	if r, ok := e.run.configs[unit]; ok {
		return r.cfg, r.err
	}
	return e.Host.Systemd.Config(ctx, unit)
}
