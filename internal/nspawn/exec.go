package nspawn

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/provision-dev/provision/internal/rootfs"
)

// nsenterCommand returns a command that runs args in all namespaces of the
// process initPID, in a clean environment. It runs in its own process
// group, which is killed when ctx is done: nsenter forks to enter the PID
// namespace, so killing nsenter alone would leave the command running.
func nsenterCommand(ctx context.Context, initPID int, args ...string) *exec.Cmd {
	full := []string{"-t", strconv.Itoa(initPID), "-a", "--",
		"env", "-i", "PATH=" + searchPath, "HOME=/root", "LANG=C.UTF-8"}
	cmd := exec.CommandContext(ctx, "nsenter", append(full, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A command that leaves a background process holding its output
	// must not block Wait forever.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Command returns a command that runs args as root inside the container,
// with nsenter, in a clean environment (PATH, HOME=/root, LANG=C.UTF-8).
// The caller sets Stdin, Stdout and Stderr as with any exec.Cmd. The
// command is killed when ctx is done. When the container is not running,
// the command's Start returns ErrNotBooted.
func (c *Container) Command(ctx context.Context, args ...string) *exec.Cmd {
	pid := c.InitPID()
	cmd := nsenterCommand(ctx, pid, args...)
	if pid == 0 {
		cmd.Err = fmt.Errorf("run %q in %s: %w", args, c.name, ErrNotBooted)
	}
	return cmd
}

// CommandAs is Command running args as user, through runuser inside the
// container.
func (c *Container) CommandAs(ctx context.Context, user string, args ...string) *exec.Cmd {
	return c.Command(ctx, append([]string{"runuser", "-u", user, "--"}, args...)...)
}

// ExecError is the error of a command that ran in a container and failed.
// It unwraps to the *exec.ExitError, and its message includes the end of
// the command's standard error.
type ExecError struct {
	Container string
	Args      []string
	Stderr    []byte
	Err       error
}

func (e *ExecError) Error() string {
	msg := fmt.Sprintf("run %q in %s: %v", e.Args, e.Container, e.Err)
	if s := strings.TrimSpace(string(e.Stderr)); s != "" {
		if len(s) > 2000 {
			s = "..." + s[len(s)-2000:]
		}
		msg += ": " + s
	}
	return msg
}

func (e *ExecError) Unwrap() error { return e.Err }

// Exec runs args as root inside the container (see Command) and returns
// its standard output and standard error. When the command exits non-zero,
// err is an *ExecError wrapping the *exec.ExitError, so
// errors.As(err, new(*exec.ExitError)) gives the exit code.
func (c *Container) Exec(ctx context.Context, args ...string) (stdout, stderr []byte, err error) {
	return c.run(c.Command(ctx, args...), args)
}

// ExecAs is Exec running args as user, through runuser inside the
// container.
func (c *Container) ExecAs(ctx context.Context, user string, args ...string) (stdout, stderr []byte, err error) {
	return c.run(c.CommandAs(ctx, user, args...), append([]string{"runuser", "-u", user, "--"}, args...))
}

func (c *Container) run(cmd *exec.Cmd, args []string) ([]byte, []byte, error) {
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	if err := cmd.Run(); err != nil {
		if cmd.Err != nil {
			return nil, nil, err
		}
		return out.Bytes(), errOut.Bytes(), &ExecError{Container: c.name, Args: args, Stderr: errOut.Bytes(), Err: err}
	}
	return out.Bytes(), errOut.Bytes(), nil
}

// tmpfsDirs are the container's own in-memory mounts, which the overlay on
// the host does not show.
var tmpfsDirs = []string{"/tmp", "/run", "/dev", "/proc", "/sys"}

// CopyIn copies the host file hostPath to ctrPath in the container, with
// mode and owned by root, creating missing parent directories (0755). See
// WriteFile.
func (c *Container) CopyIn(hostPath, ctrPath string, mode os.FileMode) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", c.name, err)
	}
	return c.WriteFile(ctrPath, data, mode)
}

// WriteFile writes data to the file ctrPath in the container, with mode and
// owned by root, creating missing parent directories (0755). ctrPath must
// be absolute. The file is written through the overlay on the host, with
// symbolic links resolved inside the container's root, so the container
// need not be running; under the container's own mounts (/tmp, /run, /dev)
// it is streamed in with nsenter, which needs a running container.
func (c *Container) WriteFile(ctrPath string, data []byte, mode os.FileMode) error {
	if !path.IsAbs(ctrPath) {
		return fmt.Errorf("write %s in %s: path is not absolute", ctrPath, c.name)
	}
	hostPath, inRoot, err := rootfs.Resolve(c.Root(), path.Clean(ctrPath))
	if err != nil {
		return fmt.Errorf("write %s in %s: %w", ctrPath, c.name, err)
	}
	if isUnder(inRoot, tmpfsDirs) {
		return c.streamFile(inRoot, data, mode)
	}
	if err := writeFileAtomic(hostPath, data, mode); err != nil {
		return fmt.Errorf("write %s in %s: %w", ctrPath, c.name, err)
	}
	return nil
}

// streamFile writes a file inside the running container with a shell.
func (c *Container) streamFile(ctrPath string, data []byte, mode os.FileMode) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const script = `set -e; mkdir -p "$(dirname "$1")"; f="$1.tmp.$$"; (umask 077; cat > "$f"); chmod "$2" "$f"; mv -f "$f" "$1"`
	cmd := c.Command(ctx, "sh", "-c", script, "sh", ctrPath, fmt.Sprintf("%o", mode.Perm()))
	cmd.Stdin = bytes.NewReader(data)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("write %s in %s: %w: %s", ctrPath, c.name, err, bytes.TrimSpace(out))
	}
	return nil
}

// writeFileAtomic writes data to p through a temporary file renamed into
// place. The temporary file is written by a child process (dd), never
// opened for writing by this one: a child that this process forks for
// another container while the file is open would inherit the descriptor
// until it execs, and an executable still open for writing anywhere
// cannot be run ("Text file busy", golang/go#22315).
func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(p), fmt.Sprintf(".%s.tmp%d-%d", filepath.Base(p), os.Getpid(), tmpSeq.Add(1)))
	cmd := exec.Command("dd", "of="+tmp, "conv=excl", "status=none")
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		err = fmt.Errorf("dd: %w: %s", err, bytes.TrimSpace(out))
	}
	if err == nil {
		err = os.Chmod(tmp, mode.Perm())
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// tmpSeq makes writeFileAtomic's temporary names unique in this process.
var tmpSeq atomic.Int64

// isUnder reports whether the clean absolute path p is one of dirs or
// below one of them.
func isUnder(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}
