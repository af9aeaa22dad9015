package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"unicode"

	"github.com/coreos/go-systemd/v22/unit"
)

// pathError is a problem found on the model, located by logical path only;
// Load adds the position from the node tree.
type pathError struct {
	path string
	// onKey points the error at the mapping key rather than its value.
	onKey bool
	msg   string
}

// validator checks a decoded, defaulted spec and collects every problem.
type validator struct {
	errs []pathError
}

func (v *validator) errorf(p, format string, args ...any) {
	v.errs = append(v.errs, pathError{path: p, msg: fmt.Sprintf(format, args...)})
}

func (v *validator) keyErrorf(p, format string, args ...any) {
	v.errs = append(v.errs, pathError{path: p, onKey: true, msg: fmt.Sprintf(format, args...)})
}

func indexPath(p string, i int) string { return fmt.Sprintf("%s[%d]", p, i) }

// MaxInstances is the most instances a template service may run.
const MaxInstances = 100

const (
	maxNameLen        = 32
	maxUnitNameLen    = 255
	maxPathLen        = 4096
	maxSudoersNameLen = 64
	// maxUnitLine keeps every rendered unit line within what
	// go-systemd's unit parser (and so provision itself) reads back.
	maxUnitLine = unit.SYSTEMD_LINE_MAX - 1
)

// The values systemd accepts for Restart= and Type=.
var (
	restartValues = []string{"no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always"}
	typeValues    = []string{"simple", "exec", "forking", "oneshot", "dbus", "notify", "notify-reload", "idle"}
	sudoVerbs     = []string{VerbStart, VerbStop, VerbRestart, VerbQuiet, VerbStatus, VerbReload}
	sudoPresets   = []string{PresetCapistranoSidekiq}
	states        = []State{StateStarted, StateStopped, StateAbsent}
)

func (v *validator) validate(s *Spec) {
	for i, u := range s.Users {
		v.user(indexPath("users", i), u)
	}
	paths := map[string]string{}
	for i, d := range s.Directories {
		p := indexPath("directories", i)
		v.presence(p, d.State)
		v.managedPath(p, d.Path, d.Owner, d.Group)
		if d.Mode&0o4000 != 0 {
			v.errorf(p+".mode", "must not set the setuid bit")
		}
		v.uniquePath(paths, p, d.Path)
	}
	for i, f := range s.Files {
		p := indexPath("files", i)
		v.presence(p, f.State)
		v.managedPath(p, f.Path, f.Owner, f.Group)
		if f.Mode&0o7000 != 0 {
			v.errorf(p+".mode", "must not set the setuid, setgid or sticky bit")
		}
		if f.State == Absent && f.Content != nil {
			v.keyErrorf(p+".content", "cannot be given for a file that is to be absent")
		}
		v.uniquePath(paths, p, f.Path)
	}
	for i, svc := range s.Services {
		v.service(indexPath("services", i), svc)
	}
	v.sudoers(s)
	v.dropins(s)
	v.duplicates(s, paths)
}

// presence checks a state: that may be present (the default) or absent.
func (v *validator) presence(p string, st Presence) {
	if st != Present && st != Absent && st != "present" {
		v.errorf(p+".state", "must be present or absent, got %q", st)
	}
}

func (v *validator) required(p, value string) bool {
	if value == "" {
		v.errorf(p, "is required")
		return false
	}
	return true
}

func (v *validator) name(p, value, what string) {
	switch {
	case len(value) > maxNameLen:
		v.errorf(p, "%s %q is longer than %d characters", what, value, maxNameLen)
	case !isName(value):
		v.errorf(p, "%s %q must start with a lowercase letter or _ and contain only lowercase letters, digits, _ and - (optionally ending in $)", what, value)
	}
}

// absPath checks an absolute, clean path.
func (v *validator) absPath(p, value string) bool {
	switch {
	case !strings.HasPrefix(value, "/"):
		v.errorf(p, "must be an absolute path, got %q", value)
	case len(value) > maxPathLen:
		v.errorf(p, "is longer than %d bytes", maxPathLen)
	case slices.Contains(strings.Split(value, "/"), ".."):
		v.errorf(p, "must not contain \"..\"")
	case len(value) > 1 && strings.HasSuffix(value, "/"):
		v.errorf(p, "must not end with /")
	case path.Clean(value) != value:
		v.errorf(p, "must be a clean path: %q", path.Clean(value))
	default:
		return true
	}
	return false
}

