//go:build crashpoints

package crash

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Enabled reports whether this binary has crash points.
const Enabled = true

// In a crashpoints build, these variables of provision's environment
// switch the points on:
//
//	PROVISION_CRASH_AT=N    SIGKILL the process at the Nth crash point
//	PROVISION_CRASH_AT_NAME=PREFIX
//	                        SIGKILL it at the first crash point whose
//	                        name starts with PREFIX ("daemon-reload")
//	PROVISION_CRASH_LIST=1  print "provision: crash point N: NAME" to
//	                        standard error at each crash point passed
var settings = load(os.Getenv("PROVISION_CRASH_AT"), os.Getenv("PROVISION_CRASH_AT_NAME"), os.Getenv("PROVISION_CRASH_LIST"))

type config struct {
	at int64 // the point to die at, or 0
	// atName starts the name of the point to die at, or is "".
	atName string
	list   bool
	n      atomic.Int64 // points passed so far
}

func load(at, atName, list string) *config {
	c := &config{atName: atName, list: list != "" && list != "0"}
	if n, err := strconv.ParseInt(at, 10, 64); err == nil && n > 0 {
		c.at = n
	}
	return c
}

// Point marks a boundary between two changes to the host: op on target
// has just reached stage ("write /etc/x: renamed into place").
func Point(op, target, stage string) {
	settings.pass(op + " " + target + ": " + stage)
}

func (c *config) pass(name string) {
	n := c.n.Add(1)
	if c.list {
		fmt.Fprintf(os.Stderr, "provision: crash point %d: %s\n", n, name)
	}
	if n == c.at || c.atName != "" && strings.HasPrefix(name, c.atName) {
		why := fmt.Sprintf("PROVISION_CRASH_AT=%d", n)
		if n != c.at {
			why = "PROVISION_CRASH_AT_NAME=" + c.atName
		}
		fmt.Fprintf(os.Stderr, "provision: crash point %d: %s: killed (%s)\n", n, name, why)
		unix.Kill(unix.Getpid(), unix.SIGKILL)
		select {} // the signal is delivered before the kill returns; never go on
	}
}

// Armed reports whether a crash point is to kill the process, or the
// points are listed: a run then passes them in one order, every time.
func Armed() bool { return settings.at > 0 || settings.atName != "" || settings.list }
