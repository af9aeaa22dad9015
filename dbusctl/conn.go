// Package dbusctl talks to systemd over D-Bus. It is the only package in
// provision that imports go-systemd; it offers a few verbs (reload, enable,
// start and wait for the job, kill with a signal, read unit state) with typed
// results and errors, and keeps D-Bus types, channels and job strings inside.
package dbusctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// privateSocket is the path of systemd's private D-Bus socket, which root
// uses to talk to systemd without a D-Bus daemon. Tests may point it
// elsewhere.
var privateSocket = "/run/systemd/private"

// systemBusAddress is the D-Bus address of the system bus, used when the
// private socket cannot be used. Empty means the usual one:
// $DBUS_SYSTEM_BUS_ADDRESS, else /var/run/dbus/system_bus_socket. Tests may
// set it.
var systemBusAddress = ""

// DefaultJobTimeout is how long Start, Stop, Restart and TryRestart wait for
// systemd to finish a job when Conn.JobTimeout is zero.
const DefaultJobTimeout = 90 * time.Second

// DefaultCallTimeout is how long a call waits for systemd's answer when
// Conn.CallTimeout is zero.
const DefaultCallTimeout = 30 * time.Second

// ErrNoAnswer is wrapped by the error of a call that systemd did not
// answer within Conn.CallTimeout: a systemd that is stuck, or stopped.
var ErrNoAnswer = errors.New("systemd did not answer")

// ErrNoSystemd means that neither systemd's private socket nor the system
// bus led to a running systemd. Connect wraps it with the reasons.
var ErrNoSystemd = errors.New("systemd is not reachable (is it running as PID 1?)")

const (
	systemdDest  = "org.freedesktop.systemd1"
	systemdPath  = dbus.ObjectPath("/org/freedesktop/systemd1")
	managerIface = "org.freedesktop.systemd1.Manager"
)

// Conn is a connection to the system's systemd. Make one per run with
// Connect and Close it when done. Its methods may be called from several
// goroutines at once.
type Conn struct {
	// JobTimeout bounds how long Start, Stop, Restart and TryRestart wait
	// for systemd to report a job's result; the context passed to them
	// bounds it too. Connect sets it to DefaultJobTimeout; zero also means
	// DefaultJobTimeout. Change it only while no job is being waited for.
	JobTimeout time.Duration
	// CallTimeout bounds how long each call waits for systemd's answer
	// (a job's result is JobTimeout's); zero means DefaultCallTimeout.
	// Change it only while no call is being made.
	CallTimeout time.Duration

	sd *sdbus.Conn
	// bus is one of the two D-Bus connections sd uses, kept for the few
	// manager calls go-systemd does not offer.
	bus       *dbus.Conn
	cancel    context.CancelFunc
	closeOnce sync.Once
}

// Connect connects to systemd. As root it uses systemd's private socket
// (privateSocket), which needs no D-Bus daemon; otherwise, or when that
// fails, it uses the system bus and checks that systemd answers there. When
// neither works it returns an error wrapping ErrNoSystemd.
//
// ctx bounds connecting only: cancelling it later does not close the
// connection. The caller must Close the returned Conn.
func Connect(ctx context.Context) (*Conn, error) {
	return Dial(ctx).Wait()
}

// Dialing is a connection to systemd being made; see Dial.
type Dialing struct {
	done chan struct{}
	conn *Conn
	err  error
}

// Dial connects to systemd as Connect does, in the background, and returns
// before the handshake: as root, the private socket is connected before
// Dial returns. systemd sets up its end of a new connection before it
// answers a byte of the handshake, about 1.3 ms of its own time (linear
// in the connections made at once, so work and not a wake-up), and it
// does so while the caller goes on; a handshake begun at once waits all
// of that time. Wait returns the connection or the error Connect would
// have. ctx is as for Connect.
func Dial(ctx context.Context) *Dialing {
	d := &Dialing{done: make(chan struct{})}
	var private *attempt
	if os.Geteuid() == 0 {
		private = newAttempt(ctx)
		private.conn, private.err = dbus.Dial("unix:path="+privateSocket, dbus.WithContext(private.connCtx))
	}
	go func() {
		defer close(d.done)
		d.conn, d.err = finish(ctx, private)
	}()
	return d
}

// Wait waits for the connection Dial is making. The caller must Close it.
func (d *Dialing) Wait() (*Conn, error) {
	<-d.done
	return d.conn, d.err
}

// finish completes Dial: the private socket's handshake, when private is
// not nil, and the system bus when that fails.
func finish(ctx context.Context, private *attempt) (*Conn, error) {
	var privErr error
	if private != nil {
		c, err := private.connect(ctx, func() error { return auth(private.conn) }, false)
		if err == nil {
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to systemd: %w", ctx.Err())
		}
		privErr = fmt.Errorf("private socket: %w", err)
	}
	bus := newAttempt(ctx)
	c, err := bus.connect(ctx, func() error {
		bus.conn, bus.err = dialSystemBus(bus.connCtx)
		return bus.err
	}, true)
	if err == nil {
		return c, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("connect to systemd: %w", ctx.Err())
	}
	busErr := fmt.Errorf("system bus: %w", err)
	if privErr != nil {
		return nil, fmt.Errorf("%w (%w; %w)", ErrNoSystemd, privErr, busErr)
	}
	return nil, fmt.Errorf("%w (%w)", ErrNoSystemd, busErr)
}

