package dbusctl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/provision-dev/provision/internal/distro"
)

func TestJobResultErr(t *testing.T) {
	tests := []struct {
		result JobResult
		want   error
	}{
		// The only success.
		{ResultDone, nil},
		{ResultFailed, ErrJobFailed},
		{ResultTimeout, ErrJobTimeout},
		{ResultCanceled, ErrJobCanceled},
		{ResultDependency, ErrJobDependency},
		{ResultSkipped, ErrJobSkipped},
		// Results systemd added later ("assert", "unsupported", ...) count
		// as failures rather than passing silently.
		{JobResult("assert"), ErrJobFailed},
		{JobResult(""), ErrJobFailed},
	}
	for _, tt := range tests {
		if got := tt.result.Err(); got != tt.want {
			t.Errorf("JobResult(%q).Err() = %v, want %v", tt.result, got, tt.want)
		}
		if tt.want == nil {
			continue
		}
		var err error = &JobError{Unit: "demo.service", Op: OpStart, Result: tt.result}
		if !errors.Is(err, tt.want) {
			t.Errorf("errors.Is(JobError{Result: %q}, %v) = false", tt.result, tt.want)
		}
		for _, other := range []error{ErrJobFailed, ErrJobTimeout, ErrJobCanceled, ErrJobDependency, ErrJobSkipped} {
			if other != tt.want && errors.Is(err, other) {
				t.Errorf("errors.Is(JobError{Result: %q}, %v) = true", tt.result, other)
			}
		}
	}
}

func TestJobErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  *JobError
		want string
	}{
		{
			// systemd's result, with the journal indented below.
			name: "failed with journal",
			err: &JobError{Unit: "demo.service", Op: OpRestart, Result: ResultFailed,
				Journal: []string{"demo.service: Failed to locate executable /nonexistent: No such file or directory", "demo.service: Failed with result 'exit-code'."}},
			want: "restart demo.service: job failed\n" +
				"last journal lines:\n" +
				"    demo.service: Failed to locate executable /nonexistent: No such file or directory\n" +
				"    demo.service: Failed with result 'exit-code'.",
		},
		{
			// No journal section when there are no lines.
			name: "dependency",
			err:  &JobError{Unit: "web.service", Op: OpStart, Result: ResultDependency},
			want: "start web.service: job failed because a unit it depends on failed",
		},
		{
			// dbusctl gave up waiting: say so, and that the job is still there.
			name: "waited",
			err:  &JobError{Unit: "slow.service", Op: OpStart, Result: ResultTimeout, Waited: 90 * time.Second},
			want: "start slow.service: no job result after 1m30s (the job stays queued)",
		},
		{
			// An unknown result is shown verbatim.
			name: "unknown result",
			err:  &JobError{Unit: "x.service", Op: OpStop, Result: "frozen"},
			want: `stop x.service: job result "frozen"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestWaitJob(t *testing.T) {
	tests := []struct {
		name       string
		send       string // result to deliver; "" delivers none
		cancel     bool   // cancel the caller's context
		wantResult JobResult
		wantWaited bool
		wantErr    error
	}{
		// done is success.
		{name: "done", send: "done"},
		// Any other result is a JobError carrying it.
		{name: "failed", send: "failed", wantResult: ResultFailed},
		{name: "skipped", send: "skipped", wantResult: ResultSkipped},
		// The caller's context ends the wait with its own error.
		{name: "caller canceled", cancel: true, wantErr: context.Canceled},
		// JobTimeout running out gives a JobError that says how long it waited.
		{name: "job timeout", wantResult: ResultTimeout, wantWaited: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waitCtx, waitCancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer waitCancel()
			results := make(chan string, 1)
			if tt.send != "" {
				results <- tt.send
			}
			if tt.cancel {
				cancel()
			}
			jerr, err := waitJob(ctx, waitCtx, results, OpStart, "demo.service", 20*time.Millisecond)
			if tt.wantErr != nil {
				if jerr != nil || !errors.Is(err, tt.wantErr) {
					t.Fatalf("waitJob = %v, %v; want error %v", jerr, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("waitJob error: %v", err)
			}
			if tt.wantResult == "" {
				if jerr != nil {
					t.Fatalf("waitJob = %v, want nil", jerr)
				}
				return
			}
			if jerr == nil || jerr.Result != tt.wantResult || (jerr.Waited > 0) != tt.wantWaited {
				t.Fatalf("waitJob = %#v, want Result %q, Waited set %v", jerr, tt.wantResult, tt.wantWaited)
			}
			if jerr.Unit != "demo.service" || jerr.Op != OpStart {
				t.Errorf("JobError names %s %s, want start demo.service", jerr.Op, jerr.Unit)
			}
		})
	}
}

// TestLateResultDoesNotBlock checks that a result arriving after the wait
// gave up can still be sent: go-systemd sends it while holding the lock all
// job calls on the connection need, so a blocked send would hang them.
func TestLateResultDoesNotBlock(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	results := make(chan string, 1)
	if _, err := waitJob(ctx, ctx, results, OpStart, "demo.service", time.Second); !errors.Is(err, context.Canceled) {
		t.Fatalf("waitJob = %v, want context.Canceled", err)
	}
	select {
	case results <- "done":
	default:
		t.Fatal("sending the late result would block")
	}
}

func TestConnectNoSystemd(t *testing.T) {
	dir := t.TempDir()
	oldSocket, oldBus := privateSocket, systemBusAddress
	t.Cleanup(func() { privateSocket, systemBusAddress = oldSocket, oldBus })
	privateSocket = filepath.Join(dir, "private")
	systemBusAddress = "unix:path=" + filepath.Join(dir, "system_bus_socket")

	c, err := Connect(context.Background())
	if err == nil {
		c.Close()
		t.Fatal("Connect succeeded without systemd")
	}
	if !errors.Is(err, ErrNoSystemd) {
		t.Fatalf("Connect error %v does not wrap ErrNoSystemd", err)
	}
	msg := err.Error()
	for _, want := range []string{"systemd is not reachable", "PID 1", "system bus", "system_bus_socket"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Connect error %q does not mention %q", msg, want)
		}
	}
	if os.Geteuid() == 0 && !strings.Contains(msg, privateSocket) {
		t.Errorf("Connect error %q does not name the private socket %s", msg, privateSocket)
	}
}

func TestConnectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := Connect(ctx)
	if err == nil {
		c.Close()
		t.Fatal("Connect succeeded with a canceled context")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Connect error %v does not wrap context.Canceled", err)
	}
}

func TestJournalTail(t *testing.T) {
	dir := t.TempDir()
	old := distro.Journalctl
	t.Cleanup(func() { distro.Journalctl = old })

	tests := []struct {
		name   string
		script string
		want   []string
	}{
		{
			// The arguments are passed as documented; each output line is one entry.
			name:   "lines",
			script: `echo "args: $*"; echo "Started demo."`,
			want:   []string{"args: -u demo.service -n 20 --no-pager -o cat", "Started demo."},
		},
		{
			// Nothing logged yet: no lines at all.
			name:   "no entries",
			script: `echo "-- No entries --"`,
		},
		{
			// A journalctl that fails is reported in place of the lines.
			name:   "failure",
			script: `echo "No journal files were found." >&2; exit 1`,
			want:   []string{"(could not read the journal: No journal files were found.)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			distro.Journalctl = filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := os.WriteFile(distro.Journalctl, []byte("#!/bin/sh\n"+tt.script+"\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			got := journalTail(context.Background(), "demo.service")
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") || len(got) != len(tt.want) {
				t.Errorf("journalTail = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBusError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		noSuch   bool
		wantText string
	}{
		// systemd's "no such unit" error, as godbus returns it.
		{"no such unit", dbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit", Body: []any{"Unit nope.service not found."}}, true, "Unit nope.service not found."},
		// A missing unit file, as from EnableUnitFiles.
		{"file not found", &dbus.Error{Name: "org.freedesktop.DBus.Error.FileNotFound", Body: []any{"Unit file nope.service does not exist."}}, true, "Unit file nope.service does not exist."},
		// Other D-Bus errors pass unchanged.
		{"access denied", dbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied", Body: []any{"Access denied"}}, false, "Access denied"},
		// Errors that are not D-Bus errors pass unchanged.
		{"plain", context.DeadlineExceeded, false, "context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := busError(tt.err)
			if errors.Is(got, ErrNoSuchUnit) != tt.noSuch {
				t.Errorf("errors.Is(busError(%v), ErrNoSuchUnit) = %v", tt.err, !tt.noSuch)
			}
			if got.Error() != tt.wantText {
				t.Errorf("busError(%v).Error() = %q, want %q", tt.err, got, tt.wantText)
			}
		})
	}
}

func TestStatesRejectsNamesWithoutType(t *testing.T) {
	// States checks names before it talks to systemd, which would skip them
	// silently; a Conn without a connection shows that no call is made.
	var c Conn
	for _, name := range []string{"sidekiq", ".service", "sidekiq.servic"} {
		_, err := c.States(context.Background(), "dbus.service", name)
		if err == nil || !strings.Contains(err.Error(), name+": not a unit name") {
			t.Errorf("States(%q) = %v, want an error naming it", name, err)
		}
	}
}
