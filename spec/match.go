package spec

import "strings"

// The shapes of names and values that Load checks, as regular expressions
// for the JSON Schema (provision schema) and as matchers for Load itself.
// Compiled at start, the expressions cost every run of provision about
// 0.2 ms before main (the time span's alone 46 us and 459 allocations
// warm); a test holds each matcher to its expression.
const (
	// namePattern is the user and group name pattern useradd(8)
	// recommends.
	namePattern = `^[a-z_][a-z0-9_-]*\$?$`
	// serviceNamePattern is the part of systemd's unit name alphabet that
	// is also safe in a sudoers command and on systemctl's command line:
	// no "@" (templates are not supported), ":" or "\", and no leading
	// "-" or ".".
	serviceNamePattern = `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`
	unitNamePattern    = `^[A-Za-z0-9_:.\\@-]+\.(` + unitTypeAlternatives + `)$`
	envNamePattern     = `^[A-Za-z_][A-Za-z0-9_]*$`
	unitKeyPattern     = `^[A-Za-z][A-Za-z0-9-]*$`
	sudoersNamePattern = `^[A-Za-z0-9_-]+$`
	// dropinNamePattern is a drop-in's name, without ".conf".
	dropinNamePattern = `^[A-Za-z0-9_][A-Za-z0-9_.-]*$`
	// timeSpanPattern is a systemd time span: "1" (seconds), "500ms",
	// "1min 30s".
	timeSpanPattern = `^` + spanNumber + ` *` + spanUnit + `?( *` + spanNumber + ` *` + spanUnit + `)*$`

	unitTypeAlternatives = `service|socket|device|mount|automount|swap|target|path|timer|slice|scope`
)

// A systemd time span is numbers with the units systemd.time(7) lists.
const (
	spanNumber = `[0-9]+(\.[0-9]+)?`
	spanUnit   = `(` + spanUnitAlternatives + `)`

	spanUnitAlternatives = `usec|us|µs|msec|ms|seconds|second|sec|s|minutes|minute|min|m|hours|hour|hr|h|days|day|d|weeks|week|w|months|month|M|years|year|y`
)

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isLower(c) || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// matches reports whether s is one byte for which first holds followed by
// any number for which rest does.
func matches(s string, first, rest func(byte) bool) bool {
	if s == "" || !first(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !rest(s[i]) {
			return false
		}
	}
	return true
}

// isName matches namePattern.
func isName(s string) bool {
	s = strings.TrimSuffix(s, "$")
	return matches(s, func(c byte) bool { return isLower(c) || c == '_' },
		func(c byte) bool { return isLower(c) || isDigit(c) || c == '_' || c == '-' })
}

// isServiceName matches serviceNamePattern, and isDropinName
// dropinNamePattern, the same.
func isServiceName(s string) bool {
	return matches(s, func(c byte) bool { return isAlnum(c) || c == '_' },
		func(c byte) bool { return isAlnum(c) || c == '_' || c == '.' || c == '-' })
}

func isDropinName(s string) bool { return isServiceName(s) }

// isUnitName matches unitNamePattern.
func isUnitName(s string) bool {
	dot := strings.LastIndexByte(s, '.')
	if dot < 1 {
		return false
	}
	typ := s[dot+1:]
	known := false
	for t := range strings.SplitSeq(unitTypeAlternatives, "|") {
		known = known || t == typ
	}
	unitChar := func(c byte) bool { return isAlnum(c) || strings.IndexByte("_:.\\@-", c) >= 0 }
	return known && matches(s[:dot], unitChar, unitChar)
}

// isEnvName matches envNamePattern.
func isEnvName(s string) bool {
	return matches(s, func(c byte) bool { return isAlpha(c) || c == '_' },
		func(c byte) bool { return isAlnum(c) || c == '_' })
}

// isUnitKey matches unitKeyPattern.
func isUnitKey(s string) bool {
	return matches(s, isAlpha, func(c byte) bool { return isAlnum(c) || c == '-' })
}

// isSudoersName matches sudoersNamePattern.
func isSudoersName(s string) bool {
	c := func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' }
	return matches(s, c, c)
}

// isTimeSpan matches timeSpanPattern: numbers, each with a unit but the
// first, which may have none, separated by spaces; no space before the
// first number, nor after a unit unless a number follows.
func isTimeSpan(s string) bool {
	digits := func(s string) int {
		n := 0
		for n < len(s) && isDigit(s[n]) {
			n++
		}
		return n
	}
	for first := true; first || s != ""; first = false {
		n := digits(s)
		if n == 0 {
			return false
		}
		s = s[n:]
		if len(s) > 1 && s[0] == '.' && isDigit(s[1]) {
			s = s[1:]
			s = s[digits(s):]
		}
		s = strings.TrimLeft(s, " ")
		u := 0
		for u < len(s) && !isDigit(s[u]) && s[u] != ' ' {
			u++
		}
		if u == 0 {
			if !first {
				return false
			}
			continue
		}
		known := false
		for unit := range strings.SplitSeq(spanUnitAlternatives, "|") {
			known = known || unit == s[:u]
		}
		if !known {
			return false
		}
		s = s[u:]
		rest := strings.TrimLeft(s, " ")
		if rest == "" && s != "" {
			return false
		}
		s = rest
	}
	return true
}
