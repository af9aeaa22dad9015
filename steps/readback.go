package steps

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/provision-dev/provision/spec"
)

// readBack asks systemd what it loaded for unit, one of the service's,
// and compares it with what the spec's unit file says: its LoadState, the
// file it read and the drop-ins it read after it, and the settings the
// spec sets (Description, Type, User, Group, WorkingDirectory,
// Environment, EnvironmentFile, ExecStart, Restart, RestartSec,
// SyslogIdentifier, and the WantedBy= of its [Install] links). It returns
// one line per difference, each naming what systemd loaded and what the
// spec says; none when systemd runs the spec. It is the systemd twin of the
// sudo -l check of a drop-in: a unit that loads differently (a setting
// systemd read otherwise, a foreign drop-in with User=root, a bad setting
// that kept it from loading) must not pass for converged.
func (s *ensureService) readBack(ctx context.Context, e *Env, unit string) ([]string, error) {
	cfg, err := e.config(ctx, unit)
	if err != nil {
		return nil, err
	}
	switch cfg.LoadState {
	case LoadLoaded:
	case LoadMasked:
		return []string{fmt.Sprintf("systemd has %s masked, so it will not start it: unmask it with systemctl unmask %s (a mask under /run goes at the next boot)", unit, unit)}, nil
	default:
		msg := fmt.Sprintf("systemd did not load %s: LoadState=%s", unit, orNone(string(cfg.LoadState)))
		if cfg.LoadError != "" {
			msg += " (" + cfg.LoadError + ")"
		}
		if len(cfg.Journal) > 0 {
			msg += "; its journal says: " + strings.Join(cfg.Journal, " | ")
		}
		return []string{msg}, nil
	}
	settings := s.service.Settings()
	for _, d := range s.dropins {
		if d.State != spec.Absent && (d.Unit == unit || d.Unit == templateOf(unit)) {
			settings = append(settings, spec.Service{Name: s.service.Name, Unit: string(spec.RenderDropin(d))}.Settings()...)
		}
	}
	want := expectConfig(s.service, unit, settings)
	var diffs []string
	differs := func(setting, loaded, spec string) {
		diffs = append(diffs, fmt.Sprintf("systemd loaded %s=%s, the spec says %s", setting, orNone(loaded), orNone(spec)))
	}
	if cfg.FragmentPath != s.service.UnitPath() {
		diffs = append(diffs, fmt.Sprintf("systemd loaded %s from %s, not from %s", unit, orNone(cfg.FragmentPath), s.service.UnitPath()))
	}
	if s.service.AllowDropins {
		// Drop-ins the spec does not know may change any setting.
		return diffs, nil
	}
	own := s.ownDropins(unit)
	if foreign := slices.DeleteFunc(slices.Clone(cfg.DropInPaths), func(p string) bool { return slices.Contains(own, p) }); len(foreign) > 0 {
		diffs = append(diffs, fmt.Sprintf("systemd also read the drop-ins %s, which the spec does not have; they can change what %s runs (as whom, how)", strings.Join(foreign, ", "), unit))
	}
	for _, v := range []struct {
		setting, loaded string
		want            *string
	}{
		{"Description", cfg.Description, want.description},
		{"Type", cfg.Type, want.typ},
		{"User", cfg.User, want.user},
		{"Group", cfg.Group, want.group},
		{"WorkingDirectory", cfg.WorkingDirectory, want.workingDirectory},
		{"Restart", cfg.Restart, want.restart},
		{"SyslogIdentifier", cfg.SyslogIdentifier, want.syslogIdentifier},
	} {
		if v.want != nil && v.loaded != *v.want {
			differs(v.setting, v.loaded, *v.want)
		}
	}
	if want.restartUSec != nil && cfg.RestartUSec != *want.restartUSec {
		differs("RestartUSec", fmt.Sprint(cfg.RestartUSec), fmt.Sprint(*want.restartUSec))
	}
	if want.environment != nil && !maps.Equal(envMap(cfg.Environment), envMap(want.environment)) {
		differs("Environment", strings.Join(cfg.Environment, " "), strings.Join(want.environment, " "))
	}
	if want.environmentFiles != nil && !slices.Equal(cfg.EnvironmentFiles, want.environmentFiles) {
		differs("EnvironmentFiles", strings.Join(cfg.EnvironmentFiles, " "), strings.Join(want.environmentFiles, " "))
	}
	if want.execStart != nil && !slices.EqualFunc(cfg.ExecStart, want.execStart, slices.Equal[[]string]) {
		differs("ExecStart", argvString(cfg.ExecStart), argvString(want.execStart))
	}
	for _, t := range want.wantedBy {
		if !slices.Contains(cfg.WantedBy, t) {
			differs("WantedBy", strings.Join(cfg.WantedBy, " "), strings.Join(want.wantedBy, " "))
			break
		}
	}
	return diffs, nil
}

