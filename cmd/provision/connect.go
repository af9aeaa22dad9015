package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/provision-dev/provision/dbusctl"
)

// dialing is a connection to systemd made in the background while the
// spec is read and checked, which take about as long as the handshake;
// converge takes it when it needs it.
type dialing struct {
	done  chan struct{}
	conn  *dbusctl.Conn
	err   error
	taken bool
}

// dial starts connecting to systemd within timeout (--dbus-timeout).
func dial(ctx context.Context, timeout time.Duration) *dialing {
	d := &dialing{done: make(chan struct{})}
	go func() {
		defer close(d.done)
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		d.conn, d.err = dbusctl.Connect(ctx)
		if errors.Is(d.err, context.DeadlineExceeded) && context.Cause(ctx) == context.DeadlineExceeded {
			d.err = fmt.Errorf("connect to systemd: %w within %s (--dbus-timeout)", dbusctl.ErrNoAnswer, timeout)
		}
	}()
	return d
}

// take waits for the connection; the caller closes it.
func (d *dialing) take() (*dbusctl.Conn, error) {
	<-d.done
	d.taken = true
	return d.conn, d.err
}

// drop closes the connection if it was not taken, without waiting for a
// systemd that does not answer: a run that stops early (an invalid spec)
// says so at once.
func (d *dialing) drop() {
	if d == nil || d.taken {
		return
	}
	go func() {
		<-d.done
		d.conn.Close()
	}()
}
