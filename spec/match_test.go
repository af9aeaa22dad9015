package spec

import (
	"regexp"
	"testing"
)

// matchers are Load's matchers with the expressions the schema gives for
// them.
var matchers = []struct {
	name    string
	pattern string
	match   func(string) bool
}{
	{"name", namePattern, isName},
	{"service name", serviceNamePattern, isServiceName},
	{"unit name", unitNamePattern, isUnitName},
	{"environment name", envNamePattern, isEnvName},
	{"unit key", unitKeyPattern, isUnitKey},
	{"sudoers name", sudoersNamePattern, isSudoersName},
	{"drop-in name", dropinNamePattern, isDropinName},
	{"time span", timeSpanPattern, isTimeSpan},
}

// matcherSamples are strings near the edges of the patterns.
var matcherSamples = []string{
	"", " ", "a", "A", "_", "-", ".", "$", "0", "deploy", "deploy$", "de$ploy", "$deploy", "Deploy", "_x", "-x", "x-", "x_y-z9",
	"sidekiq", "sidekiq.service", "sidekiq@1.service", "a:b.service", `a\x2d.service`, ".service", "x.automount", "x.mount",
	"x.unknown", "x.service.service", "x.", "x..service", "redis-server.service", "a.b", "A1", "1A", "FOO_BAR", "X-Foo",
	"1", "12", "1.5", "1.", ".5", "1.5.5", "1s", "1 s", "1s ", "1 ", "1  ", " 1", "1s 2", "1 2s", "1 2", "1min 30s", "1min30s",
	"500ms", "5µs", "5 µs", "1m s", "1ms", "1mss", "1h 2m 3s", "1h  2m", "1h2", "infinity", "1\t2s", "2 weeks", "3M", "4y 5",
	"é", "aé", "sidekiq-users", "sidekiq.users", "x~",
}

// Each matcher says what its expression says of the samples.
func TestMatchersAgreeWithPatterns(t *testing.T) {
	for _, m := range matchers {
		re := regexp.MustCompile(m.pattern)
		for _, s := range matcherSamples {
			if got, want := m.match(s), re.MatchString(s); got != want {
				t.Errorf("%s: %q: matcher says %v, %s says %v", m.name, s, got, m.pattern, want)
			}
		}
	}
}

func FuzzMatchersAgreeWithPatterns(f *testing.F) {
	for _, s := range matcherSamples {
		f.Add(s)
	}
	res := make([]*regexp.Regexp, len(matchers))
	for i, m := range matchers {
		res[i] = regexp.MustCompile(m.pattern)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, m := range matchers {
			if got, want := m.match(s), res[i].MatchString(s); got != want {
				t.Errorf("%s: %q: matcher says %v, %s says %v", m.name, s, got, m.pattern, want)
			}
		}
	})
}
