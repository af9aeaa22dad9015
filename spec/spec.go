// Package spec is provision's configuration model: the YAML spec, its
// validation and the files rendered from it. It never reads or changes the
// host (internal/hostcheck holds the checks that read it).
//
// Load parses and validates a spec and fills in defaults; a *Spec returned
// by Load is valid. RenderUnit and RenderSudoers turn it into the exact bytes
// provision writes.
package spec

import (
	"fmt"
	"path"
	"strconv"
)

// DefaultPath is where provision looks for its spec when -f is not given.
const DefaultPath = "/etc/provision.yaml"

// Where generated files go on the host.
const (
	UnitDir    = "/etc/systemd/system"
	SudoersDir = "/etc/sudoers.d"
)

// Defaults filled in by Load for fields the spec leaves empty.
const (
	DefaultShell       = "/bin/bash"         // User.Shell of a regular user
	DefaultSystemShell = "/usr/sbin/nologin" // User.Shell of a system user
	DefaultHomeParent  = "/home"             // User.Home of a regular user is /home/NAME
	DefaultOwner       = "root"              // Directory and File Owner and Group
	DefaultDirMode     = Mode(0o755)         // Directory.Mode
	DefaultFileMode    = Mode(0o644)         // File.Mode
	DefaultWantedBy    = "multi-user.target" // Service.WantedBy of a structured unit
	// DefaultSudoFileSuffix makes ServiceSudo.File default to NAME-users.
	DefaultSudoFileSuffix = "-users"
)

// Spec is a validated provision spec. Its zero value is an empty spec that
// manages nothing.
type Spec struct {
	Users       []User      `yaml:"users"`
	Directories []Directory `yaml:"directories"`
	Files       []File      `yaml:"files"`
	Services    []Service   `yaml:"services"`
	Sudoers     []Sudoers   `yaml:"sudoers"`
	Dropins     []Dropin    `yaml:"dropins"`

	// warnings are the positioned warnings Load found.
	warnings []*Error
	// locate positions a logical path in the document Load read; nil for
	// a Spec built in code.
	locate func(pathError) *Error
}

// User is a local account. Group is its primary group, created if missing
// (default: the user's name); Groups, when not nil, are exactly its
// supplementary groups, which must exist or be created by another user
// entry's primary group (nil leaves them alone).
//
// Home and Shell, when empty, are left as the existing account has them;
// a new account gets /home/NAME (a system user: no home) and /bin/bash
// (a system user: /usr/sbin/nologin). AuthorizedKeys, when not nil, is the
// whole of ~/.ssh/authorized_keys: an empty list leaves no key; nil leaves
// the file alone.
type User struct {
	Name           string   `yaml:"name"`
	Group          string   `yaml:"group"`
	Groups         []string `yaml:"groups"`
	Home           string   `yaml:"home"`
	Shell          string   `yaml:"shell"`
	System         bool     `yaml:"system"`
	AuthorizedKeys []string `yaml:"authorized_keys"`
	// State absent removes the account (userdel), keeping its home
	// unless RemoveHome.
	State      Presence `yaml:"state"`
	RemoveHome bool     `yaml:"remove_home"`
}

// Directory is a directory with its owner, group and mode. Parents are not
// created implicitly unless listed. Owner and Group default to root, Mode to
// 0755. A directory may carry the setgid and sticky bits (02775, 01777), not
// the setuid bit.
type Directory struct {
	Path  string `yaml:"path"`
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
	Mode  Mode   `yaml:"mode"`
	// State absent removes the directory when it is empty.
	State Presence `yaml:"state"`
}

// File is a regular file. When Content is nil, the file is created empty if
// absent and its content is never changed (for files another tool fills,
// such as an application's .env); owner, group and mode are still managed.
// Owner and Group default to root, Mode to 0644; a file's mode has no
// setuid, setgid or sticky bit.
type File struct {
	Path    string  `yaml:"path"`
	Owner   string  `yaml:"owner"`
	Group   string  `yaml:"group"`
	Mode    Mode    `yaml:"mode"`
	Content *string `yaml:"content" spec:"text"`
	// State absent removes the file.
	State Presence `yaml:"state"`
}

