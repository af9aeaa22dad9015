package spec

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/coreos/go-systemd/v22/unit"
)

// Warnings returns what Load found questionable in the spec: settings
// systemd accepts that are most likely mistakes. Each is an *Error with
// Warning set, positioned like Load's errors and sorted by position; a
// warning never makes a spec invalid. A Spec not made by Load has none.
//
// Load warns about:
//
//   - syslog.target in a service's After= or Wants=: the target is obsolete
//     since the syslog daemon is socket-activated (syslog.socket), so the
//     dependency does nothing.
//   - a Sidekiq service (its ExecStart mentions sidekiq) of Type=simple,
//     exec or none: systemctl restart returns before Sidekiq has installed
//     its signal handlers, so a TSTP (quiet) sent right after a restart is
//     lost. Type=notify makes the restart wait until Sidekiq is ready.
//   - an EnvironmentFile= without the "-" prefix that the spec does not
//     create under files: systemd refuses to start the service while the
//     file is missing.
//   - an EnvironmentFile= in a directory of the spec that the service's
//     user or group can write: systemd reads it as root, following links.
//   - a sudoers command allowed with unchecked: true, on every run: its
//     program is one provision does not know to be safe as root.
//
// Checks that need the host (the programs services run) are in
// internal/hostcheck.
func (s *Spec) Warnings() []*Error {
	return slices.Clone(s.warnings)
}

// Setting is one setting of a service's unit, with the logical path,
// relative to the service, of the value it comes from.
type Setting struct {
	Section, Name, Value string
	Path                 string
}

// Settings lists the settings a service's unit file holds: for a
// structured service each element of After= and Wants= separately (at
// after[j], wants[j]), extra options at options[k].value, and the other
// fields at their key; for a verbatim unit every option, all at "unit".
func (s Service) Settings() []Setting {
	if s.Unit != "" {
		opts, err := unit.DeserializeOptions(strings.NewReader(s.Unit))
		if err != nil {
			return nil
		}
		settings := make([]Setting, len(opts))
		for i, o := range opts {
			settings[i] = Setting{o.Section, o.Name, o.Value, "unit"}
		}
		return settings
	}
	var settings []Setting
	for _, l := range unitLines(s) {
		switch {
		case l.path == "after" || l.path == "wants":
			list := s.After
			if l.path == "wants" {
				list = s.Wants
			}
			for j, v := range list {
				settings = append(settings, Setting{l.opt.Section, l.opt.Name, v, indexPath(l.path, j)})
			}
		case strings.HasPrefix(l.path, "options["):
			settings = append(settings, Setting{l.opt.Section, l.opt.Name, l.opt.Value, l.path + ".value"})
		default:
			settings = append(settings, Setting{l.opt.Section, l.opt.Name, l.opt.Value, l.path})
		}
	}
	return settings
}

// lint returns the warnings described at Warnings for a valid, defaulted
// spec, located by logical path.
func lint(s *Spec) []pathError {
	var warns []pathError
	warn := func(p, format string, args ...any) {
		warns = append(warns, pathError{path: p, msg: fmt.Sprintf(format, args...)})
	}
	created := map[string]bool{}
	for _, f := range s.Files {
		created[f.Path] = true
	}
	for i, f := range s.Sudoers {
		for j, r := range f.Rules {
			if !r.Unchecked {
				continue
			}
			for k, cmd := range r.Commands {
				program := strings.Fields(cmd)[0]
				if verdict, _ := JudgeProgram(program); verdict == ProgramUnknown {
					warn(fmt.Sprintf("sudoers[%d].rules[%d].commands[%d]", i, j, k),
						"%s may run %s as %s unchecked (unchecked: true): provision does not know whether it can run other programs or write files its caller names; only your review of it stands between %s and %s",
						r.Who, program, cmp.Or(r.RunAs, "root"), r.Who, cmp.Or(r.RunAs, "root"))
				}
			}
		}
	}
	for i, svc := range s.Services {
		p := indexPath("services", i)
		if svc.Absent() {
			continue
		}
		var execStart, serviceType *Setting
		settings := svc.Settings()
		lintDeploy(p, svc, settings, warn)
		for _, set := range settings {
			switch {
			case set.Section == sectionUnit && (set.Name == "After" || set.Name == "Wants"):
				if slices.Contains(strings.Fields(set.Value), "syslog.target") {
					warn(p+"."+set.Path, "syslog.target is obsolete: syslog is socket-activated (syslog.socket), so %s=syslog.target does nothing; remove it", set.Name)
				}
			case set.Section == sectionService && set.Name == "ExecStart":
				execStart = &set
			case set.Section == sectionService && set.Name == "Type":
				serviceType = &set
			case set.Section == sectionService && set.Name == "EnvironmentFile":
				file := set.Value
				if !strings.HasPrefix(file, "-") && !strings.Contains(file, "%") && !created[file] {
					warn(p+"."+set.Path, "%s is not created by this spec, and systemd will not start the service while it is missing: list it under files (content may be left out), or write \"-%s\" if it may be missing", file, file)
				}
				if dir, who := writableBy(s, svc, strings.TrimPrefix(file, "-")); dir != "" {
					warn(p+"."+set.Path, "%s is in %s, which %s can write: systemd reads EnvironmentFile= as root and follows links, so %s can point it at a file only root may read (ln -sf /root/secret), restart the service and read that file through its environment; keep the file in a directory only root can write (such as /etc/%s/, the file root:%s 0640)",
						strings.TrimPrefix(file, "-"), dir, who, who, svc.Name, cmp.Or(svc.Group, "root"))
				}
			}
		}
		if execStart == nil || !strings.Contains(strings.ToLower(execStart.Value), "sidekiq") {
			continue
		}
		typePath, runs := p+".type", "Type=simple (type is not set)"
		if svc.Unit != "" {
			typePath, runs = p+".unit", "Type=simple (the unit sets no Type=)"
		}
		if serviceType != nil {
			typePath, runs = p+"."+serviceType.Path, "Type="+serviceType.Value
		}
		if serviceType == nil || serviceType.Value == "simple" || serviceType.Value == "exec" {
			warn(typePath, "Sidekiq runs with %s: systemctl restart returns before Sidekiq handles signals, so a TSTP (quiet) sent right after a restart can be lost; use type: notify with a WatchdogSec= option (Sidekiq 6 and later support sd_notify), so that a restart waits until Sidekiq is ready", runs)
		}
	}
	return warns
}

// writableBy returns the closest directory of the spec above file that
// the service's user or group can write (they own it and it is writable
// by its owner or group), and which of them; "" when there is none.
func writableBy(s *Spec, svc Service, file string) (dir, who string) {
	for d := path.Dir(file); d != "/" && d != "."; d = path.Dir(d) {
		for _, sd := range s.Directories {
			if sd.Path != d {
				continue
			}
			switch {
			case svc.User != "" && sd.Owner == svc.User && sd.Mode&0o200 != 0:
				return d, svc.User
			case svc.Group != "" && sd.Group == svc.Group && sd.Mode&0o020 != 0:
				return d, "group " + svc.Group
			case sd.Mode&0o002 != 0 && sd.Mode&0o1000 == 0:
				return d, "everyone"
			}
		}
	}
	return "", ""
}