func (v *validator) user(p string, u User) {
	if v.required(p+".name", u.Name) {
		v.name(p+".name", u.Name, "user name")
	}
	v.presence(p, u.State)
	if u.RemoveHome && u.State != Absent {
		v.keyErrorf(p+".remove_home", "applies only to a user with state: absent")
	}
	if u.State == Absent && u.Name == "root" {
		v.errorf(p+".state", "root cannot be removed")
	}
	if u.Group != "" && u.Group != u.Name {
		v.name(p+".group", u.Group, "group name")
	}
	seen := map[string]bool{}
	for i, g := range u.Groups {
		gp := indexPath(p+".groups", i)
		if v.required(gp, g) {
			v.name(gp, g, "group name")
		}
		if seen[g] {
			v.errorf(gp, "group %q is listed twice", g)
		}
		seen[g] = true
	}
	if u.Home != "" {
		v.absPath(p+".home", u.Home)
	}
	if u.Shell != "" {
		v.absPath(p+".shell", u.Shell)
	}
	for i, key := range u.AuthorizedKeys {
		kp := indexPath(p+".authorized_keys", i)
		if strings.TrimSpace(key) == "" {
			v.errorf(kp, "must not be empty")
		} else if len(strings.Fields(key)) < 2 {
			v.errorf(kp, "must be a public key line such as \"ssh-ed25519 AAAA... comment\"")
		}
	}
}

// managedPath checks the path, owner and group of a directory or file.
func (v *validator) managedPath(p, value, owner, group string) {
	if v.required(p+".path", value) && v.absPath(p+".path", value) {
		if value == "/" {
			v.errorf(p+".path", "must not be /")
		} else if msg := protectedPath(value); msg != "" {
			v.errorf(p+".path", "%s", msg)
		}
	}
	v.name(p+".owner", owner, "user name")
	v.name(p+".group", group, "group name")
}

func (v *validator) uniquePath(paths map[string]string, p, value string) {
	if value == "" {
		return
	}
	if first, ok := paths[value]; ok {
		v.errorf(p+".path", "%s is also managed by %s", value, first)
		return
	}
	paths[value] = p
}

// structuredFields names the yaml keys of a service's structured fields
// that are set.
func structuredFields(s Service) []string {
	var set []string
	for _, f := range []struct {
		key string
		set bool
	}{
		{"description", s.Description != ""},
		{"after", len(s.After) > 0},
		{"wants", len(s.Wants) > 0},
		{"type", s.Type != ""},
		{"working_directory", s.WorkingDirectory != ""},
		{"user", s.User != ""},
		{"group", s.Group != ""},
		{"environment", len(s.Environment) > 0},
		{"environment_file", s.EnvironmentFile != ""},
		{"exec_start", s.ExecStart != ""},
		{"restart", s.Restart != ""},
		{"restart_sec", s.RestartSec != ""},
		{"syslog_identifier", s.SyslogIdentifier != ""},
		{"wanted_by", len(s.WantedBy) > 0},
		{"options", len(s.Options) > 0},
	} {
		if f.set {
			set = append(set, f.key)
		}
	}
	return set
}

// singleOptions are the unit options a structured field writes once; an
// extra option may not set them again.
var singleOptions = map[[2]string]string{
	{sectionUnit, "Description"}:         "description",
	{sectionService, "Type"}:             "type",
	{sectionService, "WorkingDirectory"}: "working_directory",
	{sectionService, "User"}:             "user",
	{sectionService, "Group"}:            "group",
	{sectionService, "Restart"}:          "restart",
	{sectionService, "RestartSec"}:       "restart_sec",
	{sectionService, "SyslogIdentifier"}: "syslog_identifier",
}

