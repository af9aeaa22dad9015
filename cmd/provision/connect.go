package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/provision-dev/provision/dbusctl"
)

// dialing is a connection to systemd made in the background while the
// spec is read and checked: systemd takes about as long to set up its end
// of the connection; converge takes it when it needs it.
type dialing struct {
	pending *dbusctl.Dialing
	ctx     context.Context
	timeout time.Duration
	cancel  context.CancelFunc
	taken   bool
}

// dial starts connecting to systemd within timeout (--dbus-timeout).
func dial(ctx context.Context, timeout time.Duration) *dialing {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return &dialing{pending: dbusctl.Dial(ctx), ctx: ctx, timeout: timeout, cancel: cancel}
}

// take waits for the connection; the caller closes it.
func (d *dialing) take() (*dbusctl.Conn, error) {
	d.taken = true
	conn, err := d.pending.Wait()
	if errors.Is(err, context.DeadlineExceeded) && context.Cause(d.ctx) == context.DeadlineExceeded {
		err = fmt.Errorf("connect to systemd: %w within %s (--dbus-timeout)", dbusctl.ErrNoAnswer, d.timeout)
	}
	d.cancel()
	return conn, err
}

// drop closes the connection if it was not taken, without waiting for a
// systemd that does not answer: a run that stops early (an invalid spec)
// says so at once.
func (d *dialing) drop() {
	if d == nil || d.taken {
		return
	}
	go func() {
		conn, _ := d.pending.Wait()
		d.cancel()
		conn.Close()
	}()
}
