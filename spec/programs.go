package spec

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// A sudoers rule runs its program as root, so provision judges the
// program, not its name: internal/hostcheck resolves the path given
// through its symbolic links (/usr/bin/editor -> /etc/alternatives/editor
// -> /usr/bin/vim.basic) and judges the binary it ends at with
// JudgeProgram; Load judges the name given the same way.
//
// The model is an allow-list. A program that provision knows to be safe
// with the arguments given is allowed (SafePrograms); one that is known
// to run other programs or to read or write any file (ProgramClasses) is
// refused whatever the rule says; any other program is refused unless the
// rule says unchecked: true, which is then warned about on every run.

// SafePrograms are the programs a sudoers rule may run without unchecked:
// their arguments are checked (systemctl's verb and options), and none of
// them runs a program or writes a file the caller names. systemctl,
// systemd-cgls and journalctl page their output only in systemd's secure
// pager mode under sudo (no shell escape), and only on a terminal.
var SafePrograms = []string{"systemctl", "systemd-cgls", "journalctl"}

// ProgramClass is a kind of program that gives whoever may run it as
// root a way to do anything as root.
type ProgramClass struct {
	// Why says what the programs do, as in "runs NAME, WHY".
	Why   string
	Names []string
	// Prefixes catch versioned names: python3.11, perl5.36, vim.basic.
	Prefixes []string
}

// ProgramClasses are the programs refused in any sudoers rule. The lists
// cannot name every such program; they need not, since an unknown program
// is refused too unless the rule says unchecked: true. They are what
// unchecked cannot allow.
var ProgramClasses = []ProgramClass{
	{Why: "a shell", Names: []string{"sh", "bash", "rbash", "dash", "zsh", "rzsh", "ksh", "ksh93", "rksh", "mksh", "csh", "tcsh", "fish", "ash", "yash", "posh", "busybox", "elvish", "nu", "xonsh"}},
	{Why: "an editor, which can open a shell or write any file", Names: []string{"ed", "red", "ex", "vi", "view", "rview", "vim", "rvim", "vimdiff", "nvim", "nano", "rnano", "pico", "emacs", "jed", "joe", "jstar", "mcedit", "editor", "sensible-editor", "sudoedit", "vipw", "vigr", "crontab"}, Prefixes: []string{"vim.", "emacs", "nano."}},
	{Why: "a pager, which can open a shell", Names: []string{"less", "more", "most", "pg", "pager", "sensible-pager", "man", "info", "pinfo"}},
	{Why: "an interpreter, which runs any program", Names: []string{"perl", "ruby", "irb", "php", "node", "nodejs", "lua", "luajit", "tclsh", "wish", "expect", "awk", "gawk", "mawk", "nawk", "sed", "bc", "dc", "R", "Rscript", "julia", "guile", "java", "jshell", "erl", "ghci", "gdb", "gdb-multiarch", "lldb", "make", "cmake", "ninja", "m4", "psql", "mysql", "sqlite3", "redis-cli", "rake", "bundle", "gem", "pip", "pip3", "npm", "npx", "yarn", "cargo", "go", "git"}, Prefixes: []string{"python", "pypy", "perl5", "ruby", "php", "lua5", "tclsh", "wish", "guile"}},
	{Why: "a debugger or tracer, which runs or takes over any program", Names: []string{"strace", "ltrace", "valgrind", "perf", "bpftrace", "gdbserver", "ptrace"}},
	{Why: "a tool that runs another program, with other namespaces, privileges or limits", Names: []string{"env", "su", "sudo", "doas", "pkexec", "runuser", "setpriv", "setsid", "chroot", "unshare", "nsenter", "capsh", "newgrp", "sg", "nohup", "nice", "ionice", "taskset", "chrt", "prlimit", "timeout", "stdbuf", "time", "xargs", "find", "flock", "watch", "parallel", "start-stop-daemon", "run-parts", "systemd-run", "systemd-nspawn", "machinectl", "busctl", "dbus-send", "gdbus", "ssh", "scp", "sftp", "rsync", "socat", "nc", "ncat", "netcat", "openssl", "at", "batch", "screen", "tmux", "dtach", "script", "scriptreplay", "ttyrec", "asciinema", "xterm"}},
	{Why: "a tool that copies, writes or changes any file", Names: []string{"cp", "mv", "dd", "tee", "install", "ln", "rm", "shred", "truncate", "touch", "mkdir", "chmod", "chown", "chgrp", "chattr", "setfacl", "tar", "cpio", "zip", "unzip", "7z", "patch", "split", "csplit", "cat", "tac", "head", "tail", "od", "xxd", "base64", "base32", "uuencode", "nl", "cut", "sort", "uniq", "join", "paste", "strings", "curl", "wget", "mount", "umount", "losetup", "debugfs"}},
	{Why: "an account or privilege tool", Names: []string{"visudo", "sudoreplay", "passwd", "chpasswd", "chsh", "chfn", "usermod", "useradd", "userdel", "adduser", "deluser", "groupadd", "groupmod", "gpasswd", "addgroup", "modprobe", "insmod", "rmmod", "sysctl", "kexec", "update-alternatives"}},
	{Why: "a package manager, which runs the scripts of any package", Names: []string{"apt", "apt-get", "aptitude", "dpkg", "snap", "flatpak", "rpm", "yum", "dnf", "zypper", "pacman", "apk", "nix", "nix-env", "brew"}},
}

// ProgramVerdict is what provision says of a program a sudoers rule runs.
type ProgramVerdict int

// The verdicts.
const (
	// ProgramUnknown is neither safe nor known to be dangerous: allowed
	// only with unchecked: true.
	ProgramUnknown ProgramVerdict = iota
	// ProgramSafe is one of SafePrograms.
	ProgramSafe
	// ProgramDangerous is in ProgramClasses: never allowed.
	ProgramDangerous
)

// JudgeProgram says whether a program (a path or a file name) is safe,
// dangerous (and why: the class's Why), or unknown to provision.
func JudgeProgram(program string) (ProgramVerdict, string) {
	base := path.Base(program)
	for _, c := range ProgramClasses {
		if slices.Contains(c.Names, base) || slices.ContainsFunc(c.Prefixes, func(p string) bool { return strings.HasPrefix(base, p) }) {
			return ProgramDangerous, c.Why
		}
	}
	if slices.Contains(SafePrograms, base) {
		return ProgramSafe, ""
	}
	return ProgramUnknown, ""
}

// UnknownProgram says why a program provision does not know is refused.
func UnknownProgram(program string) string {
	return fmt.Sprintf("runs %s, which provision does not know to be safe as root (it knows %s); if you have checked that it runs no other program and writes no file its caller names, set unchecked: true on the rule (provision then warns about it on every run)",
		program, strings.Join(SafePrograms, ", "))
}

// DangerousProgram says why a program is refused.
func DangerousProgram(program, why string) string {
	return fmt.Sprintf("runs %s, %s: whoever may run it as root can do anything as root; allow a specific program instead", program, why)
}
