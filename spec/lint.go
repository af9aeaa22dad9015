package spec

import (
	"fmt"
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
//
// MissingExecutables adds the one check that needs the host.
func (s *Spec) Warnings() []*Error {
	return slices.Clone(s.warnings)
}

// unitSetting is one setting of a service's unit, with the logical path,
// relative to the service, of the value it comes from.
type unitSetting struct {
	section, name, value string
	path                 string
}

// unitSettings lists the settings a service's unit file holds: for a
// structured service each element of After= and Wants= separately (at
// after[j], wants[j]), extra options at options[k].value, and the other
// fields at their key; for a verbatim unit every option, all at "unit".
func unitSettings(s Service) []unitSetting {
	if s.Unit != "" {
		opts, err := unit.DeserializeOptions(strings.NewReader(s.Unit))
		if err != nil {
			return nil
		}
		settings := make([]unitSetting, len(opts))
		for i, o := range opts {
			settings[i] = unitSetting{o.Section, o.Name, o.Value, "unit"}
		}
		return settings
	}
	var settings []unitSetting
	for _, l := range unitLines(s) {
		switch {
		case l.path == "after" || l.path == "wants":
			list := s.After
			if l.path == "wants" {
				list = s.Wants
			}
			for j, v := range list {
				settings = append(settings, unitSetting{l.opt.Section, l.opt.Name, v, indexPath(l.path, j)})
			}
		case strings.HasPrefix(l.path, "options["):
			settings = append(settings, unitSetting{l.opt.Section, l.opt.Name, l.opt.Value, l.path + ".value"})
		default:
			settings = append(settings, unitSetting{l.opt.Section, l.opt.Name, l.opt.Value, l.path})
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
	for i, svc := range s.Services {
		p := indexPath("services", i)
		var execStart, serviceType *unitSetting
		for _, set := range unitSettings(svc) {
			switch {
			case set.section == sectionUnit && (set.name == "After" || set.name == "Wants"):
				if slices.Contains(strings.Fields(set.value), "syslog.target") {
					warn(p+"."+set.path, "syslog.target is obsolete: syslog is socket-activated (syslog.socket), so %s=syslog.target does nothing; remove it", set.name)
				}
			case set.section == sectionService && set.name == "ExecStart":
				execStart = &set
			case set.section == sectionService && set.name == "Type":
				serviceType = &set
			case set.section == sectionService && set.name == "EnvironmentFile":
				file := set.value
				if !strings.HasPrefix(file, "-") && !strings.Contains(file, "%") && !created[file] {
					warn(p+"."+set.path, "%s is not created by this spec, and systemd will not start the service while it is missing: list it under files (content may be left out), or write \"-%s\" if it may be missing", file, file)
				}
			}
		}
		if execStart == nil || !strings.Contains(strings.ToLower(execStart.value), "sidekiq") {
			continue
		}
		typePath, runs := p+".type", "Type=simple (type is not set)"
		if svc.Unit != "" {
			typePath, runs = p+".unit", "Type=simple (the unit sets no Type=)"
		}
		if serviceType != nil {
			typePath, runs = p+"."+serviceType.path, "Type="+serviceType.value
		}
		if serviceType == nil || serviceType.value == "simple" || serviceType.value == "exec" {
			warn(typePath, "Sidekiq runs with %s: systemctl restart returns before Sidekiq handles signals, so a TSTP (quiet) sent right after a restart can be lost; use type: notify with a WatchdogSec= option (Sidekiq 6 and later support sd_notify), so that a restart waits until Sidekiq is ready", runs)
		}
	}
	return warns
}
