package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"github.com/provision-dev/provision/bench"
	"github.com/provision-dev/provision/internal/nspawn"
)

// traced is one run described from its strace -f output.
type traced struct {
	label string // the tool, and the spec when not the example
	phase string // "first converge" or "no-op"
	wall  time.Duration
	trace traceSummary
}

func (t traced) describe() []string {
	return append([]string{fmt.Sprintf("%s %s, under strace -f (%s ms traced):", t.label, t.phase, ms(t.wall))}, t.trace.describe()...)
}

// analyzeAll traces each tool but Ansible (too slow under strace) in a
// fresh container, then probes provision's steps in another, on the
// example and on the scaling spec of bench.GoalServices services. (That
// scaling spec's no-op is traced by runScale, in its own container.)
func (r *report) analyzeAll(ctx context.Context, tools []tool, want expectation) error {
	for _, t := range tools {
		if t.name == "ansible" {
			continue
		}
		runs, err := r.traceTool(ctx, t, want)
		if err != nil {
			return fmt.Errorf("trace %s: %w", t.name, err)
		}
		r.traces = append(r.traces, runs...)
		if t.name != "provision" {
			continue
		}
		data, err := os.ReadFile(r.o.in.spec)
		if err != nil {
			return err
		}
		p, err := runProbe(ctx, r.o.in, "bench-probe", data, probeOptions{profile: true})
		if err != nil {
			return fmt.Errorf("probe provision: %w", err)
		}
		r.probe = p
		if r.o.scale {
			p, err := runProbe(ctx, r.o.in, "bench-probe-scale", bench.ScalingSpec(bench.GoalServices), probeOptions{noop: 5})
			if err != nil {
				return fmt.Errorf("probe provision, %d services: %w", bench.GoalServices, err)
			}
			r.scaleProbe = p
		}
	}
	return nil
}

// traceTool runs t's first converge and one no-op under strace -f in a
// fresh container and describes each. For provision it also reads the
// package initialization that precedes main.
func (r *report) traceTool(ctx context.Context, t tool, want expectation) ([]traced, error) {
	c, err := boot(ctx, "bench-trace-"+t.name)
	if err != nil {
		return nil, err
	}
	defer closeContainer(c)
	if err := t.install(c, r.o.in); err != nil {
		return nil, err
	}
	if t.name == "provision" {
		_, stderr, err := c.Exec(ctx, "env", "GODEBUG=inittrace=1", ctrProvison, "version")
		if err != nil {
			return nil, err
		}
		r.init = parseInit(string(stderr))
	}
	var out []traced
	for _, noop := range []bool{false, true} {
		run, err := traceRun(ctx, c, t.name, t, want, noop)
		if err != nil {
			return nil, err
		}
		out = append(out, run)
	}
	return out, nil
}

// traceRun runs t once in c under strace -f, checks the host as converge
// does (changes reported, files and units right), and reads the trace:
// syscalls, commands executed, D-Bus connections, method calls and
// messages received.
func traceRun(ctx context.Context, c *nspawn.Container, label string, t tool, want expectation, noop bool) (traced, error) {
	phase := "first converge"
	if noop {
		phase = "no-op"
	}
	const file = "/var/tmp/bench-strace.txt"
	cmd := append([]string{"strace", "-f", "-qq", "-C", "-xx", "-s", "8192", "-o", file, "--"}, t.cmd...)
	res, err := measure(ctx, c, cmd...)
	if err != nil {
		return traced{}, err
	}
	if res.exit != 0 {
		return traced{}, fmt.Errorf("%s under strace exited %d:\n%s", phase, res.exit, tail(res.stdout+res.stderr, 30))
	}
	changes, err := t.changes(res.stdout + res.stderr)
	if err != nil {
		return traced{}, err
	}
	if (changes == 0) != noop {
		return traced{}, fmt.Errorf("%s under strace made %d changes", phase, changes)
	}
	st, err := want.readState(ctx, c)
	if err != nil {
		return traced{}, err
	}
	if bad := want.verify(st); len(bad) > 0 {
		return traced{}, fmt.Errorf("the host is not right after %s under strace: %s", phase, strings.Join(bad, "; "))
	}
	data, err := readIn(c, file)
	if err != nil {
		return traced{}, err
	}
	return traced{label: label, phase: phase, wall: res.wall, trace: parseTrace(data)}, nil
}