// Service is a systemd service unit written to /etc/systemd/system/NAME.service.
// Either Unit (verbatim text) or the structured fields describe it.
//
// Name is the unit name without its ".service" suffix. Structured values are
// written as given, so systemd specifiers such as %n and %i expand in them,
// except Environment values, which are data: RenderUnit quotes and escapes
// them so that systemd reads back exactly the given string. WantedBy
// defaults to [multi-user.target] for a structured unit; Enabled defaults to
// true.
type Service struct {
	Name             string            `yaml:"name"`
	Description      string            `yaml:"description"`
	After            []string          `yaml:"after"`
	Wants            []string          `yaml:"wants"`
	Type             string            `yaml:"type"`
	WorkingDirectory string            `yaml:"working_directory"`
	User             string            `yaml:"user"`
	Group            string            `yaml:"group"`
	Environment      map[string]string `yaml:"environment"`
	EnvironmentFile  string            `yaml:"environment_file"`
	ExecStart        string            `yaml:"exec_start"`
	Restart          string            `yaml:"restart"`
	RestartSec       string            `yaml:"restart_sec"`
	SyslogIdentifier string            `yaml:"syslog_identifier"`
	WantedBy         []string          `yaml:"wanted_by"`
	Options          []UnitOption      `yaml:"options"`
	Unit             string            `yaml:"unit" spec:"text"`

	// Instances, when set, makes the unit a template, NAME@.service, of
	// which the instances NAME@1.service to NAME@N.service are enabled and
	// run: several workers from one unit (%i in the unit is the instance
	// number). Changing it enables and starts, or stops and disables, the
	// difference. 0 (the default) writes a plain NAME.service.
	Instances int `yaml:"instances"`
	// Enabled is whether the unit is enabled at boot (default true). Load
	// always leaves it non-nil.
	Enabled *bool `yaml:"enabled"`
	// State is the runtime state to converge to.
	State State `yaml:"state"`
	// Sudo, when set, generates a sudoers drop-in for the service.
	Sudo *ServiceSudo `yaml:"sudo"`
	// PrivilegedExec allows Exec*= command lines starting with "+", "!"
	// or "!!", which systemd runs as root whatever User= says.
	PrivilegedExec bool `yaml:"privileged_exec"`
	// AllowDropins lets drop-ins that the spec does not write
	// (NAME.service.d/*.conf, from systemctl edit or a package) change
	// the service; without it they are drift, and apply fails on them.
	AllowDropins bool `yaml:"allow_dropins"`
}

// UnitName is the name of the service's unit file, such as
// "sidekiq.service", or "sidekiq@.service" for a template (Instances > 0).
func (s Service) UnitName() string {
	if s.Instances > 0 {
		return s.Name + "@.service"
	}
	return s.Name + ".service"
}

// Units are the units the service runs: UnitName, or for a template the
// instances "sidekiq@1.service" to "sidekiq@N.service".
func (s Service) Units() []string {
	if s.Instances == 0 {
		return []string{s.UnitName()}
	}
	units := make([]string, s.Instances)
	for i := range units {
		units[i] = s.Instance(i + 1)
	}
	return units
}

// Instance names instance i of a template service, such as
// "sidekiq@2.service".
func (s Service) Instance(i int) string {
	return s.Name + "@" + strconv.Itoa(i) + ".service"
}

// UnitPath is where the service's unit file is written, such as
// "/etc/systemd/system/sidekiq.service".
func (s Service) UnitPath() string { return path.Join(UnitDir, s.UnitName()) }

// IsEnabled reports whether the unit is to be enabled at boot: Enabled, or
// true when Enabled is nil.
func (s Service) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// UnitOption is one free-form "[Section] Name=Value" line of a unit.
type UnitOption struct {
	Section string `yaml:"section"`
	Name    string `yaml:"name"`
	Value   string `yaml:"value"`
}

// State is the runtime state of a service.
type State string

// The states a service can be asked to be in.
const (
	StateUnmanaged State = ""        // leave it as it is
	StateStarted   State = "started" // running; restarted when its unit changed
	StateStopped   State = "stopped"
	// StateAbsent retires the service: stopped, disabled, its unit file
	// (and the drop-in of its sudo:) removed.
	StateAbsent State = "absent"
)

// Presence says whether a file, directory, drop-in or account is to
// exist.
type Presence string

// The presences.
const (
	Present Presence = ""       // exists (the default; "present" too)
	Absent  Presence = "absent" // removed
)

// Absent reports whether the service is to be retired.
func (s Service) Absent() bool { return s.State == StateAbsent }

// Dropin is a drop-in for a unit, /etc/systemd/system/UNIT.d/NAME.conf,
// root:root 0644: for a unit provision does not own (Debian's
// redis-server.service) or for a managed service. Options (as a
// service's) or Content (verbatim) give its text. A running unit whose
// drop-in changed is restarted, unless Restart is false.
type Dropin struct {
	Unit    string       `yaml:"unit"`
	Name    string       `yaml:"name"`
	Options []UnitOption `yaml:"options"`
	Content string       `yaml:"content" spec:"text"`
	State   Presence     `yaml:"state"`
	Restart *bool        `yaml:"restart"`
}

// Path is where the drop-in is, such as
// "/etc/systemd/system/redis-server.service.d/provision.conf".
func (d Dropin) Path() string { return path.Join(UnitDir, d.Unit+".d", d.Name+".conf") }

// Restarts reports whether a running unit is restarted when the drop-in
// changed: Restart, or true when it is nil.
func (d Dropin) Restarts() bool { return d.Restart == nil || *d.Restart }

