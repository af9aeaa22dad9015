package dbusctl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/provision-dev/provision/internal/distro"
)

// Op names the job a JobError is about, as systemctl's verb for it.
type Op string

// The jobs Conn waits for.
const (
	OpStart      Op = "start"
	OpStop       Op = "stop"
	OpRestart    Op = "restart"
	OpTryRestart Op = "try-restart"
)

// JobResult is how systemd says a job ended, as sent in its JobRemoved
// signal. Results this package has no constant for are kept verbatim.
type JobResult string

// The job results systemd documents.
const (
	// ResultDone means the job did what it was asked.
	ResultDone JobResult = "done"
	// ResultFailed means the job failed, e.g. the service's process
	// exited with an error while starting.
	ResultFailed JobResult = "failed"
	// ResultTimeout means systemd's own timeout for the job ran out, or
	// that dbusctl stopped waiting (JobError.Waited is then set).
	ResultTimeout JobResult = "timeout"
	// ResultCanceled means the job was canceled before it finished, e.g.
	// replaced by a conflicting job.
	ResultCanceled JobResult = "canceled"
	// ResultDependency means a job this one depended on failed.
	ResultDependency JobResult = "dependency"
	// ResultSkipped means the job did not apply to the unit's state.
	ResultSkipped JobResult = "skipped"
)

// Sentinels for job results other than done; a *JobError matches the one
// for its Result with errors.Is. Results without a constant match
// ErrJobFailed.
var (
	// ErrJobFailed matches ResultFailed and results without a constant.
	ErrJobFailed = errors.New("job failed")
	// ErrJobTimeout matches ResultTimeout, whether systemd's timeout or
	// JobTimeout ran out.
	ErrJobTimeout = errors.New("job timed out")
	// ErrJobCanceled matches ResultCanceled.
	ErrJobCanceled = errors.New("job canceled")
	// ErrJobDependency matches ResultDependency.
	ErrJobDependency = errors.New("job dependency failed")
	// ErrJobSkipped matches ResultSkipped.
	ErrJobSkipped = errors.New("job skipped")
)

// Err returns the sentinel error for r, or nil when r is ResultDone.
func (r JobResult) Err() error {
	switch r {
	case ResultDone:
		return nil
	case ResultTimeout:
		return ErrJobTimeout
	case ResultCanceled:
		return ErrJobCanceled
	case ResultDependency:
		return ErrJobDependency
	case ResultSkipped:
		return ErrJobSkipped
	default:
		return ErrJobFailed
	}
}

// describe says in words what happened to a job with result r.
func (r JobResult) describe() string {
	switch r {
	case ResultFailed:
		return "job failed"
	case ResultTimeout:
		return "job timed out"
	case ResultCanceled:
		return "job canceled"
	case ResultDependency:
		return "job failed because a unit it depends on failed"
	case ResultSkipped:
		return "job skipped: it does not apply to the unit's state"
	default:
		return "job result " + strconv.Quote(string(r))
	}
}

// JobError reports a job that did not end with ResultDone, or whose result
// did not come in time. It matches Result.Err() with errors.Is.
type JobError struct {
	// Unit is the unit the job was for.
	Unit string
	// Op is the job.
	Op Op
	// Result is systemd's result for the job.
	Result JobResult
	// Waited is set when dbusctl gave up waiting after that long, with
	// Result ResultTimeout; the job is then still queued in systemd.
	Waited time.Duration
	// Unstable is set when the job was done but the unit did not stay
	// up: it failed or restarted within the window Watch watched it for,
	// which Error then tells.
	Unstable string
	// Journal holds the unit's last journal lines, oldest first, when they
	// could be read; Error appends them to the message.
	Journal []string
}

// Error says which job failed and how, followed by the unit's last journal
// lines, each on its own indented line.
func (e *JobError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Op, e.Unit)
	switch {
	case e.Waited > 0:
		fmt.Fprintf(&b, "no job result after %s (the job stays queued)", e.Waited)
	case e.Unstable != "":
		b.WriteString("done, but the unit did not stay up: " + e.Unstable)
	default:
		b.WriteString(e.Result.describe())
	}
	if len(e.Journal) > 0 {
		b.WriteString("\nlast journal lines:")
		for _, l := range e.Journal {
			b.WriteString("\n    ")
			b.WriteString(l)
		}
	}
	return b.String()
}

// Unwrap returns the sentinel for e.Result.
func (e *JobError) Unwrap() error { return e.Result.Err() }

// journalLines is how many journal lines a JobError carries at most.
const journalLines = 20

// journalTimeout bounds reading the journal for a JobError.
const journalTimeout = 5 * time.Second

