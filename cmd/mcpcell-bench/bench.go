package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

func (o *options) run() error {
	if runtime.GOOS != "linux" {
		return errors.New("the benchmark needs Linux (the cell)")
	}
	missing, err := o.find()
	if err != nil {
		return err
	}
	if o.dir, err = os.MkdirTemp("", "mcpcell-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(o.dir)
	project, profile, err := o.writeProfile()
	if err != nil {
		return err
	}
	// The download server, which a cell with [network] hosts reaches
	// through the relay: for start-up with the cell's own network
	// namespace, and the download figures.
	dl, err := serveDownload()
	if err != nil {
		return err
	}
	defer dl.close()
	hosts, err := o.hostsMode(profile, dl.port)
	if err != nil {
		return err
	}
	b := &bench{options: o, missing: missing}
	modes := o.modes(profile)
	fixture := []string{o.self, "serve"}
	b.startUp(modes, hosts, fixture, project, profile)
	b.downloads(modes[0], hosts, fixture, dl)

	// Sequential round trips and pipelined calls, in chunks alternating
	// between sessions that are all open at once. (The way with hosts
	// has the same pumps: it is measured in start-up and downloads.)
	relays := o.relays()
	all := append(slices.Clone(modes), relays...)
	columns := append(slices.Insert(slices.Clone(modes), 2, hosts), relays...)
	sessions, opened := open(all, fixture)
	defer func() {
		for _, s := range slices.Backward(opened) {
			s.close()
		}
	}()
	if s := sessions["mcpcell"]; s != nil {
		b.add(row{scenario: "mcpcell peak RSS, idle", unit: "MB", target: "≤ 12 MB", values: map[string]string{"mcpcell": mb(hwm(s.cmd.Process.Pid))}, met: verdict(hwm(s.cmd.Process.Pid) <= 12<<20)})
	}
	b.roundTrips(all, sessions)
	b.pipelined(all, sessions)
	b.largeResults(all, sessions)
	if s := sessions["mcpcell"]; s != nil && b.want("16 MiB results") {
		h := hwm(s.cmd.Process.Pid)
		b.add(row{scenario: "mcpcell peak RSS after 16 MiB results", unit: "MB", target: "≤ 2.5 × 16 MiB + 10 MB = 52 MB", values: map[string]string{"mcpcell": mb(h)}, met: verdict(h <= 5*(16<<20)/2+10<<20)})
	}
	return b.report(columns, relays)
}

// bench is one run of the harness: the rows measured so far and the
// parts found missing.
type bench struct {
	*options
	rows    []row
	missing []string
}

func (b *bench) n(full, short int) int {
	if b.short {
		return short
	}
	return full
}

func (b *bench) want(scenario string) bool { return b.only == nil || b.only.MatchString(scenario) }

func (b *bench) add(r row) {
	b.rows = append(b.rows, r)
	fmt.Fprintf(os.Stderr, "%s: %v\n", r.scenario, r.values)
}

// startUp measures spawn to initialize response, alternating the ways;
// the Go fixture's row also has the way with [network] hosts, whose cell
// has its own network namespace and relay.
func (b *bench) startUp(modes []mode, hosts mode, fixture []string, project, profile string) {
	if b.want("start-up, Go fixture") {
		r, med := startupRow("start-up, Go fixture", fixture, slices.Insert(slices.Clone(modes), 2, hosts), b.n(30, 3))
		r.need = []string{"direct", "mcpcell", hostsName}
		r.target = "mcpcell ≤ direct + 5 ms"
		r.met = verdict(med["mcpcell"] > 0 && med["mcpcell"] <= med["direct"]+5*time.Millisecond)
		b.add(r)
	}
	// The same with one secret from the keyring, where a Secret Service
	// answers (the keyring lives on the session bus).
	if b.want("start-up, Go fixture, one keyring secret") {
		if item, ok := b.benchSecret(); ok {
			secretProfile := filepath.Join(project, "secret.toml")
			text, _ := os.ReadFile(profile)
			os.WriteFile(secretProfile, append(text, fmt.Sprintf("[secrets]\nBENCH_TOKEN = %q\n", item)...), 0o600)
			withSecret := b.modes(secretProfile)[:2]
			// The target is for start-up without secrets; this row shows
			// what one costs.
			r, _ := startupRow("start-up, Go fixture, one keyring secret", fixture, withSecret, b.n(30, 3))
			b.add(r)
			exec.Command(b.mcpcell, "secret", "rm", item).Run()
		} else {
			fmt.Fprintln(os.Stderr, "mcpcell-bench: no Secret Service on a session bus: the one-secret start-up is skipped")
			b.missing = append(b.missing, "a Secret Service on the session bus, for the one-secret start-up")
		}
	}
	if b.everything != "" && b.want("start-up, server-everything") {
		r, _ := startupRow("start-up, server-everything", []string{"node", b.everything, "stdio"}, modes, b.n(10, 1))
		b.add(r)
	}
}

// startupRow is the start-up row of server started each of the ways ms,
// runs times, and the median of each way.
func startupRow(name string, server []string, ms []mode, runs int) (row, map[string]time.Duration) {
	times := map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		for _, m := range ms {
			t0 := time.Now()
			s, err := start(m, server)
			if err != nil {
				continue
			}
			if _, err := s.call("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`); err == nil {
				times[m.name] = append(times[m.name], time.Since(t0))
			}
			s.close()
		}
	}
	r := row{scenario: name, unit: "ms (median / p99)", values: map[string]string{}}
	med := map[string]time.Duration{}
	for _, m := range ms {
		if len(times[m.name]) == 0 {
			r.values[m.name] = "failed"
			continue
		}
		med[m.name] = percentile(times[m.name], 0.5)
		r.values[m.name] = fmt.Sprintf("%.1f / %.1f", ms1(med[m.name]), ms1(percentile(times[m.name], 0.99)))
	}
	return r, med
}

