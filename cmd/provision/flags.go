package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/spec"
)

// commandFlags are the values of the flags of the commands that read a
// spec: apply, plan, verify, validate and render. A flag a command does
// not take keeps its zero value.
type commandFlags struct {
	file        string
	root        string
	output      string
	textfile    string
	jobTimeout  time.Duration
	lockTimeout time.Duration
	dbusTimeout time.Duration
	settle      time.Duration
}

// specCommands are the commands that read a spec, in the order the usage
// lists them.
var specCommands = []string{"apply", "plan", "verify", "validate", "render"}

// newFlagSet returns the flag set of cmd, one of specCommands, bound to a
// new commandFlags; on -h it writes the command's help (commandHelp and
// the flags) to w. It is the one definition of the flags: parsing, -h,
// the manual page and the shell completion are all made from it.
func newFlagSet(cmd string, w io.Writer) (*flag.FlagSet, *commandFlags) {
	f := &commandFlags{}
	fs := flag.NewFlagSet("provision "+cmd, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.StringVar(&f.file, "f", spec.DefaultPath, "spec `file`; - reads standard input")
	if cmd == "apply" || cmd == "plan" || cmd == "verify" {
		fs.StringVar(&f.root, "root", "", "work on the tree at `dir` (an image, a chroot) instead of the running system; no D-Bus, nothing is started")
		fs.StringVar(&f.output, "output", "text", "output `format`: text or json")
		fs.DurationVar(&f.lockTimeout, "lock-timeout", 60*time.Second, "how long to wait for another run on the same host to finish")
		fs.DurationVar(&f.dbusTimeout, "dbus-timeout", dbusctl.DefaultCallTimeout, "how long to wait for systemd to answer each call, connecting included")
	}
	if cmd == "apply" {
		fs.DurationVar(&f.jobTimeout, "job-timeout", 90*time.Second, "how long to wait for a systemd start, stop or restart")
		fs.DurationVar(&f.settle, "settle", 3*time.Second, "how long to watch a service with Restart= after a start or restart, failing it if it does not stay up (0: do not watch; never while booting)")
	}
	if cmd == "verify" {
		fs.StringVar(&f.textfile, "textfile", "", "also write the result to `path` in the text format of node_exporter's textfile collector, atomically (a temporary file in the same directory, renamed)")
	}
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: provision %s [flags]\n\n%s\n\nFlags:\n", cmd, commandHelp[cmd])
		fs.PrintDefaults()
	}
	return fs, f
}
