package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"
)

// hexQuote renders b as strace -xx does.
func hexQuote(b []byte) string {
	var s strings.Builder
	s.WriteByte('"')
	for _, c := range b {
		fmt.Fprintf(&s, "\\x%02x", c)
	}
	s.WriteByte('"')
	return s.String()
}

func methodCall(t *testing.T, member string, body ...any) []byte {
	t.Helper()
	msg := &dbus.Message{
		Type: dbus.TypeMethodCall,
		Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/systemd1")),
			dbus.FieldInterface:   dbus.MakeVariant("org.freedesktop.DBus.Properties"),
			dbus.FieldMember:      dbus.MakeVariant(member),
			dbus.FieldDestination: dbus.MakeVariant("org.freedesktop.systemd1"),
		},
		Body: body,
	}
	if len(body) > 0 {
		msg.Headers[dbus.FieldSignature] = dbus.MakeVariant(dbus.SignatureOf(body...))
	}
	var buf bytes.Buffer
	if err := msg.EncodeTo(&buf, binary.LittleEndian); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestParseTrace(t *testing.T) {
	get := methodCall(t, "Get", "org.freedesktop.systemd1.Unit", "UnitFileState")
	reload := methodCall(t, "Reload")
	// sd-bus sends the header alone in the first buffer.
	fields := int(binary.LittleEndian.Uint32(get[12:16]))
	headerOnly := get[:(16+fields+7)&^7]
	signal := append([]byte{'l', 4, 1, 1}, make([]byte, 12)...)
	trace := strings.Join([]string{
		`100   execve(` + hexQuote([]byte("/usr/local/bin/provision")) + `, [], 0x0 /* 3 vars */) = 0`,
		`101   execve(` + hexQuote([]byte("/usr/sbin/useradd")) + `, [], 0x0 /* 3 vars */ <unfinished ...>`,
		`100   write(8, ` + hexQuote(get) + `, 100) = 100`,
		`100   write(8, ` + hexQuote(reload) + `, 100) = 100`,
		`101   <... execve resumed>)             = 0`,
		`104   execve(` + hexQuote([]byte("/usr/sbin/visudo")) + `, [` + hexQuote([]byte("visudo")) + `, ` + hexQuote([]byte("-c")) + `, ` + hexQuote([]byte("-f")) + `, ` + hexQuote([]byte("/etc/sudoers.d/.x")) + `], 0x0 /* 2 vars */) = 0`,
		`102   execve(` + hexQuote([]byte("/usr/local/sbin/stat")) + `, [], 0x0) = -1 ENOENT (No such file or directory)`,
		`103   sendmsg(3, {msg_name=NULL, msg_iov=[{iov_base=` + hexQuote(headerOnly) + `, iov_len=8}], msg_controllen=0}, MSG_NOSIGNAL) = 8`,
		`100   connect(8, {sa_family=AF_UNIX, sun_path=` + hexQuote([]byte("/run/systemd/private")) + `}, 23) = 0`,
		`100   recvmsg(8, {msg_name={sa_family=AF_UNIX, sun_path=` + hexQuote([]byte("/run/systemd/private")) + `}, msg_iov=[{iov_base=` + hexQuote(signal) + `, iov_len=16}]}, MSG_CMSG_CLOEXEC) = 16`,
		`% time     seconds  usecs/call     calls    errors syscall`,
		`------ ----------- ----------- --------- --------- ------------------`,
		` 56.33    0.095462         935       102         8 futex`,
		`  0.65    0.001100          39        28           execve`,
		`100.00    0.405142         146      2758       149 total`,
	}, "\n")
	s := parseTrace([]byte(trace))
	// The commands in the order their execve returned, the traced one
	// first; helpers leaves it out.
	var got []string
	for _, argv := range s.helpers() {
		got = append(got, strings.Join(argv, " "))
	}
	if want := "useradd|visudo -c -f /etc/sudoers.d/.x"; strings.Join(got, "|") != want {
		t.Errorf("helpers %q, want %q", strings.Join(got, "|"), want)
	}
	if len(s.commands) == 0 || s.commands[0][0] != "provision" {
		t.Errorf("commands %q: the traced command is not first", s.commands)
	}
	for _, c := range []struct {
		what string
		got  int
		want int
	}{
		{"execs of provision", s.execs["provision"], 1},
		{"execs of useradd (resumed)", s.execs["useradd"], 1},
		{"failed execs of stat", s.execs["stat"], 0},
		{"Get(Unit.UnitFileState)", s.methods["Get(Unit.UnitFileState)"], 1},
		{"Reload", s.methods["Reload"], 1},
		{"Get from a header alone", s.methods["Get"], 1},
		{"connects to the private socket", s.connects["/run/systemd/private"], 1},
		{"signals received", s.received["signals"], 1},
		{"futex calls", s.calls["futex"], 102},
		{"execve calls", s.calls["execve"], 28},
		{"total", s.total, 2758},
		{"undecoded", s.undecoded, 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, want %d", c.what, c.got, c.want)
		}
	}
}