// open starts and initializes a session of fixture each of the ways all;
// a way that fails is left out of sessions. opened lists the sessions in
// the order they started.
func open(all []mode, fixture []string) (sessions map[string]*session, opened []*session) {
	sessions = map[string]*session{}
	for _, m := range all {
		s, err := start(m, fixture)
		if err == nil {
			err = s.initialize()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "mcpcell-bench: %s: %v\n", m.name, err)
			continue
		}
		sessions[m.name] = s
		opened = append(opened, s)
	}
	return sessions, opened
}

// roundTrips measures sequential calls, in chunks alternating between the
// sessions.
func (b *bench) roundTrips(all []mode, sessions map[string]*session) {
	for _, c := range []struct{ name, method, params string }{
		{"round trip, ping", "ping", `{}`},
		{"round trip, small tools/call", "tools/call", `{"name":"echo","arguments":{"message":"hi"}}`},
	} {
		if !b.want(c.name) {
			continue
		}
		lat := map[string][]time.Duration{}
		calls, chunks := b.n(10000, 300), 10
		for ch := 0; ch < chunks; ch++ {
			for _, m := range all {
				s := sessions[m.name]
				if s == nil {
					continue
				}
				for i := 0; i < calls/chunks; i++ {
					t0 := time.Now()
					if _, err := s.call(c.method, c.params); err != nil {
						break
					}
					lat[m.name] = append(lat[m.name], time.Since(t0))
				}
			}
		}
		r := row{scenario: c.name + fmt.Sprintf(" (%d calls)", calls), unit: "µs (p50 / p99)", target: "mcpcell p50 ≤ direct + 25 µs", values: map[string]string{}}
		for _, m := range all {
			if len(lat[m.name]) > 0 {
				r.values[m.name] = fmt.Sprintf("%.0f / %.0f", us(percentile(lat[m.name], 0.5)), us(percentile(lat[m.name], 0.99)))
			}
		}
		r.met = verdict(len(lat["mcpcell"]) > 0 && percentile(lat["mcpcell"], 0.5) <= percentile(lat["direct"], 0.5)+25*time.Microsecond)
		b.add(r)
	}
}

