package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ExecPrefixes are the characters systemd reads at the start of an Exec*=
// command line (systemd.service(5), "Command lines"): "@" (argv[0] is the
// next word), "-" (a failure is ignored), ":" (no variable expansion),
// "+", "!" and "!!" (run with full privileges, or without User= and
// Group= applied: as root).
const ExecPrefixes = "@-:+!"

// privilegedPrefixes run the command as root whatever User= says.
const privilegedPrefixes = "+!"

// SplitExec splits an Exec*= command line as systemd does: its prefixes,
// then the words, separated by white space, with single and double quotes
// grouping (anywhere in a word) and C escapes (\n, \t, \\, \", \', \s,
// \xNN, \NNN, \uNNNN) undone, in quotes too. It fails on an unbalanced
// quote or an escape systemd does not know, which make systemd ignore the
// whole line. A word that is a lone ";" (unquoted, unescaped) separates
// two commands; SplitExec reports it in separator.
func SplitExec(line string) (prefix string, argv []string, separator bool, err error) {
	rest := strings.TrimLeft(line, " \t")
	i := 0
	for i < len(rest) && strings.IndexByte(ExecPrefixes, rest[i]) >= 0 {
		i++
	}
	prefix, rest = rest[:i], rest[i:]
	argv, separator, err = splitWords(rest)
	return prefix, argv, separator, err
}

// SplitWords splits a setting's value into words as systemd does for
// Environment= (quotes, C escapes), as SplitExec splits a command line
// after its prefixes.
func SplitWords(value string) ([]string, error) {
	words, _, err := splitWords(value)
	return words, err
}

func splitWords(rest string) (argv []string, separator bool, err error) {
	var word strings.Builder
	inWord := false
	var quote byte
	plain := true // the word so far has no quote or escape
	flush := func() {
		if inWord {
			w := word.String()
			if plain && w == ";" {
				separator = true
			}
			argv = append(argv, w)
		}
		word.Reset()
		inWord, plain = false, true
	}
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		switch {
		case c == '\\':
			r, n, err := cunescape(rest[j+1:])
			if err != nil {
				return argv, separator, err
			}
			word.WriteString(r)
			j += n
			inWord, plain = true, false
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			word.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			inWord, plain = true, false
		case c == ' ' || c == '\t':
			flush()
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		return argv, separator, fmt.Errorf("has an unbalanced %c quote", quote)
	}
	flush()
	return argv, separator, nil
}

// cunescape undoes the C escape at the start of s (after its backslash)
// and returns what it stands for and how many bytes of s it took.
func cunescape(s string) (string, int, error) {
	if s == "" {
		return "", 0, fmt.Errorf("ends with a backslash")
	}
	switch s[0] {
	case 'a':
		return "\a", 1, nil
	case 'b':
		return "\b", 1, nil
	case 'f':
		return "\f", 1, nil
	case 'n':
		return "\n", 1, nil
	case 'r':
		return "\r", 1, nil
	case 't':
		return "\t", 1, nil
	case 'v':
		return "\v", 1, nil
	case 's':
		return " ", 1, nil
	case '\\', '"', '\'', ' ', ';':
		return s[:1], 1, nil
	case 'x':
		return hexEscape(s, 2)
	case 'u':
		return hexEscape(s, 4)
	case 'U':
		return hexEscape(s, 8)
	}
	if s[0] >= '0' && s[0] <= '7' {
		if len(s) < 3 {
			return "", 0, fmt.Errorf("has an incomplete octal escape \\%s", s)
		}
		v, err := strconv.ParseUint(s[:3], 8, 8)
		if err != nil || v == 0 {
			return "", 0, fmt.Errorf("has an invalid octal escape \\%s", s[:3])
		}
		return string([]byte{byte(v)}), 3, nil
	}
	r, _ := utf8.DecodeRuneInString(s)
	return "", 0, fmt.Errorf("has the escape \\%c, which systemd does not know; write \\\\ for a backslash", r)
}

func hexEscape(s string, digits int) (string, int, error) {
	if len(s) < 1+digits {
		return "", 0, fmt.Errorf("has an incomplete escape \\%s", s)
	}
	v, err := strconv.ParseUint(s[1:1+digits], 16, 32)
	if err != nil || v == 0 {
		return "", 0, fmt.Errorf("has an invalid escape \\%s", s[:1+digits])
	}
	if digits == 2 {
		return string([]byte{byte(v)}), 3, nil
	}
	if v > utf8.MaxRune {
		return "", 0, fmt.Errorf("has an invalid escape \\%s", s[:1+digits])
	}
	return string(rune(v)), 1 + digits, nil
}

