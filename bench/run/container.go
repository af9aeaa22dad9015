package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/provision-dev/provision/internal/nspawn"
)

// timerMarker starts the line that the timer mode adds to the standard
// error of the command it ran.
const timerMarker = "bench-timer:"

// timerMain is this program's mode inside a container: it runs args and
// reports on standard error its wall time, from just before the fork to
// just after the wait, and its peak resident set size: ru_maxrss of
// wait4, the number GNU time's %M prints. The command's standard streams
// are passed through; the command's exit code is reported, not returned.
func timerMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: bench-run timer COMMAND [ARG...]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		fmt.Fprintln(os.Stderr, "bench-run timer:", err)
		return 1
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss
	}
	fmt.Fprintf(os.Stderr, "\n%s %d %d %d\n", timerMarker, wall.Nanoseconds(), rss, cmd.ProcessState.ExitCode())
	return 0
}

// result is a command run in a container by measure.
type result struct {
	sample
	exit   int
	stdout string
	stderr string
}

// measure runs args in c under the timer.
func measure(ctx context.Context, c *nspawn.Container, args ...string) (result, error) {
	full := append([]string{ctrRunner, "timer"}, args...)
	stdout, stderr, err := c.Exec(ctx, full...)
	if err != nil {
		return result{}, err
	}
	text := string(stderr)
	i := strings.LastIndex(text, "\n"+timerMarker+" ")
	if i < 0 {
		return result{}, fmt.Errorf("run %q: no timing in its output:\n%s", args, text)
	}
	f := strings.Fields(text[i+len(timerMarker)+2:])
	if len(f) != 3 {
		return result{}, fmt.Errorf("run %q: bad timing line %q", args, text[i+1:])
	}
	wall, err1 := strconv.ParseInt(f[0], 10, 64)
	rss, err2 := strconv.ParseInt(f[1], 10, 64)
	exit, err3 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return result{}, fmt.Errorf("run %q: bad timing line: %w", args, err)
	}
	return result{
		sample: sample{wall: time.Duration(wall), rssKB: rss},
		exit:   exit,
		stdout: string(stdout),
		stderr: text[:i],
	}, nil
}

// live holds the containers not yet closed, for teardown on a signal.
var live struct {
	sync.Mutex
	set map[*nspawn.Container]bool
}

// boot boots a fresh container and installs this program in it for the
// timer.
func boot(ctx context.Context, name string) (*nspawn.Container, error) {
	c, err := nspawn.New(ctx, nspawn.Options{Name: name})
	if err != nil {
		return nil, err
	}
	live.Lock()
	if live.set == nil {
		live.set = map[*nspawn.Container]bool{}
	}
	live.set[c] = true
	live.Unlock()
	self, err := os.Executable()
	if err == nil {
		err = c.CopyIn(self, ctrRunner, 0o755)
	}
	if err != nil {
		closeContainer(c)
		return nil, fmt.Errorf("install bench-run in %s: %w", c.Name(), err)
	}
	return c, nil
}

// closeContainer tears c down, reporting a failure on standard error.
func closeContainer(c *nspawn.Container) {
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	live.Lock()
	delete(live.set, c)
	live.Unlock()
}

// closeAll tears down every container still up.
func closeAll() {
	live.Lock()
	cs := make([]*nspawn.Container, 0, len(live.set))
	for c := range live.set {
		cs = append(cs, c)
	}
	live.Unlock()
	for _, c := range cs {
		closeContainer(c)
	}
}

// loadAverage returns the host's load averages over 1, 5 and 15 minutes.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