// pipelined measures calls with 64 in flight.
func (b *bench) pipelined(all []mode, sessions map[string]*session) {
	if !b.want("pipelined, 64 in flight") {
		return
	}
	rates := map[string][]float64{}
	for rep := 0; rep < 3; rep++ {
		for _, m := range all {
			if s := sessions[m.name]; s != nil {
				if rate, err := pipelined(s, b.n(20000, 500), 64); err == nil {
					rates[m.name] = append(rates[m.name], rate)
				}
			}
		}
	}
	r := row{scenario: "pipelined, 64 in flight", unit: "calls/s (median of 3)", target: "mcpcell ≥ 0.8 × direct", values: map[string]string{}}
	for _, m := range all {
		if len(rates[m.name]) > 0 {
			r.values[m.name] = fmt.Sprintf("%.0f", median(rates[m.name]))
		}
	}
	r.met = verdict(len(rates["mcpcell"]) > 0 && median(rates["mcpcell"]) >= 0.8*median(rates["direct"]))
	b.add(r)
}

// largeResults measures the throughput of 1 MiB and 16 MiB results.
func (b *bench) largeResults(all []mode, sessions map[string]*session) {
	for _, size := range []int{1 << 20, 16 << 20} {
		if !b.want(fmt.Sprintf("%d MiB results", size>>20)) {
			continue
		}
		count := b.n(max(8, 256>>(size>>20/2)), 2)
		if size == 16<<20 {
			count = b.n(8, 1)
		}
		speeds := map[string][]float64{}
		for rep := 0; rep < 3; rep++ {
			for _, m := range all {
				s := sessions[m.name]
				if s == nil {
					continue
				}
				t0, bytes := time.Now(), 0
				for i := 0; i < count; i++ {
					k, err := s.call("tools/call", fmt.Sprintf(`{"name":"blob","arguments":{"size":%d}}`, size))
					if err != nil {
						break
					}
					bytes += k
				}
				speeds[m.name] = append(speeds[m.name], float64(bytes)/time.Since(t0).Seconds()/1e6)
			}
		}
		r := row{scenario: fmt.Sprintf("%d MiB results (%d calls)", size>>20, count), unit: "MB/s (median of 3)", values: map[string]string{}}
		for _, m := range all {
			if len(speeds[m.name]) > 0 {
				r.values[m.name] = fmt.Sprintf("%.0f", median(speeds[m.name]))
			}
		}
		if size == 16<<20 {
			r.target = "mcpcell ≥ 0.5 × cat relay"
			r.met = verdict(len(speeds["mcpcell"]) > 0 && median(speeds["mcpcell"]) >= 0.5*median(speeds["cat relay"]))
		}
		b.add(r)
	}
}

// report prints the table of the ways columns (and writes it to -out),
// then fails a run that missed a part CI requires or a measurement it
// took.
func (b *bench) report(columns, relays []mode) error {
	table := render(b.rows, columns)
	fmt.Print(table)
	if b.out != "" {
		if err := os.WriteFile(b.out, []byte(table), 0o644); err != nil {
			return err
		}
	}
	if len(b.missing) > 0 && os.Getenv("MCPCELL_REQUIRE_ALL") == "1" {
		return fmt.Errorf("MCPCELL_REQUIRE_ALL=1 and missing: %s", strings.Join(b.missing, "; "))
	}
	// The harness works only if every way measured every scenario it
	// runs in: the relays run after start-up; RSS is mcpcell's alone; a
	// row that names its ways (start-up with hosts, downloads) needs those.
	for _, r := range b.rows {
		need := []string{"mcpcell"}
		switch {
		case r.need != nil:
			need = r.need
		case r.unit != "MB":
			need = append(need, "direct")
			if !strings.HasPrefix(r.scenario, "start-up") {
				for _, m := range relays {
					need = append(need, m.name)
				}
			}
		}
		for _, m := range need {
			if v := r.values[m]; v == "" || v == "failed" {
				return fmt.Errorf("%s: no measurement for %s", r.scenario, m)
			}
		}
	}
	return nil
}

// pipelined keeps window calls in flight until total are answered.
func pipelined(s *session, total, window int) (float64, error) {
	t0 := time.Now()
	sent, got := 0, 0
	for sent < window && sent < total {
		s.send("ping", `{}`)
		sent++
	}
	if err := s.in.Flush(); err != nil {
		return 0, err
	}
	for got < total {
		if _, err := s.recv(); err != nil {
			return 0, err
		}
		got++
		if sent < total {
			s.send("ping", `{}`)
			sent++
			if err := s.in.Flush(); err != nil {
				return 0, err
			}
		}
	}
	return float64(total) / time.Since(t0).Seconds(), nil
}
