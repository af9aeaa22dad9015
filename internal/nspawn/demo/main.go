// Command demo shows provision converging a fresh server: it boots a
// throwaway container with a real systemd, installs the provision binary
// and a spec in it, runs `provision plan`, `provision apply` and
// `systemctl status` for the spec's service there, prints everything and
// tears the container down, also on Ctrl-C. It exits non-zero when apply
// fails. It must run as root (`make demo`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// specPath is where the spec goes in the container: provision's default.
const specPath = "/etc/provision.yaml"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin/provision", "static provision `binary` to install in the container")
	specFile := fs.String("spec", "examples/sidekiq/provision.yaml", "spec `file` to apply in the container")
	service := fs.String("service", "sidekiq", "`unit` whose status to show after apply")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "demo: must run as root: it boots a systemd container")
		return 2
	}
	if err := nspawn.RemoveStale(); err != nil {
		fmt.Fprintln(stderr, "demo: warning:", err)
	}

	start := time.Now()
	c, err := nspawn.New(ctx, nspawn.Options{Name: "demo"})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "### booted container %s in %v\n", c.Name(), time.Since(start).Round(time.Millisecond))
	defer func() {
		start := time.Now()
		if err := c.Close(); err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return
		}
		fmt.Fprintf(stdout, "### tore down %s in %v\n", c.Name(), time.Since(start).Round(time.Millisecond))
	}()

	if err := c.CopyIn(*bin, "/usr/local/bin/provision", 0o755); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	if err := c.CopyIn(*specFile, specPath, 0o644); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	fmt.Fprintf(stdout, "### installed %s as /usr/local/bin/provision and %s as %s\n", *bin, *specFile, specPath)

	steps := []struct {
		args  []string
		fatal bool // the demo fails when this command does
	}{
		{[]string{"provision", "--version"}, false},
		{[]string{"provision", "plan", "-f", specPath}, false},
		{[]string{"provision", "apply", "-f", specPath}, true},
		{[]string{"provision", "plan", "-f", specPath}, false},
		{[]string{"systemctl", "status", *service, "--no-pager"}, false},
	}
	code := 0
	for _, s := range steps {
		err := runIn(ctx, c, stdout, s.args)
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "demo: interrupted")
			return 130
		}
		if err != nil && s.fatal {
			code = 1
		}
	}
	if code != 0 {
		fmt.Fprintln(stderr, "demo: provision apply failed")
	}
	return code
}

// runIn runs args in c, streaming its output to w, and prints its exit
// status when it fails.
func runIn(ctx context.Context, c *nspawn.Container, w io.Writer, args []string) error {
	fmt.Fprintf(w, "\n### %s # $ %s\n", c.Name(), strings.Join(args, " "))
	cmd := c.Command(ctx, args...)
	cmd.Stdout = w
	cmd.Stderr = w
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		fmt.Fprintf(w, "### exit status %d\n", exit.ExitCode())
	case err != nil:
		fmt.Fprintf(w, "### %v\n", err)
	}
	return err
}
