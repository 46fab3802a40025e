package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one line of the table: a value per mode.
type row struct {
	scenario, unit, target string
	values                 map[string]string
	met                    string
	// vs is the way divided by direct in the ratio column; "" is mcpcell.
	vs string
	// need are the ways that must have measured the row for the run to
	// count; nil is report's default.
	need []string
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func median(f []float64) float64 {
	s := slices.Clone(f)
	slices.Sort(s)
	return s[len(s)/2]
}

func render(rows []row, modes []mode) string {
	var b strings.Builder
	b.WriteString("| scenario | unit |")
	for _, m := range modes {
		b.WriteString(" " + m.name + " |")
	}
	b.WriteString(" mcpcell / direct | target | met |\n|---|---|")
	for range modes {
		b.WriteString("---|")
	}
	b.WriteString("---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s |", r.scenario, r.unit)
		for _, m := range modes {
			v := r.values[m.name]
			if v == "" {
				v = "–"
			}
			b.WriteString(" " + v + " |")
		}
		q := ratio(r.values["mcpcell"], r.values["direct"])
		if r.vs != "" {
			q = ratio(r.values[r.vs], r.values["direct"])
			if q != "–" {
				q += " (" + r.vs + ")"
			}
		}
		fmt.Fprintf(&b, " %s | %s | %s |\n", q, r.target, r.met)
	}
	return b.String()
}

// ratio divides the first numbers of two cells.
func ratio(a, b string) string {
	x, err1 := strconv.ParseFloat(strings.Fields(a + " x")[0], 64)
	y, err2 := strconv.ParseFloat(strings.Fields(b + " x")[0], 64)
	if err1 != nil || err2 != nil || y == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x/y)
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func ms1(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func us(d time.Duration) float64  { return float64(d.Nanoseconds()) / 1000 }
func mb(n int) string             { return fmt.Sprintf("%.1f", float64(n)/1e6) }