// initLine is a line of GODEBUG=inittrace=1 output.
var initLine = regexp.MustCompile(`^init (\S+) @([\d.]+) ms, ([\d.]+) ms clock`)

// initTrace is what GODEBUG=inittrace=1 says of a Go program's start.
type initTrace struct {
	// end is when the last package init ends, in ms after the runtime
	// started; total is the time all inits took.
	end, total float64
	// top names the packages whose init took longest, with their times.
	top string
}

// parseInit sums up the package initialization trace of a Go program:
// when main starts, and the packages whose init took longest.
func parseInit(trace string) initTrace {
	type pkg struct {
		name  string
		clock float64
	}
	var pkgs []pkg
	var it initTrace
	for _, line := range strings.Split(trace, "\n") {
		m := initLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		at, _ := strconv.ParseFloat(m[2], 64)
		clock, _ := strconv.ParseFloat(m[3], 64)
		pkgs = append(pkgs, pkg{m[1], clock})
		it.end = max(it.end, at+clock)
		it.total += clock
	}
	slices.SortFunc(pkgs, func(a, b pkg) int { return cmp.Compare(b.clock, a.clock) })
	var top []string
	for _, p := range pkgs[:min(4, len(pkgs))] {
		top = append(top, fmt.Sprintf("%s %.2f ms", p.name, p.clock))
	}
	it.top = strings.Join(top, ", ")
	return it
}

func (it initTrace) describe() string {
	return fmt.Sprintf("provision's start (GODEBUG=inittrace=1 provision version): the last package init ends %.1f ms after the runtime starts; inits take %.1f ms in all, most: %s",
		it.end, it.total, it.top)
}

// readIn reads a file of the container through its root on the host.
func readIn(c *nspawn.Container, ctrPath string) ([]byte, error) {
	return os.ReadFile(filepath.Join(c.Root(), ctrPath))
}

// traceSummary is what one strace -f -C -xx output says.
type traceSummary struct {
	calls map[string]int // syscall -> calls, from strace's summary
	total int
	execs map[string]int // program -> successful execve calls
	// commands are the argument vectors of the successful execve calls,
	// in the order they returned, the program's base name first; the
	// first is the traced command itself.
	commands  [][]string
	connects  map[string]int // unix socket path -> connect calls
	methods   map[string]int // D-Bus method calls sent, by member
	received  map[string]int // D-Bus messages received, by type
	undecoded int            // writes that looked like D-Bus but did not decode
}

var (
	traceLine  = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	callStart  = regexp.MustCompile(`^(\w+)\((.*)$`)
	resumed    = regexp.MustCompile(`^<\.\.\. (\w+) resumed>(.*)$`)
	retval     = regexp.MustCompile(`\)\s+=\s+(-?\d+|0x[0-9a-f]+)`)
	hexString  = regexp.MustCompile(`"((?:\\x[0-9a-f]{2})*)"`)
	execArgs   = regexp.MustCompile(`^"((?:\\x[0-9a-f]{2})*)", \[((?:"(?:\\x[0-9a-f]{2})*"(?:, )?)*)`)
	iovBase    = regexp.MustCompile(`iov_base="((?:\\x[0-9a-f]{2})*)"`)
	sunPath    = regexp.MustCompile(`sun_path="((?:\\x[0-9a-f]{2})*)"`)
	summaryRow = regexp.MustCompile(`^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$`)
)