// ServiceSudo is the shorthand for a sudoers drop-in that lets a user or a
// group run a fixed set of systemctl verbs on the service without a password.
// Exactly one of User and Group is set. Allow lists verbs among start, stop,
// restart, status, reload and quiet (systemctl kill -s TSTP, which tells
// Sidekiq to stop fetching jobs); For names a deploy tool whose commands
// the drop-in allows as the tool spells them (PresetCapistranoSidekiq).
// Allow and For combine.
type ServiceSudo struct {
	// File is the drop-in's name under /etc/sudoers.d (default NAME-users).
	File  string   `yaml:"file"`
	User  string   `yaml:"user"`
	Group string   `yaml:"group"`
	Allow []string `yaml:"allow"`
	For   string   `yaml:"for"`
}

// PresetCapistranoSidekiq is the capistrano-sidekiq plugin, releases 2.3
// and 3.x in system mode: the For of a ServiceSudo.
const PresetCapistranoSidekiq = "capistrano-sidekiq"

// The verbs a ServiceSudo may allow.
const (
	VerbStart   = "start"
	VerbStop    = "stop"
	VerbRestart = "restart"
	VerbStatus  = "status"
	VerbReload  = "reload"
	VerbQuiet   = "quiet"
)

// Sudoers is a drop-in file /etc/sudoers.d/NAME.
type Sudoers struct {
	Name  string        `yaml:"name"`
	Rules []SudoersRule `yaml:"rules"`
	// State absent removes the drop-in, and puts it back if sudo's
	// configuration is invalid without it.
	State Presence `yaml:"state"`
	// IfOwn, for the drop-in of a retired service's sudo shorthand that
	// the spec does not name, removes it only when provision wrote it.
	IfOwn bool `yaml:"-"`
}

// Path is where the drop-in is written, such as "/etc/sudoers.d/sidekiq-users".
func (s Sudoers) Path() string { return path.Join(SudoersDir, s.Name) }

// SudoersRule renders as "WHO ALL=(RUNAS) NOPASSWD: CMD" for each command.
// NoPasswd has no default: it is false unless the spec sets it.
type SudoersRule struct {
	// Who is a user name or %group.
	Who string `yaml:"who"`
	// RunAs is the user the commands run as; empty means root.
	RunAs    string `yaml:"run_as"`
	NoPasswd bool   `yaml:"nopasswd"`
	// Commands are absolute paths to a binary followed by its arguments,
	// separated by spaces. sudo then allows exactly these arguments; a
	// command given without arguments is allowed only without arguments.
	Commands []string `yaml:"commands"`
	// Unchecked allows programs provision does not know to be safe as
	// root (see JudgeProgram); Load warns about each on every run.
	Unchecked bool `yaml:"unchecked"`
	// Exec lets the commands run other programs. Without it they run
	// with sudo's NOEXEC tag, which keeps a program from executing
	// another (a shell escape) on the systems that support it.
	Exec bool `yaml:"exec"`
}

// Mode is a file permission mode, written in YAML as an octal string
// ("0640"). The digits are always octal, whether quoted or not and with or
// without the leading 0: 0640, "0640", 640 and 0o640 are the same mode.
type Mode uint32

// String formats the mode as four octal digits, such as "0640".
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalYAML writes the mode as a quoted octal string.
func (m Mode) MarshalYAML() (any, error) { return m.String(), nil }

// ParseMode parses an octal mode of three or four digits, optionally
// prefixed with "0o" ("640", "0640", "0o640", "2775"). It accepts at most
// 07777 and rejects 0000, which Load reads as "not set".
func ParseMode(s string) (Mode, error) {
	digits := s
	if len(digits) > 2 && (digits[:2] == "0o" || digits[:2] == "0O") {
		digits = digits[2:]
	}
	if len(digits) < 3 || len(digits) > 4 {
		return 0, fmt.Errorf("must be an octal mode such as \"0644\", got %q", s)
	}
	for _, c := range digits {
		if c < '0' || c > '7' {
			return 0, fmt.Errorf("must be an octal mode such as \"0644\", got %q", s)
		}
	}
	v, err := strconv.ParseUint(digits, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("must be an octal mode such as \"0644\", got %q", s)
	}
	if v == 0 {
		return 0, fmt.Errorf("must not be 0000")
	}
	return Mode(v), nil
}

// DefinesUser reports whether the spec creates the user name.
func (s *Spec) DefinesUser(name string) bool {
	for _, u := range s.Users {
		if u.Name == name {
			return true
		}
	}
	return false
}

// DefinesGroup reports whether the spec creates the group name, as the
// primary group of one of its users.
func (s *Spec) DefinesGroup(name string) bool {
	for _, u := range s.Users {
		g := u.Group
		if g == "" {
			g = u.Name
		}
		if g == name {
			return true
		}
	}
	return false
}
