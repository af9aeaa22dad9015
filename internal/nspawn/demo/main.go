// Command demo shows provision's whole job on a throwaway host: it boots a
// container with a real systemd (internal/nspawn), with Debian's Redis
// running, installs the provision binary, the demo spec and its Sidekiq
// app (examples/demo), and then, printing every command and its output:
//
//  1. provision plan, then provision apply: the deploy user, the app's
//     directory, sidekiq.service (Debian's /usr/bin/sidekiq, Type=notify)
//     started, and the sudoers drop-in;
//  2. a job enqueued and processed by the worker;
//  3. as the deploy user, through sudo, what a Capistrano deploy does:
//     systemctl kill -s TSTP sidekiq (Sidekiq's own journal line shows it
//     stopped fetching work), then systemctl restart sidekiq (a new
//     MainPID), and a job processed by the new worker;
//  4. sudo systemctl stop sidekiq, which the rules deny;
//  5. provision apply again, which changes nothing.
//
// Each step checks its outcome; the demo stops at the first that fails and
// exits 1. The container is torn down at the end, also on Ctrl-C. It must
// run as root, with systemd-container, sudo, redis-server and ruby-sidekiq
// installed on the host (`make demo` installs them).
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
	"path/filepath"
	"regexp"
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

// Paths inside the container.
const (
	specPath = "/etc/provision.yaml"
	appPath  = "/srv/sidekiq-demo/app.rb"
	unit     = "sidekiq"
)

// waitTimeout bounds each wait for a line in the journal.
const waitTimeout = 20 * time.Second

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("bin", "bin/provision", "static provision `binary` to install in the container")
	dir := fs.String("dir", "examples/demo", "`directory` of the demo's provision.yaml and app.rb")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "demo: must run as root: it boots a systemd container")
		return 2
	}
	for _, p := range []string{"/usr/bin/sidekiq", "/usr/bin/redis-server"} {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(stderr, "demo: %s is missing on the host: apt-get install ruby-sidekiq redis-server (make demo does)\n", p)
			return 2
		}
	}
	if err := nspawn.RemoveStale(); err != nil {
		fmt.Fprintln(stderr, "demo: warning:", err)
	}

	start := time.Now()
	c, err := nspawn.New(ctx, nspawn.Options{Name: "demo", Unmask: []string{"redis-server.service"}})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	d := &demo{ctx: ctx, c: c, w: stdout}
	d.say("booted a throwaway systemd container in %v", time.Since(start).Round(time.Millisecond))
	defer func() {
		start := time.Now()
		if err := c.Close(); err != nil {
			fmt.Fprintln(stderr, "demo:", err)
			return
		}
		d.say("tore the container down in %v", time.Since(start).Round(time.Millisecond))
	}()

	err = d.script(*bin, *dir)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintln(stderr, "demo: interrupted")
		return 130
	case err != nil:
		fmt.Fprintln(stderr, "demo: FAILED:", err)
		return 1
	}
	d.say("the whole scenario ran in %v", time.Since(start).Round(time.Millisecond))
	return 0
}

// demo runs and prints commands in the demo's container.
type demo struct {
	ctx context.Context
	c   *nspawn.Container
	w   io.Writer
}

// say prints a line of narration.
func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.w, "\n### "+format+"\n", args...)
}

// sh runs args in the container, as root when user is "" and as user
// otherwise, prints the command and its output, and returns the output and
// the exit code. err is set only when the command could not run at all.
func (d *demo) sh(user string, args ...string) (string, int, error) {
	prompt, cmd := "root# ", d.c.Command(d.ctx, args...)
	if user != "" {
		prompt, cmd = user+"$ ", d.c.CommandAs(d.ctx, user, args...)
	}
	fmt.Fprintf(d.w, "%s%s\n", prompt, strings.Join(args, " "))
	out, err := cmd.CombinedOutput()
	d.w.Write(out)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0, nil
	case errors.As(err, &exit):
		fmt.Fprintf(d.w, "(exit status %d)\n", exit.ExitCode())
		return string(out), exit.ExitCode(), nil
	default:
		return string(out), -1, fmt.Errorf("run %q: %w", args, err)
	}
}

// ok is sh for a command that must succeed.
func (d *demo) ok(user string, args ...string) (string, error) {
	out, code, err := d.sh(user, args...)
	if err == nil && code != 0 {
		err = fmt.Errorf("%q exited %d", args, code)
	}
	return out, err
}

// quiet runs args as root without printing them, for the demo's checks.
func (d *demo) quiet(args ...string) (string, error) {
	out, _, err := d.c.Exec(d.ctx, args...)
	return string(out), err
}

// mainPID returns the unit's main process, or an error when it has none.
func (d *demo) mainPID() (string, error) {
	out, err := d.quiet("systemctl", "show", "-P", "MainPID", unit)
	pid := strings.TrimSpace(out)
	if err == nil && (pid == "" || pid == "0") {
		err = fmt.Errorf("%s has no main process", unit)
	}
	return pid, err
}