// Start starts unit and waits until systemd reports the job's result. It
// returns nil when the job is done and a *JobError otherwise, carrying the
// unit's last journal lines. For a Type=simple or Type=idle service, whose
// start job systemd reports done as soon as it has forked the process,
// Start then watches the unit until its main process has executed
// ExecStart= (see settleTimeout): a binary that cannot be executed, or a
// process that exits at once, is a failed start (Result ResultFailed),
// not a success. The wait is bounded by ctx and by c.JobTimeout.
func (c *Conn) Start(ctx context.Context, unit string) error {
	return c.runJob(ctx, OpStart, unit, c.sd.StartUnitContext)
}

// Stop stops unit and waits for the job's result like Start.
func (c *Conn) Stop(ctx context.Context, unit string) error {
	return c.runJob(ctx, OpStop, unit, c.sd.StopUnitContext)
}

// Restart stops unit if it is running, starts it, and waits for the job's
// result like Start. A unit that was not running is started.
func (c *Conn) Restart(ctx context.Context, unit string) error {
	return c.runJob(ctx, OpRestart, unit, c.sd.RestartUnitContext)
}

// TryRestart restarts unit if it is running and waits for the job's result
// like Start. A unit that is not running is left alone and TryRestart
// returns nil.
func (c *Conn) TryRestart(ctx context.Context, unit string) error {
	return c.runJob(ctx, OpTryRestart, unit, c.sd.TryRestartUnitContext)
}

// StartNoWait queues a job to start unit and returns as soon as systemd has
// accepted it, without waiting for the result. It is for starts that must
// not block, e.g. from a unit that runs during boot while the unit being
// started is ordered after it. Until systemd runs the job, the unit's
// UnitState.Job is "start".
func (c *Conn) StartNoWait(ctx context.Context, unit string) error {
	return c.queueJob(ctx, OpStart, unit, c.sd.StartUnitContext)
}

// RestartNoWait queues a job to restart unit (or start it when it is not
// running) and returns as soon as systemd has accepted it, like
// StartNoWait. A restart job, like a start job, waits for the jobs of the
// units the unit is ordered after.
func (c *Conn) RestartNoWait(ctx context.Context, unit string) error {
	return c.queueJob(ctx, OpRestart, unit, c.sd.RestartUnitContext)
}

// queueJob queues a job with enqueue and does not wait for its result.
func (c *Conn) queueJob(ctx context.Context, op Op, unit string, enqueue enqueueFunc) error {
	callCtx, explain, cancel := c.bounded(ctx, "queue the job")
	defer cancel()
	_, err := enqueue(callCtx, unit, string(modeReplace), nil)
	if err = explain(err); err != nil {
		return fmt.Errorf("%s %s: %w", op, unit, busError(err))
	}
	return nil
}

// jobMode is how systemd fits a new job with those already queued.
type jobMode string

// modeReplace replaces conflicting queued jobs, as systemctl does by default.
const modeReplace jobMode = "replace"

// enqueueFunc is the shape of go-systemd's job methods.
type enqueueFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// runJob queues a job with enqueue and waits for its result.
func (c *Conn) runJob(ctx context.Context, op Op, unit string, enqueue enqueueFunc) error {
	timeout := c.JobTimeout
	if timeout <= 0 {
		timeout = DefaultJobTimeout
	}
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// go-systemd sends the result from its signal dispatcher while holding
	// its job lock; one slot of buffer lets that send complete even after
	// this function stopped waiting.
	results := make(chan string, 1)
	callCtx, explain, cancelCall := c.bounded(waitCtx, "queue the job")
	_, err := enqueue(callCtx, unit, string(modeReplace), results)
	err = explain(err)
	cancelCall()
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, unit, busError(err))
	}
	jerr, err := waitJob(ctx, waitCtx, results, op, unit, timeout)
	if err == nil && jerr == nil && (op == OpStart || op == OpRestart) {
		jerr = c.settle(ctx, op, unit)
	}
	if jerr != nil {
		jerr.Journal = journalTail(ctx, unit)
		return jerr
	}
	return err
}

