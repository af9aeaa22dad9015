package main

import (
	"fmt"
	"slices"
	"time"
)

// sample is one measured run of a command in a container.
type sample struct {
	wall  time.Duration
	rssKB int64
}

// series is what a set of samples says: their extremes and median.
type series struct {
	n                int
	min, median, max time.Duration
	rssKB            int64 // the largest peak RSS
}

func summarize(samples []sample) series {
	if len(samples) == 0 {
		return series{}
	}
	walls := make([]time.Duration, len(samples))
	var rss int64
	for i, s := range samples {
		walls[i] = s.wall
		rss = max(rss, s.rssKB)
	}
	return series{n: len(samples), min: slices.Min(walls), median: median(walls), max: slices.Max(walls), rssKB: rss}
}

// median returns the middle value of ds, the mean of the two middle ones
// for an even count.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ms formats d in milliseconds, with more digits for short times.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// mb formats a size in KiB as MB (10^6 bytes).
func mb(kb int64) string { return fmt.Sprintf("%.1f", float64(kb)*1024/1e6) }

// ratio formats a/b.
func ratio(a, b time.Duration) string {
	if b == 0 {
		return "n/a"
	}
	r := float64(a) / float64(b)
	if r < 0.1 {
		return fmt.Sprintf("%.3f (1/%.0f)", r, 1/r)
	}
	return fmt.Sprintf("%.2f", r)
}
