package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/provision-dev/provision/dbusctl"
	"github.com/provision-dev/provision/internal/online"
	"github.com/provision-dev/provision/internal/rootfs"
	"github.com/provision-dev/provision/spec"
	"github.com/provision-dev/provision/steps"
)

// Exit codes.
const (
	exitOK      = 0 // success; for plan, whether or not changes are pending
	exitFailed  = 1 // a step failed, or the host could not be reached
	exitInvalid = 2 // bad usage or an invalid spec; nothing was changed
	exitDrift   = 3 // verify: the host differs from the spec
)

const usage = `Usage: provision COMMAND [flags]

Converge this host to a YAML spec (default ` + spec.DefaultPath + `).

Commands:
  apply     make the host match the spec; print what changed
  plan      print what apply would change, with diffs; change nothing
  verify    exit 0 if the host matches the spec, 3 and the drift if not
  validate  check the spec alone; touch nothing on the host
  render    print the unit and sudoers files the spec generates
  sudo-check  say of command lines whether a user may run them with sudo
  schema    print the JSON Schema of the spec, for editors
  version   print the version
  help      print this, or a command's help (provision help COMMAND)

Run "provision COMMAND -h" for a command's flags.

Exit codes: 0 success, 1 a step failed (or systemd was unreachable),
2 usage error or invalid spec (nothing changed), 3 verify found drift.
`

// run is provision's whole command line: main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitInvalid
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "help":
		return help(args, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "provision %s\n", version)
		return exitOK
	case "schema":
		return printSchema(args, stdout, stderr)
	case "sudo-check":
		return sudoCheck(ctx, args, stdin, stdout, stderr)
	case "apply", "plan", "verify", "validate", "render":
	default:
		fmt.Fprintf(stderr, "provision: unknown command %q\n\n%s", cmd, usage)
		return exitInvalid
	}

	fs, opt := newFlagSet(cmd, stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitInvalid
	}
	file, root, output := &opt.file, opt.root, opt.output
	lockTimeout := opt.lockTimeout
	converges := cmd == "apply" || cmd == "plan" || cmd == "verify"
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provision %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return exitInvalid
	}
	if output != "" && output != "text" && output != "json" {
		fmt.Fprintf(stderr, "provision %s: -output must be text or json, not %q\n", cmd, output)
		return exitInvalid
	}
	tf := newTextfile(opt.textfile)
	defer func() { code = tf.finish(code, stderr) }()

	var sd *dialing
	if converges && root == "" && os.Geteuid() == 0 {
		sd = dial(ctx, opt.dbusTimeout)
		defer sd.drop()
	}

	if converges && *file != "-" && os.Geteuid() == 0 {
		// Whoever can change the spec of a root run is root.
		// (A spec that cannot be read at all is loadSpec's to report.)
		var untrusted *rootfs.UntrustedError
		if err := rootfs.CheckTrusted(*file, os.Getuid()); errors.As(err, &untrusted) {
			fmt.Fprintf(stderr, "provision %s: refusing the spec: %v; only root may be able to change it (chown root and chmod go-w each of them, or pass the spec on standard input with -f -)\n", cmd, err)
			return exitInvalid
		}
	}
	sp, err := loadSpec(*file, stdin)
	if err != nil {
		if output == "json" {
			writeJSON(stdout, specErrorsJSON(cmd, err))
		} else {
			fmt.Fprintf(stderr, "%v\n", err)
		}
		return exitInvalid
	}
	warnings, hostErrs := hostChecks(sp, cmd, root)
	if len(hostErrs) > 0 {
		// The spec cannot be applied to this host: as invalid as a spec
		// with errors, and nothing is changed.
		err := errors.Join(asErrors(hostErrs)...)
		if output == "json" {
			writeJSON(stdout, specErrorsJSON(cmd, err))
		} else {
			printWarnings(stderr, warnings)
			fmt.Fprintf(stderr, "%v\n", err)
		}
		return exitInvalid
	}
	if output != "json" {
		printWarnings(stderr, warnings)
	}
	switch cmd {
	case "validate":
		fmt.Fprintf(stdout, "%s: valid\n", displayName(*file))
		return exitOK
	case "render":
		return render(sp, stdout)
	}
	if root == "" && os.Geteuid() != 0 {
		fmt.Fprintf(stderr, "provision %s: must run as root (or use --root DIR on a tree you own)\n", cmd)
		return exitFailed
	}
	release, err := lockHost(ctx, root, lockTimeout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "provision %s: %v\n", cmd, err)
		return exitFailed
	}
	defer release()
	return converge(ctx, sp, cmd, sd, root, timeouts{job: opt.jobTimeout, dbus: opt.dbusTimeout, settle: opt.settle}, tf.wrap(newReporter(output, cmd, stdout, warnings)), stderr)
}