// parseTrace reads the output of strace -f -C -xx -s N.
func parseTrace(data []byte) traceSummary {
	s := traceSummary{
		calls: map[string]int{}, execs: map[string]int{}, connects: map[string]int{},
		methods: map[string]int{}, received: map[string]int{},
	}
	pending := map[string][2]string{} // pid -> syscall name and arguments so far
	inSummary := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "% time") {
			inSummary = true
			continue
		}
		if inSummary {
			if m := summaryRow.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				if m[2] == "total" {
					s.total = n
				} else {
					s.calls[m[2]] = n
				}
			}
			continue
		}
		m := traceLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pid, rest := m[1], m[2]
		var name, args string
		if r := resumed.FindStringSubmatch(rest); r != nil {
			p, ok := pending[pid]
			if !ok || p[0] != r[1] {
				continue
			}
			delete(pending, pid)
			name, args = p[0], p[1]+r[2]
		} else if c := callStart.FindStringSubmatch(rest); c != nil {
			if strings.HasSuffix(rest, "<unfinished ...>") {
				pending[pid] = [2]string{c[1], strings.TrimSuffix(c[2], "<unfinished ...>")}
				continue
			}
			name, args = c[1], c[2]
		} else {
			continue
		}
		s.add(name, args)
	}
	return s
}

func (s *traceSummary) add(name, args string) {
	ret := ""
	if m := retval.FindAllStringSubmatch(args, -1); m != nil {
		ret = m[len(m)-1][1]
	}
	switch name {
	case "execve":
		if ret != "0" {
			break
		}
		m := execArgs.FindStringSubmatch(args)
		if m == nil {
			break
		}
		prog := path.Base(string(unhex(m[1])))
		s.execs[prog]++
		argv := []string{prog}
		for i, a := range hexString.FindAllStringSubmatch(m[2], -1) {
			if i > 0 {
				argv = append(argv, string(unhex(a[1])))
			}
		}
		s.commands = append(s.commands, argv)
	case "connect":
		if m := sunPath.FindStringSubmatch(args); m != nil {
			s.connects[string(unhex(m[1]))]++
		}
	case "write", "sendmsg", "sendto":
		re := hexString
		if name == "sendmsg" {
			re = iovBase
		}
		if m := re.FindStringSubmatch(args); m != nil {
			s.addSent(unhex(m[1]))
		}
	case "recvmsg", "read", "recvfrom":
		re := hexString
		if name == "recvmsg" {
			re = iovBase
		}
		if m := re.FindStringSubmatch(args); m != nil {
			b := unhex(m[1])
			// godbus reads a message's fixed 16-byte header first.
			if len(b) == 16 && isDBusHeader(b) {
				s.received[messageType(b[1])]++
			}
		}
	}
}

// addSent counts a D-Bus method call written in one piece.
func (s *traceSummary) addSent(b []byte) {
	if len(b) < 16 || !isDBusHeader(b) {
		return
	}
	msg, err := dbus.DecodeMessage(bytes.NewReader(b))
	if err != nil {
		// sd-bus (systemctl) sends the header and the body in separate
		// buffers: name the call from the header alone.
		if b[1] == 1 {
			if member, ok := headerMember(b); ok {
				s.methods[member]++
				return
			}
		}
		s.undecoded++
		return
	}
	if msg.Type != dbus.TypeMethodCall {
		s.methods["("+messageType(byte(msg.Type))+")"]++
		return
	}
	var member string
	if v, ok := msg.Headers[dbus.FieldMember]; ok {
		member, _ = v.Value().(string)
	}
	if (member == "Get" || member == "GetAll") && len(msg.Body) > 0 {
		iface, _ := msg.Body[0].(string)
		iface = strings.TrimPrefix(iface, "org.freedesktop.systemd1.")
		if len(msg.Body) > 1 {
			prop, _ := msg.Body[1].(string)
			iface += "." + prop
		}
		member += "(" + iface + ")"
	}
	s.methods[member]++
}

