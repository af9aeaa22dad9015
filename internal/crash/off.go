//go:build !crashpoints

package crash

// Enabled reports whether this binary has crash points.
const Enabled = false

// Point marks a boundary between two changes to the host. In this build
// it does nothing.
func Point(op, target, stage string) {}

// Armed reports whether a crash point is to kill the process. In this
// build none is.
func Armed() bool { return false }