var commandHelp = map[string]string{
	"apply":    "Make the host match the spec. Every step checks what differs and changes only\nthat; a second run changes nothing.",
	"plan":     "Print what apply would change, with unified diffs of files. Changes nothing.",
	"verify":   "Check the host against the spec and change nothing: exit 0 when it matches,\n3 with the list of drift when it does not. For cron and monitoring.",
	"validate": "Check the spec: every error is printed as FILE:LINE:COL: field: message.",
	"render":   "Print the unit files and sudoers drop-ins the spec generates.",
}

func displayName(file string) string {
	if file == "-" {
		return "<stdin>"
	}
	return file
}

// loadSpec reads and validates the spec at file ("-" for stdin).
func loadSpec(file string, stdin io.Reader) (*spec.Spec, error) {
	var data []byte
	var err error
	if file == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, spec.MaxSize+1))
	} else {
		data, err = readLimited(file, spec.MaxSize+1)
	}
	if err != nil {
		return nil, fmt.Errorf("provision: read spec: %w", err)
	}
	return spec.Load(displayName(file), data)
}

func readLimited(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

func render(sp *spec.Spec, stdout io.Writer) int {
	for _, svc := range sp.Services {
		fmt.Fprintf(stdout, "# %s\n%s\n", svc.UnitPath(), spec.RenderUnit(svc))
	}
	for _, s := range sp.SudoersFiles() {
		fmt.Fprintf(stdout, "# %s\n%s\n", s.Path(), spec.RenderSudoers(s))
	}
	return exitOK
}

// converge runs the spec's steps: cmd "apply" changes the host, "plan"
// and "verify" only check it. Online (root "") it runs over the
// connection sd.
// timeouts bound the waits on systemd: a job's result, and the answer to
// each call.
type timeouts struct {
	job, dbus time.Duration
	// settle is Host.Settle.
	settle time.Duration
}

func converge(ctx context.Context, sp *spec.Spec, cmd string, sd *dialing, root string, limits timeouts, out reporter, stderr io.Writer) int {
	mode := steps.ModeApply
	if cmd != "apply" {
		mode = steps.ModeCheck
	}
	var h *steps.Host
	if root != "" {
		h = steps.NewHost(root, nil)
	} else {
		// The steps start while the connection is still being made:
		// they only check until it is there (see steps.Run).
		systemd := online.NewDialing(func() (*dbusctl.Conn, error) {
			conn, err := sd.take()
			if err != nil {
				return nil, err
			}
			if limits.job > 0 {
				conn.JobTimeout = limits.job
			}
			conn.CallTimeout = limits.dbus
			return conn, nil
		})
		defer systemd.Close()
		h = steps.NewHost("/", systemd)
		h.Connected = systemd.Connected
		h.Settle = limits.settle
	}
	start := time.Now()
	results, err := steps.Run(ctx, h, steps.Build(sp), mode, out.step)
	if results == nil && err != nil {
		// systemd could not be reached: nothing was changed.
		fmt.Fprintf(stderr, "provision %s: %v\n", cmd, err)
		if errors.Is(err, dbusctl.ErrNoSystemd) {
			fmt.Fprintf(stderr, "provision %s: to converge a tree that is not running (an image, a chroot), use --root DIR\n", cmd)
		}
		return exitFailed
	}
	n := steps.Counts(results)
	exit := exitOK
	switch {
	case n[steps.StatusFailed] > 0 || ctx.Err() != nil:
		exit = exitFailed
	case cmd == "verify" && n[steps.StatusChanged] > 0:
		exit = exitDrift
	}
	out.recap(results, time.Since(start), exit)
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "provision %s: interrupted; the next run picks up where this one stopped\n", cmd)
	}
	return exit
}