// expectation is what systemd should load for a unit; a nil field is not
// compared (the spec's value holds a specifier whose value provision does
// not know).
type expectation struct {
	description, typ, user, group, workingDirectory, restart, syslogIdentifier *string
	restartUSec                                                                *uint64
	environment, environmentFiles                                              []string
	execStart                                                                  [][]string
	wantedBy                                                                   []string
}

// defaultRestartUSec is systemd's RestartSec= when the unit sets none.
const defaultRestartUSec = 100000

// expectConfig reads what systemd should load for unit from the settings
// of the service's unit as provision writes it (spec.Service.Settings),
// and of its drop-ins after it.
func expectConfig(svc spec.Service, unit string, settings []spec.Setting) expectation {
	instance := ""
	if svc.Instances > 0 {
		instance = strings.TrimSuffix(strings.TrimPrefix(unit, svc.Name+"@"), ".service")
	}
	str := func(v string) *string { return &v }
	w := expectation{
		description: str(unit), typ: str("simple"), user: str(""), group: str(""),
		workingDirectory: str(""), restart: str("no"), syslogIdentifier: str(""),
		environment: []string{}, environmentFiles: []string{}, execStart: [][]string{},
	}
	usec := uint64(defaultRestartUSec)
	w.restartUSec = &usec
	set := func(dst **string, v string) {
		if u, ok := spec.Unspecify(v, instance); ok {
			*dst = &u
		} else {
			*dst = nil
		}
	}
	for _, st := range settings {
		v := st.Value
		switch st.Section + "." + st.Name {
		case "Unit.Description":
			set(&w.description, v)
		case "Service.Type":
			w.typ = &v
		case "Service.User":
			set(&w.user, v)
		case "Service.Group":
			set(&w.group, v)
		case "Service.WorkingDirectory":
			if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "~") {
				w.workingDirectory = nil
			} else {
				set(&w.workingDirectory, v)
			}
		case "Service.Restart":
			w.restart = &v
		case "Service.SyslogIdentifier":
			set(&w.syslogIdentifier, v)
		case "Service.RestartSec":
			if n, err := spec.ParseTimeSpan(v); err == nil {
				w.restartUSec = &n
			} else {
				w.restartUSec = nil
			}
		case "Service.Environment":
			w.environment = appendWords(w.environment, v, instance)
		case "Service.EnvironmentFile":
			if v == "" {
				w.environmentFiles = w.environmentFiles[:0]
			} else if u, ok := spec.Unspecify(v, instance); ok && w.environmentFiles != nil {
				w.environmentFiles = append(w.environmentFiles, u)
			} else {
				w.environmentFiles = nil
			}
		case "Service.ExecStart":
			w.execStart = appendExec(w.execStart, v, instance)
		case "Install.WantedBy":
			if svc.IsEnabled() {
				w.wantedBy = append(w.wantedBy, strings.Fields(v)...)
			}
		}
	}
	return w
}

// appendWords adds the NAME=VALUE words of an Environment= value to list;
// an empty value resets it, and a value provision cannot read makes the
// list unknown (nil).
func appendWords(list []string, v, instance string) []string {
	if list == nil {
		return nil
	}
	if v == "" {
		return list[:0]
	}
	words, err := spec.SplitWords(v)
	if err != nil {
		return nil
	}
	for _, w := range words {
		u, ok := spec.Unspecify(w, instance)
		if !ok {
			return nil
		}
		list = append(list, u)
	}
	return list
}

// appendExec adds the argument vector of an ExecStart= command to list,
// as systemd stores it (with "@", argv[0] is the second word).
func appendExec(list [][]string, v, instance string) [][]string {
	if list == nil {
		return nil
	}
	if v == "" {
		return list[:0]
	}
	prefix, words, _, err := spec.SplitExec(v)
	if err != nil || len(words) == 0 {
		return nil
	}
	if strings.Contains(prefix, "@") {
		words = words[1:]
	}
	argv := make([]string, len(words))
	for i, w := range words {
		u, ok := spec.Unspecify(w, instance)
		if !ok {
			return nil
		}
		argv[i] = u
	}
	// A program given without a directory keeps argv[0] as written:
	// systemd resolves only the path it runs, which is not compared.
	return append(list, argv)
}

// envMap reads NAME=VALUE assignments, a later one of a name winning.
func envMap(list []string) map[string]string {
	m := make(map[string]string, len(list))
	for _, a := range list {
		k, v, _ := strings.Cut(a, "=")
		m[k] = v
	}
	return m
}

func argvString(cmds [][]string) string {
	parts := make([]string, len(cmds))
	for i, c := range cmds {
		parts[i] = strings.Join(c, " ")
	}
	return strings.Join(parts, "; ")
}
