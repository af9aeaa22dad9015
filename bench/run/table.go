package main

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// table is a titled table printed both as aligned text and as Markdown,
// so that the terminal and bin/bench.md say the same thing.
type table struct {
	title  string
	header []string
	rows   [][]string
	// notes follow the table, one paragraph each.
	notes []string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// text writes t with its columns aligned, the first left-aligned and the
// others right-aligned when every cell of the column starts like a
// number.
func (t *table) text(w io.Writer) {
	if t.title != "" {
		fmt.Fprintf(w, "\n%s\n", t.title)
	}
	width := make([]int, len(t.header))
	numeric := make([]bool, len(t.header))
	for i, h := range t.header {
		width[i] = utf8.RuneCountInString(h)
		numeric[i] = i > 0
	}
	for _, r := range t.rows {
		for i := range width {
			c := cell(r, i)
			width[i] = max(width[i], utf8.RuneCountInString(c))
			if c != "" && !startsNumeric(c) {
				numeric[i] = false
			}
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i := range width {
			c := cell(cells, i)
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if numeric[i] {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(t.header)
	for _, r := range t.rows {
		line(r)
	}
	for _, n := range t.notes {
		fmt.Fprintln(w, n)
	}
}

// markdown writes t as a Markdown table, the title and notes as
// paragraphs.
func (t *table) markdown(w io.Writer) {
	if t.title != "" {
		fmt.Fprintf(w, "\n%s\n\n", t.title)
	} else {
		fmt.Fprintln(w)
	}
	row := func(cells []string) {
		out := make([]string, len(t.header))
		for i := range out {
			out[i] = strings.ReplaceAll(cell(cells, i), "|", `\|`)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(out, " | "))
	}
	row(t.header)
	fmt.Fprintf(w, "|%s\n", strings.Repeat("---|", len(t.header)))
	for _, r := range t.rows {
		row(r)
	}
	for _, n := range t.notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
}

func cell(cells []string, i int) string {
	if i < len(cells) {
		return cells[i]
	}
	return ""
}

// startsNumeric reports whether s starts with a digit, or is a dash
// standing for a value not measured.
func startsNumeric(s string) bool {
	return s[0] >= '0' && s[0] <= '9' || s == "-"
}
