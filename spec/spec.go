// Package spec is provision's configuration model: the YAML spec, its
// validation and the files rendered from it. It never touches the host.
package spec

// DefaultPath is where provision looks for its spec when -f is not given.
const DefaultPath = "/etc/provision.yaml"

// Spec is a validated provision spec. Its zero value is an empty spec that
// manages nothing.
type Spec struct {
	Users       []User      `yaml:"users"`
	Directories []Directory `yaml:"directories"`
	Files       []File      `yaml:"files"`
	Services    []Service   `yaml:"services"`
	Sudoers     []Sudoers   `yaml:"sudoers"`
}

// User is a local account. Group is its primary group, created if missing
// (default: the user's name); Groups are supplementary groups, which must
// exist or be created by another user entry's primary group.
type User struct {
	Name           string   `yaml:"name"`
	Group          string   `yaml:"group"`
	Groups         []string `yaml:"groups"`
	Home           string   `yaml:"home"`
	Shell          string   `yaml:"shell"`
	System         bool     `yaml:"system"`
	AuthorizedKeys []string `yaml:"authorized_keys"`
}

// Directory is a directory with its owner, group and mode. Parents are not
// created implicitly unless listed.
type Directory struct {
	Path  string `yaml:"path"`
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
	Mode  Mode   `yaml:"mode"`
}

// File is a regular file. When Content is nil, the file is created empty if
// absent and its content is never changed (for files another tool fills,
// such as an application's .env); owner, group and mode are still managed.
type File struct {
	Path    string  `yaml:"path"`
	Owner   string  `yaml:"owner"`
	Group   string  `yaml:"group"`
	Mode    Mode    `yaml:"mode"`
	Content *string `yaml:"content"`
}

// Service is a systemd service unit written to /etc/systemd/system/NAME.service.
// Either Unit (verbatim text) or the structured fields describe it.
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
	Unit             string            `yaml:"unit"`

	// Enabled is whether the unit is enabled at boot (default true).
	Enabled *bool `yaml:"enabled"`
	// State is the runtime state to converge to.
	State State `yaml:"state"`
	// Sudo, when set, generates a sudoers drop-in for the service.
	Sudo *ServiceSudo `yaml:"sudo"`
}

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
)

// ServiceSudo is the shorthand for a sudoers drop-in that lets a user or a
// group run a fixed set of systemctl verbs on the service without a password.
type ServiceSudo struct {
	// File is the drop-in's name under /etc/sudoers.d (default NAME-users).
	File  string   `yaml:"file"`
	User  string   `yaml:"user"`
	Group string   `yaml:"group"`
	Allow []string `yaml:"allow"`
}

// Sudoers is a drop-in file /etc/sudoers.d/NAME.
type Sudoers struct {
	Name  string        `yaml:"name"`
	Rules []SudoersRule `yaml:"rules"`
}

// SudoersRule renders as "WHO ALL=(RUNAS) NOPASSWD: CMD" for each command.
type SudoersRule struct {
	// Who is a user name or %group.
	Who      string   `yaml:"who"`
	RunAs    string   `yaml:"run_as"`
	NoPasswd bool     `yaml:"nopasswd"`
	Commands []string `yaml:"commands"`
}

// Mode is a file permission mode, written in YAML as an octal string ("0640").
type Mode uint32
