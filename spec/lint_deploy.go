package spec

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
)

// sidekiqDefaultTimeout is how long Sidekiq waits, on TERM, for its jobs to
// finish (its -t/--timeout, 25 s by default) before it puts them back.
const sidekiqDefaultTimeout = 25

// systemdDefaultTimeoutStop is systemd's TimeoutStopSec= default.
const systemdDefaultTimeoutStop = 90

// wrappers are programs that start the worker as their child, or that may:
// a READY=1 from the child is dropped unless NotifyAccess=all.
var wrappers = []string{"rbenv", "bundle", "rvm", "rvm-exec", "chruby-exec", "asdf", "rtx", "mise", "bash", "sh", "dash", "zsh", "foreman"}

// lintDeploy warns about what loses jobs or signals on a deploy, for one
// service (p is its path), given the settings of its unit:
//
//   - Sidekiq's shutdown timeout (-t, --timeout; 25 s) plus 5 s must fit in
//     TimeoutStopSec= (90 s), or systemd kills the jobs still running;
//     KillMode=process or none leaves a wrapper's workers orphaned.
//   - Type=notify with a wrapper in ExecStart= needs NotifyAccess=all: the
//     READY=1 comes from a child, which systemd ignores.
//   - bash -c/-lc or sh -c without exec before the worker: TSTP and TERM
//     go to the shell, not to the worker.
//   - sudo: allow: [reload] on a unit without ExecReload=.
func lintDeploy(p string, svc Service, settings []Setting, warn func(p, format string, args ...any)) {
	last := map[string]*Setting{}
	for i := range settings {
		if settings[i].Section == sectionService {
			last[settings[i].Name] = &settings[i]
		}
	}
	at := func(name, key string) string {
		if set, ok := last[name]; ok {
			return p + "." + set.Path
		}
		if svc.Unit != "" {
			return p + ".unit"
		}
		return p + "." + key
	}
	execStart, ok := last["ExecStart"]
	if !ok {
		return
	}
	_, argv, _, err := SplitExec(execStart.Value)
	if err != nil || len(argv) == 0 {
		return
	}
	program := path.Base(argv[0])
	sidekiq := strings.Contains(strings.ToLower(execStart.Value), "sidekiq")

	// The shell that would get the signals.
	if slices.Contains([]string{"bash", "sh", "dash", "zsh"}, program) {
		for i, a := range argv[1:] {
			if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && strings.Contains(a, "c") && i+2 < len(argv) {
				script := strings.TrimSpace(argv[i+2])
				if !strings.HasPrefix(script, "exec ") {
					warn(p+"."+execStart.Path, "%s %s runs the worker as the shell's child: systemd sends TSTP (quiet) and TERM (stop) to the shell, not to the worker; start the command with exec (%s %s 'exec %s')", program, a, program, a, script)
				}
				break
			}
		}
	}

	if typ, ok := last["Type"]; ok && typ.Value == "notify" && slices.Contains(wrappers, program) {
		if na, ok := last["NotifyAccess"]; !ok || na.Value != "all" {
			warn(p+"."+typ.Path, "Type=notify with ExecStart= through %s: the READY=1 comes from the worker, a child of %s, and systemd drops it (\"reception only permitted for main PID\") unless NotifyAccess=all; add options: [{section: Service, name: NotifyAccess, value: all}] (Sidekiq speaks sd_notify from 6.0.6)", program, program)
		}
	}

	if sidekiq {
		timeout := sidekiqDefaultTimeout
		for i, a := range argv {
			v, isFlag := "", false
			switch {
			case (a == "-t" || a == "--timeout") && i+1 < len(argv):
				v, isFlag = argv[i+1], true
			case strings.HasPrefix(a, "--timeout="):
				v, isFlag = strings.TrimPrefix(a, "--timeout="), true
			}
			if isFlag {
				if n, err := strconv.Atoi(v); err == nil {
					timeout = n
				}
			}
		}
		stop := uint64(systemdDefaultTimeoutStop) * 1e6
		stopSet := "TimeoutStopSec is not set, so 90s"
		for _, name := range []string{"TimeoutSec", "TimeoutStopSec"} {
			if set, ok := last[name]; ok {
				if n, err := ParseTimeSpan(set.Value); err == nil {
					stop, stopSet = n, fmt.Sprintf("%s=%s", name, set.Value)
				}
			}
		}
		if stop != USecInfinity && uint64(timeout+5)*1e6 > stop {
			warn(at("TimeoutStopSec", "options"), "Sidekiq waits up to %ds on TERM for its jobs to finish, but %s: systemd kills the jobs still running; set TimeoutStopSec to at least %ds (options: [{section: Service, name: TimeoutStopSec, value: \"%d\"}])", timeout, stopSet, timeout+5, timeout+5)
		}
		if km, ok := last["KillMode"]; ok && (km.Value == "process" || km.Value == "none") {
			warn(p+"."+km.Path, "KillMode=%s stops only Sidekiq's main process: its children (a wrapper's worker, forked jobs) are left running, orphaned; leave KillMode out (control-group)", km.Value)
		}
	}

	if svc.Sudo != nil {
		for i, verb := range svc.Sudo.Allow {
			if _, ok := last["ExecReload"]; verb == VerbReload && !ok {
				warn(indexPath(p+".sudo.allow", i), "reload runs systemctl reload, but %s has no ExecReload=: systemd refuses the job (\"Job type reload is not applicable\"); add an ExecReload= option, or allow restart instead", svc.UnitName())
			}
		}
	}
}