// headerMember returns the member field of the little-endian D-Bus
// message header at the start of b.
func headerMember(b []byte) (string, bool) {
	if len(b) < 16 {
		return "", false
	}
	end := 16 + int(binary.LittleEndian.Uint32(b[12:16]))
	if end > len(b) {
		return "", false
	}
	for i := 16; i+4 <= end; {
		i = (i + 7) &^ 7 // each field is 8-aligned
		if i+4 > end {
			break
		}
		code, sigLen := b[i], int(b[i+1])
		if i+2+sigLen+1 > end {
			break
		}
		sig := string(b[i+2 : i+2+sigLen])
		i += 2 + sigLen + 1
		switch sig {
		case "s", "o":
			i = (i + 3) &^ 3
			if i+4 > end {
				return "", false
			}
			n := int(binary.LittleEndian.Uint32(b[i : i+4]))
			if i+4+n > end {
				return "", false
			}
			if code == 3 {
				return string(b[i+4 : i+4+n]), true
			}
			i += 4 + n + 1
		case "g":
			n := int(b[i])
			i += 1 + n + 1
		case "u":
			i = (i+3)&^3 + 4
		default:
			return "", false
		}
	}
	return "", false
}

// isDBusHeader reports whether b starts like a little-endian D-Bus
// message of protocol version 1.
func isDBusHeader(b []byte) bool {
	return b[0] == 'l' && b[1] >= 1 && b[1] <= 4 && b[3] == 1
}

func messageType(t byte) string {
	switch t {
	case 1:
		return "method calls"
	case 2:
		return "method returns"
	case 3:
		return "errors"
	case 4:
		return "signals"
	}
	return "type " + strconv.Itoa(int(t))
}

func unhex(s string) []byte {
	out := make([]byte, 0, len(s)/4)
	for i := 0; i+4 <= len(s); i += 4 {
		v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
		if err != nil {
			break
		}
		out = append(out, byte(v))
	}
	return out
}

// describe says what the trace shows, in a few indented lines.
func (s traceSummary) describe() []string {
	top := slices.SortedFunc(maps.Keys(s.calls), func(a, b string) int { return s.calls[b] - s.calls[a] })
	if len(top) > 10 {
		top = top[:10]
	}
	var parts []string
	for _, k := range top {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.calls[k]))
	}
	out := []string{fmt.Sprintf("  syscalls: %d in all; most: %s", s.total, strings.Join(parts, ", "))}
	var files []string
	for _, k := range []string{"openat", "newfstatat", "fsync", "fdatasync", "rename", "renameat", "renameat2", "fchown", "fchmod", "mkdirat", "unlinkat", "clone", "clone3", "vfork"} {
		if n := s.calls[k]; n > 0 {
			files = append(files, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(files) > 0 {
		out = append(out, "  files and processes: "+strings.Join(files, ", "))
	}
	out = append(out, "  programs executed (execve): "+countList(s.execs))
	if h := s.helpers(); len(h) > 0 && len(h) <= 12 {
		cmds := make([]string, len(h))
		for i, argv := range h {
			cmds[i] = strings.Join(argv, " ")
		}
		out = append(out, "  commands it ran, in order: "+strings.Join(cmds, "; "))
	}
	if len(s.connects) > 0 || len(s.methods) > 0 {
		out = append(out, "  unix connects: "+countList(s.connects))
		calls := 0
		for _, n := range s.methods {
			calls += n
		}
		out = append(out, fmt.Sprintf("  D-Bus calls sent: %d: %s", calls, countList(s.methods)))
		out = append(out, "  D-Bus messages received: "+countList(s.received))
		if s.undecoded > 0 {
			out = append(out, fmt.Sprintf("  (%d writes looked like D-Bus but did not decode)", s.undecoded))
		}
	}
	return out
}

// helpers returns the commands the traced command ran: all but the
// first, which is the traced command itself.
func (s traceSummary) helpers() [][]string {
	if len(s.commands) == 0 {
		return nil
	}
	return s.commands[1:]
}

// countList formats m as "key n, key n", largest first.
func countList(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