// waitJournal waits until a line of the unit's journal matches re, and
// prints that line: the worker's own, as it logged it.
func (d *demo) waitJournal(re *regexp.Regexp) (string, error) {
	deadline := time.Now().Add(waitTimeout)
	for {
		out, err := d.quiet("journalctl", "-u", unit, "-o", "cat", "--no-pager", "-q")
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(out, "\n") {
			if re.MatchString(line) {
				fmt.Fprintf(d.w, "journal: %s\n", line)
				return line, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no line of %s's journal matched %q within %v; the last lines:\n%s", unit, re, waitTimeout, tail(out, 15))
		}
		select {
		case <-d.ctx.Done():
			return "", d.ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// job enqueues a HelloJob as the deploy user and waits until the worker
// whose PID is pid logs that it processed it.
func (d *demo) job(message, pid string) error {
	if _, err := d.ok("deploy", "ruby", appPath, message); err != nil {
		return err
	}
	_, err := d.waitJournal(regexp.MustCompile(`HelloJob "` + regexp.QuoteMeta(message) + `" done by pid ` + pid + `$`))
	return err
}

var recapRE = regexp.MustCompile(`(?m)^apply: \d+ ok, (\d+) changed, 0 failed`)

func (d *demo) script(bin, dir string) error {
	for _, f := range []struct {
		src, dst string
		mode     os.FileMode
	}{
		{bin, "/usr/local/bin/provision", 0o755},
		{filepath.Join(dir, "provision.yaml"), specPath, 0o600},
		{filepath.Join(dir, "app.rb"), appPath, 0o644},
	} {
		if err := d.c.CopyIn(f.src, f.dst, f.mode); err != nil {
			return err
		}
	}
	d.say("installed %s as /usr/local/bin/provision, %s/provision.yaml as %s and the app %s/app.rb as %s", bin, dir, specPath, dir, appPath)

	d.say("Redis (Debian's redis-server) runs; Sidekiq is Debian's ruby-sidekiq")
	if _, err := d.ok("", "redis-cli", "ping"); err != nil {
		return err
	}
	if _, err := d.ok("", "sidekiq", "--version"); err != nil {
		return err
	}

	d.say("what apply would change")
	if _, err := d.ok("", "provision", "plan"); err != nil {
		return err
	}
	d.say("make it so")
	out, err := d.ok("", "provision", "apply")
	if err != nil {
		return err
	}
	if m := recapRE.FindStringSubmatch(out); m == nil || m[1] == "0" {
		return errors.New("the first apply changed nothing")
	}
	if _, err := d.ok("", "systemctl", "status", "--no-pager", "--lines=0", unit); err != nil {
		return err
	}
	pid, err := d.mainPID()
	if err != nil {
		return err
	}

	d.say("a job, processed by the worker (pid %s)", pid)
	if err := d.job("before the deploy", pid); err != nil {
		return err
	}

	d.say("a deploy starts: the deploy user quiets Sidekiq through sudo")
	if _, err := d.ok("deploy", "sudo", "-n", "systemctl", "kill", "-s", "TSTP", unit); err != nil {
		return err
	}
	if _, err := d.waitJournal(regexp.MustCompile(`Received TSTP, no longer accepting new work`)); err != nil {
		return err
	}

	d.say("the deploy ends: the deploy user restarts Sidekiq (Type=notify: restart returns once Sidekiq is ready)")
	if _, err := d.ok("deploy", "sudo", "-n", "systemctl", "restart", unit); err != nil {
		return err
	}
	if _, err := d.ok("", "systemctl", "show", "-p", "MainPID", "-p", "ActiveState", unit); err != nil {
		return err
	}
	newPID, err := d.mainPID()
	if err != nil {
		return err
	}
	if newPID == pid {
		return fmt.Errorf("MainPID is still %s after the restart", pid)
	}
	d.say("a job, processed by the new worker (pid %s, was %s)", newPID, pid)
	if err := d.job("after the deploy", newPID); err != nil {
		return err
	}

	d.say("anything else is denied: the deploy user may not stop Sidekiq")
	_, code, err := d.sh("deploy", "sudo", "-n", "systemctl", "stop", unit)
	if err != nil {
		return err
	}
	if code == 0 {
		return errors.New("the deploy user could stop sidekiq")
	}
	if state, err := d.quiet("systemctl", "is-active", unit); err != nil || strings.TrimSpace(state) != "active" {
		return fmt.Errorf("sidekiq is %q after the denied stop, want active (%v)", strings.TrimSpace(state), err)
	}

	d.say("apply again: nothing to change, nothing restarted")
	out, err = d.ok("", "provision", "apply")
	if err != nil {
		return err
	}
	if m := recapRE.FindStringSubmatch(out); m == nil || m[1] != "0" {
		return errors.New("the second apply changed something")
	}
	if again, err := d.mainPID(); err != nil || again != newPID {
		return fmt.Errorf("MainPID %s -> %s after the second apply (%v), want unchanged", newPID, again, err)
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
