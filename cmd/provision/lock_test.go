package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The lock is an flock, held per open file description: two takes in one
// process conflict as two processes would. The second one waits, says so,
// gives up after its timeout naming the holder, and gets the lock once the
// first is released.
func TestLockSerializesRuns(t *testing.T) {
	for _, tc := range []struct {
		name  string
		isDir bool
	}{
		// The running system: a file holding the PID.
		{"file", false},
		// --root: the tree's root directory, nothing written into it.
		{"directory", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := dir
			if !tc.isDir {
				path = filepath.Join(dir, "provision.lock")
			}
			ctx := context.Background()
			release, err := takeLock(ctx, path, tc.isDir, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.isDir {
				if data, _ := os.ReadFile(path); string(data) != fmt.Sprintf("%d\n", os.Getpid()) {
					t.Errorf("lock file holds %q, want this PID", data)
				}
			}

			var stderr bytes.Buffer
			start := time.Now()
			_, err = takeLock(ctx, path, tc.isDir, 300*time.Millisecond, &stderr)
			waited := time.Since(start)
			pid := fmt.Sprintf("PID %d", os.Getpid())
			if err == nil || !strings.Contains(err.Error(), pid) || !strings.Contains(err.Error(), "gave up after 300ms") {
				t.Errorf("second take: %v; want it to give up after 300ms naming %s", err, pid)
			}
			if waited < 300*time.Millisecond || waited > 2*time.Second {
				t.Errorf("second take gave up after %v, want 300ms", waited)
			}
			if !strings.Contains(stderr.String(), "waiting for the lock "+path+", held by "+pid) {
				t.Errorf("second take said %q, want that it waits and for whom", stderr.String())
			}

			// Released while another waits: the waiter gets it.
			go func() {
				time.Sleep(200 * time.Millisecond)
				release()
			}()
			start = time.Now()
			release2, err := takeLock(ctx, path, tc.isDir, 10*time.Second, &bytes.Buffer{})
			if err != nil {
				t.Fatalf("take after release: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("take after release waited %v", d)
			}
			release2()
		})
	}
}

// A waiting run stops waiting when it is interrupted.
func TestLockWaitInterrupted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "provision.lock")
	release, err := takeLock(context.Background(), path, false, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = takeLock(ctx, path, false, time.Minute, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "context deadline exceeded") || time.Since(start) > 2*time.Second {
		t.Errorf("interrupted take: %v after %v", err, time.Since(start))
	}
}

// The lock file is never opened through a symbolic link.
func TestLockRefusesLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "provision.lock")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if _, err := takeLock(context.Background(), path, false, 0, nil); err == nil {
		t.Fatal("took a lock through a symbolic link")
	}
	if data, _ := os.ReadFile(target); string(data) != "keep\n" {
		t.Errorf("link target now holds %q", data)
	}
}

// validate and render take no lock: they run while apply holds it.
func TestValidateTakesNoLock(t *testing.T) {
	old := lockPath
	lockPath = filepath.Join(t.TempDir(), "provision.lock")
	defer func() { lockPath = old }()
	release, err := takeLock(context.Background(), lockPath, false, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, cmd := range []string{"validate", "render"} {
		done := make(chan int, 1)
		go func() {
			code, _, _ := runCmd(t, "", cmd, "-f", example)
			done <- code
		}()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("%s: exit %d", cmd, code)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s waits for the lock", cmd)
		}
	}
}