func (v *validator) service(p string, s Service) {
	nameOK := false
	if v.required(p+".name", s.Name) {
		switch {
		case strings.HasSuffix(s.Name, ".service"):
			v.errorf(p+".name", "must be given without the .service suffix: %q", strings.TrimSuffix(s.Name, ".service"))
		case strings.Contains(s.Name, "@"):
			v.errorf(p+".name", "template units (with @) are not supported")
		case !isServiceName(s.Name):
			v.errorf(p+".name", "%q must start with a letter, digit or _ and contain only letters, digits, _, . and -", s.Name)
		case len(s.UnitName()) > maxUnitNameLen:
			v.errorf(p+".name", "is longer than %d characters", maxUnitNameLen-len(".service"))
		case isUnitName(s.Name):
			v.errorf(p+".name", "must not end with a unit type suffix such as %q", path.Ext(s.Name))
		default:
			nameOK = true
		}
	}
	if s.State != StateUnmanaged && !slices.Contains(states, s.State) {
		v.errorf(p+".state", "must be started, stopped or absent, or left out to leave the service as it is")
	}
	if s.Instances < 0 || s.Instances > MaxInstances {
		v.errorf(p+".instances", "must be between 1 and %d, or left out for a plain unit", MaxInstances)
	}
	if s.Sudo != nil {
		// A default file name made from a bad service name would only
		// repeat the name's error.
		checkFile := s.Sudo.File != "" && (nameOK || s.Sudo.File != s.Name+DefaultSudoFileSuffix)
		if s.Absent() {
			if checkFile {
				v.sudoersName(p+".sudo.file", s.Sudo.File)
			}
		} else {
			v.serviceSudo(p+".sudo", *s.Sudo, checkFile)
		}
	}
	if s.Absent() {
		// A service to retire needs its name (and the file of its sudo:
		// when it is not NAME-users); what else it says is not used.
		return
	}
	if s.Unit != "" {
		for _, key := range structuredFields(s) {
			v.keyErrorf(p+"."+key, "cannot be combined with unit: write it in the unit text or drop unit")
		}
		v.verbatimUnit(p+".unit", s.Unit, s.PrivilegedExec)
		return
	}

	v.required(p+".exec_start", s.ExecStart)
	if s.Type != "" && !slices.Contains(typeValues, s.Type) {
		v.errorf(p+".type", "must be one of %s", strings.Join(typeValues, ", "))
	}
	if s.Restart != "" && !slices.Contains(restartValues, s.Restart) {
		v.errorf(p+".restart", "must be one of %s", strings.Join(restartValues, ", "))
	}
	if s.RestartSec != "" {
		if !isTimeSpan(s.RestartSec) {
			v.errorf(p+".restart_sec", "must be a number of seconds or a systemd time span such as 500ms or 5s, got %q", s.RestartSec)
		} else if _, err := ParseTimeSpan(s.RestartSec); err != nil {
			v.errorf(p+".restart_sec", "%q %v: systemd would ignore it and restart after 100ms", s.RestartSec, err)
		}
	}
	if s.ExecStart != "" {
		v.execLine(p+".exec_start", "ExecStart", s.ExecStart, s.PrivilegedExec)
	}
	if s.WorkingDirectory != "" {
		v.absPath(p+".working_directory", s.WorkingDirectory)
	}
	if s.EnvironmentFile != "" {
		// A leading "-" tells systemd to ignore a missing file.
		v.absPath(p+".environment_file", strings.TrimPrefix(s.EnvironmentFile, "-"))
	}
	if s.User != "" {
		v.name(p+".user", s.User, "user name")
	}
	if s.Group != "" {
		v.name(p+".group", s.Group, "group name")
	}
	for name := range s.Environment {
		if !isEnvName(name) {
			v.keyErrorf(joinKey(p+".environment", name), "%q is not a valid variable name: use letters, digits and _, not starting with a digit", name)
		}
	}
	// cloud-final.service is ordered after multi-user.target: a service
	// after it that multi-user.target wants is an ordering cycle, which
	// systemd breaks at the next boot by dropping a job.
	for i, a := range s.After {
		if (a == "cloud-final.service" || a == "cloud-init.target") && slices.Contains(s.WantedBy, "multi-user.target") {
			v.errorf(indexPath(p+".after", i), "After=%s with WantedBy=multi-user.target is an ordering cycle (cloud-final.service is ordered after multi-user.target): systemd would drop a job at the next boot; use wanted_by: [cloud-init.target], as cloud-init advises", a)
		}
	}
	for field, list := range map[string][]string{"after": s.After, "wants": s.Wants, "wanted_by": s.WantedBy} {
		for i, name := range list {
			if !isUnitName(name) || len(name) > maxUnitNameLen {
				v.errorf(indexPath(p+"."+field, i), "%q is not a unit name such as network.target", name)
			}
		}
	}
	for i, o := range s.Options {
		op := indexPath(p+".options", i)
		if v.required(op+".section", o.Section) && !knownSection(o.Section) {
			v.errorf(op+".section", "must be Unit, Service or Install, or X-NAME for a section systemd ignores; got %q", o.Section)
		}
		if v.required(op+".name", o.Name) && !isUnitKey(o.Name) {
			v.errorf(op+".name", "%q is not a unit option name such as LimitNOFILE", o.Name)
		}
		if field, ok := singleOptions[[2]string{o.Section, o.Name}]; ok && structuredValue(s, field) {
			v.errorf(op, "sets %s=, which %s already sets; keep one", o.Name, field)
		}
		if o.Section == sectionService && strings.HasPrefix(o.Name, "Exec") && o.Value != "" {
			v.execLine(op+".value", o.Name, o.Value, s.PrivilegedExec)
		}
	}
	for _, l := range unitLines(s) {
		lp := p + "." + l.path
		if strings.HasPrefix(l.path, "options[") {
			lp += ".value"
		}
		// Environment values are quoted as needed; others are written as
		// given (environment_file is not one of them).
		quoted := strings.HasPrefix(l.path, "environment.") || strings.HasPrefix(l.path, "environment[")
		v.lineValue(lp, l.opt.Name, l.opt.Value, quoted)
	}
}

