package steps

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Crash points let the end-to-end tests kill provision between any two
// changes it makes to a host, to show that every such state is safe and
// that the next run repairs it. They are off unless one of these variables
// is set in provision's environment when it starts:
//
//	PROVISION_CRASH_AT=N    SIGKILL the process at the Nth crash point
//	PROVISION_CRASH_AT_NAME=PREFIX
//	                        SIGKILL it at the first crash point whose
//	                        name starts with PREFIX ("daemon-reload")
//	PROVISION_CRASH_LIST=1  print "provision: crash point N: NAME" to
//	                        standard error at each crash point passed
//
// A crash point sits at every boundary between two changes: after each
// stage of writeFileAtomic, after mkdir and chown/chmod, after a removal,
// and before and after every helper command (useradd, visudo, ...).
var crash = crashSettings(os.Getenv("PROVISION_CRASH_AT"), os.Getenv("PROVISION_CRASH_LIST"))

func init() {
	if name := os.Getenv("PROVISION_CRASH_AT_NAME"); name != "" {
		crash.atName, crash.on = name, true
	}
}

type crashConfig struct {
	on bool  // either variable is set
	at int64 // the point to die at, or 0
	// atName starts the name of the point to die at, or is "".
	atName string
	list   bool
	n      atomic.Int64 // points passed so far
}

func crashSettings(at, list string) *crashConfig {
	c := &crashConfig{list: list != "" && list != "0"}
	if n, err := strconv.ParseInt(at, 10, 64); err == nil && n > 0 {
		c.at = n
	}
	c.on = c.list || c.at > 0
	return c
}

// crashPoint marks a boundary between two changes to the host: op on
// target has just reached stage ("write /etc/x: renamed into place"). It
// costs one branch unless crash points were switched on (see crash).
func crashPoint(op, target, stage string) {
	if !crash.on {
		return
	}
	crash.pass(op + " " + target + ": " + stage)
}

func (c *crashConfig) pass(name string) {
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
