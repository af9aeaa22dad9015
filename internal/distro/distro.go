// Package distro names every helper program provision runs, in one place,
// so that a host where one lives elsewhere (or a test) can point it there.
// A name without a slash is looked up in the fixed PATH that provision
// gives its helpers (see Path).
package distro

// Path is the PATH helpers are looked up in and run with, whatever the
// PATH provision itself was started with.
const Path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// The helper programs.
var (
	// Groupadd, Useradd, Usermod and Userdel are shadow-utils' account
	// tools.
	Groupadd = "groupadd"
	Useradd  = "useradd"
	Usermod  = "usermod"
	Userdel  = "userdel"
	// Visudo checks sudo's configuration (visudo -c, visudo -cf FILE).
	Visudo = "visudo"
	// Sudo is asked what its configuration allows (sudo -l -U USER ...).
	Sudo = "sudo"
	// Journalctl reads a failed unit's last journal lines.
	Journalctl = "journalctl"
)