// Watch watches unit for window after a start or restart that systemd
// reported done, and returns a *JobError for op (Result ResultFailed,
// Unstable saying what happened, with the unit's last journal lines) when
// the unit fails, leaves the active state, or is restarted by systemd
// (NRestarts rises: Restart=on-failure looping) before the window ends;
// nil when it stayed up. A unit that crashes a second after it started is
// a failed start, not a change.
func (c *Conn) Watch(ctx context.Context, op Op, unit string, window time.Duration) error {
	first, err := c.State(ctx, unit)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(window)
	for {
		st, err := c.State(ctx, unit)
		if err != nil {
			return err
		}
		var why string
		switch {
		case st.NRestarts > first.NRestarts:
			why = fmt.Sprintf("systemd restarted it %d times within %s (Restart=)", st.NRestarts-first.NRestarts, window)
		case st.ActiveState == "failed":
			why = fmt.Sprintf("it failed within %s", window)
		case st.SubState == "auto-restart":
			why = fmt.Sprintf("it exited within %s and waits to be restarted", window)
		case st.ActiveState != "active" && st.ActiveState != "reloading":
			why = fmt.Sprintf("it went %s within %s", st.ActiveState, window)
		}
		if why != "" {
			return &JobError{Unit: unit, Op: op, Result: ResultFailed, Unstable: why, Journal: journalTail(ctx, unit)}
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s: watch: %w", op, unit, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settleTimeout bounds how long Start and Restart watch a Type=simple or
// Type=idle service after systemd reported its job done.
var settleTimeout = 2 * time.Second

// settle makes the result of starting a Type=simple or Type=idle service
// mean something. systemd reports such a start job done as soon as it has
// forked the service's process, before that process executed ExecStart=:
// a missing or unexecutable binary shows up only afterwards, as a failed
// unit. settle watches the unit until its main process has executed its
// binary (systemd names the forked child "(NAME)" until then), and returns
// a failed *JobError when the unit fails or enters auto-restart first. It
// gives up quietly after settleTimeout, and on any error reading the unit:
// the job itself was done.
func (c *Conn) settle(ctx context.Context, op Op, unit string) *JobError {
	if !strings.HasSuffix(unit, ".service") {
		return nil
	}
	// The watch is bounded as a whole, since its calls are.
	ctx, cancel := context.WithTimeout(ctx, settleTimeout+c.CallTimeout)
	defer cancel()
	typ, err := c.sd.GetUnitTypePropertyContext(ctx, unit, "Service", "Type")
	if err != nil {
		return nil
	}
	if t, _ := typ.Value.Value().(string); t != "simple" && t != "idle" {
		return nil
	}
	deadline := time.Now().Add(settleTimeout)
	for {
		st, err := c.State(ctx, unit)
		if err != nil {
			return nil
		}
		switch {
		case st.ActiveState == "failed" || st.SubState == "auto-restart" || st.ActiveState == "inactive":
			return &JobError{Unit: unit, Op: op, Result: ResultFailed}
		case st.MainPID != 0 && executed(st.MainPID):
			return nil
		case time.Now().After(deadline) || ctx.Err() != nil:
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// executed reports whether process pid has executed its own binary: until
// then, a process systemd forked for a service is named "(NAME)".
func executed(pid uint32) bool {
	comm, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/comm")
	if err != nil {
		return false
	}
	return !bytes.HasPrefix(comm, []byte("("))
}

// waitJob waits for a job's result on results until waitCtx is done. It
// returns a *JobError for any result but done and when waitCtx ran out while
// ctx did not; when ctx is done it returns ctx's error, wrapped.
func waitJob(ctx, waitCtx context.Context, results <-chan string, op Op, unit string, timeout time.Duration) (*JobError, error) {
	select {
	case r := <-results:
		res := JobResult(r)
		if res == ResultDone {
			return nil, nil
		}
		return &JobError{Unit: unit, Op: op, Result: res}, nil
	case <-waitCtx.Done():
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s %s: wait for job: %w", op, unit, err)
		}
		return &JobError{Unit: unit, Op: op, Result: ResultTimeout, Waited: timeout}, nil
	}
}

// journalTail returns the last journal lines of unit, or a single line
// saying why they could not be read.
//
// It asks journald to store what it was sent first (journalctl --sync):
// the line that says why a service failed ("Failed to locate executable
// ...") comes from the service's own process and can reach journald
// after systemd's report of the failed job, which would otherwise be
// read without it on a busy host.
func journalTail(ctx context.Context, unit string) []string {
	ctx, cancel := context.WithTimeout(ctx, journalTimeout)
	defer cancel()
	_ = exec.CommandContext(ctx, distro.Journalctl, "--sync").Run()
	cmd := exec.CommandContext(ctx, distro.Journalctl, "-u", unit, "-n", strconv.Itoa(journalLines), "--no-pager", "-o", "cat")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return []string{"(could not read the journal: " + msg + ")"}
	}
	text := strings.TrimRight(string(out), "\n")
	if text == "" || text == "-- No entries --" {
		return nil
	}
	return strings.Split(text, "\n")
}