// lineValue is the one check of every value that reaches a unit line: it
// must stay on its line and read back as written. quoted says the value
// was quoted by RenderUnit (an Environment= assignment), so its white
// space and backslashes are safe.
func (v *validator) lineValue(p, name, value string, quoted bool) {
	switch {
	case !quoted && value != strings.TrimSpace(value):
		v.errorf(p, "must not begin or end with whitespace")
	case !quoted && strings.HasSuffix(value, `\`):
		v.errorf(p, "must not end with a backslash, which would continue the line")
	case strings.IndexFunc(value, unicode.IsControl) >= 0:
		v.errorf(p, "must not contain control characters")
	case len(name)+1+len(value) > maxUnitLine:
		v.errorf(p, "renders a unit line of %d bytes, more than %d", len(name)+1+len(value), maxUnitLine)
	}
}

// knownSection reports whether a service unit may hold the section:
// systemd warns about and skips any other, unless it starts with "X-".
func knownSection(section string) bool {
	switch section {
	case sectionUnit, sectionService, sectionInstall:
		return true
	}
	rest, ok := strings.CutPrefix(section, "X-")
	return ok && isUnitKey(rest)
}

// structuredValue reports whether the structured field named by its yaml
// key is set.
func structuredValue(s Service, key string) bool {
	return slices.Contains(structuredFields(s), key)
}

// verbatimUnit checks that a unit given as text reads back as systemd and
// go-systemd read it.
func (v *validator) verbatimUnit(p, text string, privileged bool) {
	if strings.ContainsRune(text, 0) {
		v.errorf(p, "must not contain NUL bytes")
		return
	}
	inSection, continued := false, false
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if !continued {
			switch {
			case trimmed == "", trimmed[0] == '#', trimmed[0] == ';':
			case trimmed[0] == '[':
				if !strings.HasSuffix(trimmed, "]") {
					v.errorf(p, "line %d: section header must end with ]", i+1)
					return
				}
				inSection = true
			case !inSection:
				v.errorf(p, "line %d: option outside of a section: %q", i+1, trimmed)
				return
			case !strings.Contains(trimmed, "="):
				v.errorf(p, "line %d: expected NAME=VALUE, got %q", i+1, trimmed)
				return
			}
		}
		continued = strings.HasSuffix(strings.TrimRight(line, " "), `\`)
	}
	if continued {
		v.errorf(p, "must not end with a line continuation (\\)")
		return
	}
	if !inSection {
		v.errorf(p, "has no section such as [Service]")
		return
	}
	opts, err := unit.DeserializeOptions(strings.NewReader(text))
	if err != nil {
		v.errorf(p, "is not a valid unit: %v", err)
		return
	}
	for _, o := range opts {
		if o.Section == sectionService && strings.HasPrefix(o.Name, "Exec") && o.Value != "" {
			v.execLine(p, o.Name, o.Value, privileged)
		}
	}
}

// execLine checks an Exec*= command line: systemd must read it as one
// command (no lone ";", balanced quotes, known escapes), and it must not
// run as root behind User=, unless privileged says it may.
func (v *validator) execLine(p, name, line string, privileged bool) {
	prefix, argv, separator, err := SplitExec(line)
	switch {
	case err != nil:
		v.errorf(p, "%s=%s %v: systemd would ignore the line", name, line, err)
	case len(argv) == 0:
		v.errorf(p, "%s= names no program", name)
	case separator:
		v.errorf(p, "%s= holds a lone \";\", which systemd reads as the start of a second command: quote or escape it (\\;) if it is an argument", name)
	case strings.ContainsAny(prefix, privilegedPrefixes) && !privileged:
		v.errorf(p, "%s= starts with %q, which runs the command with full privileges (as root, whatever User= says); set privileged_exec: true if that is meant", name, strings.Trim(prefix, "@-:"))
	}
}

func (v *validator) serviceSudo(p string, s ServiceSudo, checkFile bool) {
	switch {
	case s.User != "" && s.Group != "":
		v.errorf(p+".group", "set either user or group, not both")
	case s.User != "":
		v.name(p+".user", s.User, "user name")
	case s.Group != "":
		v.name(p+".group", s.Group, "group name")
	default:
		v.errorf(p, "needs user or group: who may run the commands")
	}
	if checkFile {
		v.sudoersName(p+".file", s.File)
	}
	if s.For != "" && !slices.Contains(sudoPresets, s.For) {
		v.errorf(p+".for", "must be %s, got %q", strings.Join(sudoPresets, " or "), s.For)
	}
	if len(s.Allow) == 0 && s.For == "" {
		v.errorf(p+".allow", "must list at least one of %s (or give for: %s)", strings.Join(sudoVerbs, ", "), PresetCapistranoSidekiq)
	}
	seen := map[string]bool{}
	for i, verb := range s.Allow {
		ap := indexPath(p+".allow", i)
		switch {
		case !slices.Contains(sudoVerbs, verb):
			v.errorf(ap, "must be one of %s, got %q", strings.Join(sudoVerbs, ", "), verb)
		case seen[verb]:
			v.errorf(ap, "%s is listed twice", verb)
		}
		seen[verb] = true
	}
}

// sudoersName checks the name of a file under /etc/sudoers.d, which sudo
// skips silently when it contains a dot or ends in ~.
func (v *validator) sudoersName(p, name string) {
	switch {
	case strings.Contains(name, "."):
		v.errorf(p, "%q contains a dot, so sudo would ignore the file", name)
	case strings.HasSuffix(name, "~"):
		v.errorf(p, "%q ends in ~, so sudo would ignore the file", name)
	case !isSudoersName(name):
		v.errorf(p, "%q must contain only letters, digits, _ and -", name)
	case len(name) > maxSudoersNameLen:
		v.errorf(p, "is longer than %d characters", maxSudoersNameLen)
	}
}

func (v *validator) sudoers(s *Spec) {
	for i, f := range s.Sudoers {
		p := indexPath("sudoers", i)
		if v.required(p+".name", f.Name) {
			v.sudoersName(p+".name", f.Name)
		}
		v.presence(p, f.State)
		if f.State == Absent {
			continue
		}
		if len(f.Rules) == 0 {
			v.errorf(p+".rules", "must list at least one rule")
		}
		for j, r := range f.Rules {
			v.sudoersRule(indexPath(p+".rules", j), r)
		}
	}
}

func (v *validator) sudoersRule(p string, r SudoersRule) {
	if v.required(p+".who", r.Who) {
		if group, ok := strings.CutPrefix(r.Who, "%"); ok {
			v.name(p+".who", group, "group name")
		} else {
			v.name(p+".who", r.Who, "user name (or %group)")
		}
	}
	if r.RunAs != "" {
		v.name(p+".run_as", r.RunAs, "user name")
	}
	if len(r.Commands) == 0 {
		v.errorf(p+".commands", "must list at least one command")
	}
	for i, cmd := range r.Commands {
		if msg := checkCommand(cmd, r.Unchecked); msg != "" {
			v.errorf(indexPath(p+".commands", i), "%s", msg)
		}
	}
}

// sudoersSpecial are characters sudoers(5) gives a meaning in a command
// (separators, escapes, comments, negation, wildcards); commands may not
// contain them, so that a rule allows exactly the command written.
const sudoersSpecial = `,:=\()#!"*?[]`

func commandChar(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("_./@%+-~", r)
}

// checkCommand returns what is wrong with a sudoers command, or "". The
// program is judged by the name given; internal/hostcheck judges the
// binary it is on the host.
func checkCommand(cmd string, unchecked bool) string {
	words := strings.Fields(cmd)
	if len(words) == 0 {
		return "must not be empty"
	}
	bin := words[0]
	if bin == "ALL" {
		return "ALL would allow every command as root; list the commands"
	}
	if !strings.HasPrefix(bin, "/") {
		return fmt.Sprintf("must start with the absolute path of a program, got %q", bin)
	}
	if path.Clean(bin) != bin || slices.Contains(strings.Split(bin, "/"), "..") {
		return fmt.Sprintf("program path %q must be clean", bin)
	}
	for _, r := range cmd {
		switch {
		case r == ' ':
		case strings.ContainsRune(sudoersSpecial, r):
			return fmt.Sprintf("must not contain %q, which sudoers treats specially", r)
		case !commandChar(r):
			return fmt.Sprintf("must not contain %q: commands may use only letters, digits, spaces and _ . / @ %% + - ~", r)
		}
	}
	return JudgeCommand(bin, words[1:], unchecked)
}

// JudgeCommand returns what is wrong with letting sudo run program (a path
// or a name; its base name is judged, see JudgeProgram) with args as root,
// or "". An unknown program is allowed only when unchecked.
func JudgeCommand(program string, args []string, unchecked bool) string {
	verdict, why := JudgeProgram(program)
	switch {
	case verdict == ProgramDangerous:
		return DangerousProgram(program, why)
	case verdict == ProgramUnknown && !unchecked:
		return UnknownProgram(program)
	case verdict == ProgramSafe && path.Base(program) == "systemctl":
		return checkSystemctl(args)
	}
	return ""
}

// protectedPaths are written only through the parts of the spec that
// check what goes into them: a plain file there would bypass visudo, unit
// validation or shadow-utils.
var protectedPaths = []struct{ path, use string }{
	{"/etc/sudoers", "sudo's configuration is written only as sudoers: drop-ins or a service's sudo:, which visudo checks"},
	{SudoersDir, "sudo's configuration is written only as sudoers: drop-ins or a service's sudo:, which visudo checks"},
	{UnitDir, "units are written only through services:, which validates them"},
	{"/etc/passwd", "accounts are managed only through users:"},
	{"/etc/shadow", "accounts are managed only through users:"},
	{"/etc/group", "accounts are managed only through users:"},
	{"/etc/gshadow", "accounts are managed only through users:"},
}

// protectedPath says why value may not be a plain file or directory, or
// returns "".
func protectedPath(value string) string {
	for _, pp := range protectedPaths {
		if value == pp.path || strings.HasPrefix(value, pp.path+"/") || strings.HasPrefix(pp.path, value+"/") && value != "/etc" {
			return fmt.Sprintf("%s is not managed as a plain file or directory: %s", value, pp.use)
		}
	}
	return ""
}

// systemctlVerbs are the systemctl commands a sudoers rule may allow: they
// act on the named units only and open no editor or shell (status, show
// and cat page through a pager that systemd runs in secure mode under
// sudo). edit, daemon-reload, set-property and the like are refused.
var systemctlVerbs = []string{
	"start", "stop", "restart", "try-restart", "reload", "reload-or-restart", "try-reload-or-restart",
	"kill", "status", "show", "cat", "is-active", "is-enabled", "is-failed",
}

// systemctlRemote are the systemctl options that act on another system:
// over SSH, in a container, or on a directory tree.
var systemctlRemote = []string{"-H", "--host", "-M", "--machine", "--root", "--image"}

// checkSystemctl returns what is wrong with the arguments of a systemctl
// command, or "".
func checkSystemctl(args []string) string {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if slices.Contains(systemctlRemote, name) {
			return fmt.Sprintf("systemctl %s acts on another system; it is not allowed in a sudoers rule", name)
		}
	}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if !slices.Contains(systemctlVerbs, a) {
			return fmt.Sprintf("systemctl %s is not allowed in a sudoers rule; allow one of %s", a, strings.Join(systemctlVerbs, ", "))
		}
		return ""
	}
	return ""
}

// duplicates reports users, services and sudoers files defined twice, and
// files or directories that are also written as a unit or a sudoers file.
func (v *validator) duplicates(s *Spec, paths map[string]string) {
	users := map[string]string{}
	for i, u := range s.Users {
		p := indexPath("users", i)
		if first, ok := users[u.Name]; ok && u.Name != "" {
			v.errorf(p+".name", "user %q is already defined by %s", u.Name, first)
		}
		users[u.Name] = p
	}
	services := map[string]string{}
	for i, svc := range s.Services {
		p := indexPath("services", i)
		if svc.Name == "" {
			continue
		}
		if first, ok := services[svc.Name]; ok {
			v.errorf(p+".name", "service %q is already defined by %s", svc.Name, first)
		} else if other, ok := paths[svc.UnitPath()]; ok {
			v.errorf(other+".path", "%s is the unit of %s; manage it there", svc.UnitPath(), p)
		}
		services[svc.Name] = p
	}
	sudoers := map[string]string{}
	add := func(name, p string) {
		if name == "" {
			return
		}
		if first, ok := sudoers[name]; ok {
			v.errorf(p, "sudoers file %q is also written by %s", name, first)
			return
		}
		sudoers[name] = p
		if other, ok := paths[path.Join(SudoersDir, name)]; ok {
			v.errorf(other+".path", "%s is the sudoers file of %s; manage it there", path.Join(SudoersDir, name), p)
		}
	}
	for i, f := range s.Sudoers {
		add(f.Name, indexPath("sudoers", i)+".name")
	}
	for i, svc := range s.Services {
		if svc.Sudo != nil {
			add(svc.Sudo.File, indexPath("services", i)+".sudo.file")
		}
	}
}

func (v *validator) dropins(s *Spec) {
	seen := map[string]string{}
	for i, d := range s.Dropins {
		p := indexPath("dropins", i)
		v.presence(p, d.State)
		if v.required(p+".unit", d.Unit) && (!isUnitName(d.Unit) || len(d.Unit) > maxUnitNameLen) {
			v.errorf(p+".unit", "%q is not a unit name such as redis-server.service", d.Unit)
		}
		if v.required(p+".name", d.Name) {
			switch {
			case strings.HasSuffix(d.Name, ".conf"):
				v.errorf(p+".name", "must be given without .conf: %q", strings.TrimSuffix(d.Name, ".conf"))
			case !isDropinName(d.Name) || len(d.Name) > maxSudoersNameLen:
				v.errorf(p+".name", "%q must contain only letters, digits, _, . and -, and not start with . or -", d.Name)
			}
		}
		if first, ok := seen[d.Path()]; ok && d.Unit != "" && d.Name != "" {
			v.errorf(p+".name", "%s is also written by %s", d.Path(), first)
		}
		seen[d.Path()] = p
		if d.State == Absent {
			continue
		}
		switch {
		case d.Content != "" && len(d.Options) > 0:
			v.keyErrorf(p+".content", "give either options or content, not both")
		case d.Content != "":
			v.verbatimUnit(p+".content", d.Content, false)
		case len(d.Options) == 0:
			v.errorf(p, "needs options or content")
		}
		for j, o := range d.Options {
			op := indexPath(p+".options", j)
			if v.required(op+".section", o.Section) && !knownSection(o.Section) && !isUnitKey(o.Section) {
				v.errorf(op+".section", "%q is not a unit section such as Service", o.Section)
			}
			if v.required(op+".name", o.Name) && !isUnitKey(o.Name) {
				v.errorf(op+".name", "%q is not a unit option name such as LimitNOFILE", o.Name)
			}
			v.lineValue(op+".value", o.Name, o.Value, false)
			if o.Section == sectionService && strings.HasPrefix(o.Name, "Exec") && o.Value != "" {
				v.execLine(op+".value", o.Name, o.Value, false)
			}
		}
	}
}