// USecInfinity is systemd's "infinity" time span.
const USecInfinity = math.MaxUint64

// timeUnits are systemd's time span units (systemd.time(7)) in
// microseconds.
var timeUnits = map[string]uint64{
	"usec": 1, "us": 1, "µs": 1,
	"msec": 1000, "ms": 1000,
	"seconds": 1e6, "second": 1e6, "sec": 1e6, "s": 1e6, "": 1e6,
	"minutes": 60e6, "minute": 60e6, "min": 60e6, "m": 60e6,
	"hours": 3600e6, "hour": 3600e6, "hr": 3600e6, "h": 3600e6,
	"days": 86400e6, "day": 86400e6, "d": 86400e6,
	"weeks": 604800e6, "week": 604800e6, "w": 604800e6,
	"months": 2629800e6, "month": 2629800e6, "M": 2629800e6,
	"years": 31557600e6, "year": 31557600e6, "y": 31557600e6,
}

// ParseTimeSpan reads a systemd time span ("1", "500ms", "1min 30s",
// "infinity"; a bare number is seconds) as systemd does, in microseconds.
// A span beyond what systemd can hold is an error: systemd would ignore
// the line and keep its default.
func ParseTimeSpan(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return USecInfinity, nil
	}
	if s == "" {
		return 0, fmt.Errorf("is empty")
	}
	var total uint64
	for s != "" {
		s = strings.TrimLeft(s, " ")
		n := 0
		for n < len(s) && (s[n] >= '0' && s[n] <= '9' || s[n] == '.') {
			n++
		}
		num := s[:n]
		s = strings.TrimLeft(s[n:], " ")
		u := 0
		for u < len(s) && !(s[u] >= '0' && s[u] <= '9') && s[u] != ' ' {
			u++
		}
		unit := s[:u]
		s = s[u:]
		mult, ok := timeUnits[unit]
		if num == "" || !ok {
			return 0, fmt.Errorf("is not a time span")
		}
		whole, frac, _ := strings.Cut(num, ".")
		if whole == "" && frac == "" || strings.Contains(frac, ".") {
			return 0, fmt.Errorf("is not a time span")
		}
		var w uint64
		if whole != "" {
			var err error
			if w, err = strconv.ParseUint(whole, 10, 64); err != nil {
				return 0, errTimeRange
			}
		}
		if w != 0 && mult > (math.MaxUint64-1)/w {
			return 0, errTimeRange
		}
		v := w * mult
		// The fraction, digit by digit, as systemd adds it.
		for i, m := 0, mult/10; i < len(frac) && m > 0; i, m = i+1, m/10 {
			v += uint64(frac[i]-'0') * m
		}
		if v > math.MaxUint64-1-total {
			return 0, errTimeRange
		}
		total += v
	}
	return total, nil
}

var errTimeRange = fmt.Errorf("is beyond the time spans systemd can hold")

// specifierSettings are the [Service] and [Unit] settings of structured
// fields in which systemd expands specifiers (%n, %u, %i...). RenderUnit
// writes "%" there as "%%", so that systemd loads the spec's value.
var specifierSettings = map[string]bool{
	"Description": true, "WorkingDirectory": true, "EnvironmentFile": true,
	"ExecStart": true, "SyslogIdentifier": true,
}

// escapeSpecifiers doubles every "%" of a structured value, except, in a
// template's units, "%i" and "%I": the instance name, which is what
// instances: is for.
func escapeSpecifiers(v string, template bool) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && template && i+1 < len(v) && (v[i+1] == 'i' || v[i+1] == 'I') {
			b.WriteString(v[i : i+2])
			i++
			continue
		}
		if v[i] == '%' {
			b.WriteString("%%")
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// Unspecify returns what systemd loads for a value of a setting that
// expands specifiers: "%%" is "%", and, for instance (the instance name of
// a template's unit, "" for a plain unit), "%i" and "%I" are it. ok is
// false when the value holds another specifier, whose value provision
// does not know.
func Unspecify(v, instance string) (string, bool) {
	if !strings.Contains(v, "%") {
		return v, true
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			b.WriteByte(v[i])
			continue
		}
		if i+1 >= len(v) {
			return "", false
		}
		i++
		switch v[i] {
		case '%':
			b.WriteByte('%')
		case 'i', 'I':
			if instance == "" {
				return "", false
			}
			b.WriteString(instance)
		default:
			return "", false
		}
	}
	return b.String(), true
}