// attempt is one way to systemd being tried: a D-Bus connection with a
// context of its own, connCtx, for its lifetime, which the ctx of Connect
// cancels only until the attempt is done.
type attempt struct {
	connCtx context.Context
	cancel  context.CancelFunc
	// stop ends ctx's hold on connCtx; it reports whether it ended it
	// before ctx was done.
	stop func() bool
	// conn is the D-Bus connection, once dialled, and err the dial's
	// error.
	conn *dbus.Conn
	err  error
}

func newAttempt(ctx context.Context) *attempt {
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &attempt{connCtx: connCtx, cancel: cancel, stop: context.AfterFunc(ctx, cancel)}
}

// connect makes a go-systemd connection out of the attempt's connection,
// once open makes it ready (a dial's error stands), and, with check,
// checks that systemd answers on it: on the system bus, Hello succeeds
// even when systemd is not there. On the private socket the handshake is
// with systemd itself, and is answer enough.
//
// Job results need no Manager.Subscribe, on the bus either: systemd sends
// JobRemoved to the client that queued the job.
//
// go-systemd asks for two connections, one for calls and one for signals;
// the attempt's one serves as both. On the private socket systemd sends
// every signal to every connection, so a second one doubles what systemd
// writes during a daemon-reload (about 400 signals on a small host) and
// costs a second handshake: with one connection, connecting took 1.8 ms
// instead of 3.0 ms and a reload as long as systemctl daemon-reload's,
// not 7 to 14 ms longer. godbus hands signals to go-systemd without
// blocking its reader, so replies are not held up.
func (a *attempt) connect(ctx context.Context, open func() error, check bool) (*Conn, error) {
	fail := func(err error) (*Conn, error) {
		a.stop()
		a.cancel()
		return nil, err
	}
	if a.err != nil {
		return fail(a.err)
	}
	if err := open(); err != nil {
		return fail(err)
	}
	sd, err := sdbus.NewConnection(func() (*dbus.Conn, error) { return a.conn, nil })
	if err != nil {
		a.conn.Close()
		return fail(err)
	}
	c := &Conn{JobTimeout: DefaultJobTimeout, CallTimeout: DefaultCallTimeout, sd: sd, bus: a.conn, cancel: a.cancel}
	if check {
		if _, err := sd.SystemStateContext(ctx); err != nil {
			a.stop()
			c.Close()
			return nil, err
		}
	}
	if !a.stop() {
		c.Close()
		return nil, ctx.Err()
	}
	return c, nil
}

func dialSystemBus(connCtx context.Context) (*dbus.Conn, error) {
	var conn *dbus.Conn
	var err error
	if systemBusAddress != "" {
		conn, err = dbus.Dial(systemBusAddress, dbus.WithContext(connCtx))
	} else {
		conn, err = dbus.SystemBusPrivate(dbus.WithContext(connCtx))
	}
	if err != nil {
		return nil, err
	}
	if err := auth(conn); err != nil {
		return nil, err
	}
	if err := conn.Hello(); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// auth authenticates as the current uid, given as a number so that no user
// database lookup is needed.
func auth(conn *dbus.Conn) error {
	if err := conn.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		conn.Close()
		return err
	}
	return nil
}

// Close closes the connection. Jobs already queued keep running in systemd.
// Close may be called more than once.
func (c *Conn) Close() {
	if c == nil || c.sd == nil {
		return
	}
	c.closeOnce.Do(func() {
		c.sd.Close()
		c.cancel()
	})
}

// managerCall calls a method of systemd's manager object directly, for the
// calls go-systemd does not wrap.
func (c *Conn) managerCall(ctx context.Context, method string, args ...any) *dbus.Call {
	return c.bus.Object(systemdDest, systemdPath).CallWithContext(ctx, managerIface+"."+method, 0, args...)
}

// bounded returns ctx bounded by c.CallTimeout, for one call to systemd,
// and a function that turns the error of that call into one that says
// systemd did not answer (wrapping ErrNoAnswer) when the bound, and not
// ctx, ran out.
func (c *Conn) bounded(ctx context.Context, what string) (context.Context, func(error) error, context.CancelFunc) {
	timeout := c.CallTimeout
	if timeout <= 0 {
		timeout = DefaultCallTimeout
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	explain := func(err error) error {
		if err != nil && ctx.Err() == nil && callCtx.Err() != nil {
			return fmt.Errorf("%w to %s within %s", ErrNoAnswer, what, timeout)
		}
		return err
	}
	return callCtx, explain, cancel
}
