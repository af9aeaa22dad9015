package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"provision/dbusctl"
	"provision/spec"
	"provision/steps"
)

// Exit codes.
const (
	exitOK      = 0 // success; for plan, whether or not changes are pending
	exitFailed  = 1 // a step failed, or the host could not be reached
	exitInvalid = 2 // bad usage or an invalid spec; nothing was changed
)

const usage = `Usage: provision COMMAND [flags]

Converge this host to a YAML spec (default ` + spec.DefaultPath + `).

Commands:
  apply     make the host match the spec; print what changed
  plan      print what apply would change, with diffs; change nothing
  validate  check the spec alone; touch nothing on the host
  render    print the unit and sudoers files the spec generates
  version   print the version

Run "provision COMMAND -h" for a command's flags.

Exit codes: 0 success, 1 a step failed (or systemd was unreachable),
2 usage error or invalid spec (nothing changed).
`

// run is provision's whole command line: main only wires the process to it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitInvalid
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "provision %s\n", version)
		return exitOK
	case "apply", "plan", "validate", "render":
	default:
		fmt.Fprintf(stderr, "provision: unknown command %q\n\n%s", cmd, usage)
		return exitInvalid
	}

	fs := flag.NewFlagSet("provision "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", spec.DefaultPath, "spec `file`; - reads standard input")
	var root string
	var jobTimeout time.Duration
	if cmd == "apply" || cmd == "plan" {
		fs.StringVar(&root, "root", "", "converge the tree at `dir` (an image, a chroot) instead of the running system; no D-Bus, nothing is started")
		fs.DurationVar(&jobTimeout, "job-timeout", 90*time.Second, "how long to wait for a systemd start, stop or restart")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: provision %s [flags]\n\n%s\n\nFlags:\n", cmd, commandHelp[cmd])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitInvalid
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "provision %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return exitInvalid
	}

	sp, err := loadSpec(*file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return exitInvalid
	}
	switch cmd {
	case "validate":
		fmt.Fprintf(stdout, "%s: valid\n", displayName(*file))
		return exitOK
	case "render":
		return render(sp, stdout)
	}
	mode := steps.ModeApply
	if cmd == "plan" {
		mode = steps.ModeCheck
	}
	return converge(ctx, sp, mode, root, jobTimeout, stdout, stderr)
}

var commandHelp = map[string]string{
	"apply":    "Make the host match the spec. Every step checks what differs and changes only\nthat; a second run changes nothing.",
	"plan":     "Print what apply would change, with unified diffs of files. Changes nothing.",
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

func converge(ctx context.Context, sp *spec.Spec, mode steps.Mode, root string, jobTimeout time.Duration, stdout, stderr io.Writer) int {
	verb := "apply"
	if mode == steps.ModeCheck {
		verb = "plan"
	}
	var h *steps.Host
	if root != "" {
		h = steps.NewHost(root, nil)
		h.Offline = true
		h.Systemd = steps.Offline{Host: h}
	} else {
		if os.Geteuid() != 0 {
			fmt.Fprintf(stderr, "provision %s: must run as root (or use --root DIR on a tree you own)\n", verb)
			return exitFailed
		}
		conn, err := dbusctl.Connect(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "provision %s: %v\n", verb, err)
			return exitFailed
		}
		defer conn.Close()
		conn.JobTimeout = jobTimeout
		h = steps.NewHost("/", conn)
	}
	start := time.Now()
	out := &textReport{w: stdout, plan: mode == steps.ModeCheck}
	results, _ := steps.Run(ctx, h, steps.Build(sp), mode, out.step)
	out.recap(results, time.Since(start))
	if steps.Counts(results)[steps.StatusFailed] > 0 {
		return exitFailed
	}
	return exitOK
}

// textReport prints one line per step, its changes indented below it.
type textReport struct {
	w    io.Writer
	plan bool
}

func (t *textReport) label(s steps.Status) string {
	if t.plan && s == steps.StatusChanged {
		return "change"
	}
	return string(s)
}

func (t *textReport) step(r steps.Result) {
	line := fmt.Sprintf("%-8s %s", t.label(r.Status), r.ID)
	if r.Err != nil {
		line += ": " + indentRest(r.Err.Error(), "         ")
	}
	fmt.Fprintln(t.w, line)
	for _, c := range r.Changes {
		fmt.Fprintf(t.w, "         %s\n", c.Summary)
		if c.Diff != "" {
			fmt.Fprintf(t.w, "%s\n", indent(c.Diff, "           "))
		}
	}
}

func (t *textReport) recap(results []steps.Result, d time.Duration) {
	n := steps.Counts(results)
	if t.plan {
		fmt.Fprintf(t.w, "plan: %d to change, %d ok, %d failed, %d skipped\n",
			n[steps.StatusChanged], n[steps.StatusOK], n[steps.StatusFailed], n[steps.StatusSkipped])
		return
	}
	fmt.Fprintf(t.w, "apply: %d ok, %d changed, %d failed, %d skipped in %s\n",
		n[steps.StatusOK], n[steps.StatusChanged], n[steps.StatusFailed], n[steps.StatusSkipped], d.Round(time.Millisecond))
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}

func indentRest(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}
