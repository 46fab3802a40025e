package egress_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// flood runs try from 32 goroutines for d and returns how many tries
// succeeded (each a connection the relay refused) and how long it took.
func flood(t *testing.T, d time.Duration, try func(i int) bool) (int, time.Duration) {
	t.Helper()
	var n, seq atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				if try(int(seq.Add(1))) {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(n.Load()), time.Since(start)
}

// refusedCONNECT sends CONNECT hostport and reports whether it got a 403.
func refusedCONNECT(c *cell, hostport string) bool {
	conn, err := net.Dial("tcp", c.proxy())
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\n\r\n", hostport)
	b, _ := io.ReadAll(conn)
	return strings.HasPrefix(string(b), "HTTP/1.1 403")
}

// checkFolded holds the records of a flood of n refusals over elapsed to
// at most perSecond a second, and their counts to n: each refusal is a
// record in full or counted in one, none lost.
func checkFolded(t *testing.T, records []egress.Record, n int, elapsed time.Duration, perSecond int) {
	t.Helper()
	total, refused := 0, 0
	for _, r := range records {
		if r.Kind != egress.KindConn || r.Allowed {
			continue
		}
		refused++
		if r.Count > 0 {
			total += r.Count
		} else {
			total++
		}
	}
	if total != n {
		t.Errorf("the records count %d refusals, want %d", total, n)
	}
	// The windows are the relay's seconds: a flood spans one more, and
	// Close flushes the last.
	if most := perSecond * (int(elapsed/time.Second) + 2); refused > most {
		t.Errorf("%d records of %d refusals in %v; want at most %d", refused, n, elapsed.Round(time.Millisecond), most)
	}
	t.Logf("%d refusals in %v: %d records", n, elapsed.Round(time.Millisecond), refused)
}

// A flood of refused CONNECTs to one target is a record in full and a
// count a second, and the counts add up to the flood (F3: it was a
// record each, some 6,500 a second, which rotates the audit log away).
func TestRefusalFloodOneTarget(t *testing.T) {
	c := newCell(t, newInternet(t), []string{"api.example.test:443"})
	n, elapsed := flood(t, 1500*time.Millisecond, func(int) bool { return refusedCONNECT(c, "other.example.test:443") })
	if n < 100 {
		t.Fatalf("only %d refusals: no flood", n)
	}
	records := c.close()
	checkFolded(t, records, n, elapsed, 2)
	if r, ok := find(records, egress.KindConn, "other.example.test"); !ok || r.Count != 0 || !strings.Contains(r.Reason, "is not granted") || r.Way != egress.WayProxy {
		t.Errorf("the first refusal %+v: want it in full", r)
	}
	counted := false
	for _, r := range records {
		counted = counted || r.Count > 0 && r.Host == "other.example.test" && r.Port == 443 && r.Reason != "" && r.Duration > 0
	}
	if !counted {
		t.Errorf("no count record for other.example.test:443 among %d records", len(records))
	}
}

// A flood of refusals to made-up names keeps at most 32 targets apart a
// second; the rest are counted together.
func TestRefusalFloodManyTargets(t *testing.T) {
	c := newCell(t, newInternet(t), []string{"api.example.test:443"})
	n, elapsed := flood(t, 1500*time.Millisecond, func(i int) bool {
		return refusedCONNECT(c, fmt.Sprintf("x%d.example.test:443", i))
	})
	if n < 100 {
		t.Fatalf("only %d refusals: no flood", n)
	}
	records := c.close()
	checkFolded(t, records, n, elapsed, 32+1)
	found := false
	for _, r := range records {
		found = found || r.Host == "" && r.Count > 0 && strings.Contains(r.Reason, "more targets")
	}
	if !found {
		t.Errorf("no record of the targets past the bound")
	}
}

// Connections past MaxConns are folded as refusals are; the connection
// that holds the one slot is recorded on its own.
func TestMaxConnsFlood(t *testing.T) {
	in := newInternet(t)
	c := newCell(t, in, []string{"10.9.9.9:5432"}, func(cfg *egress.Config) { cfg.MaxConns = 1 })
	held, err := connect(c, "10.9.9.9:5432")
	if err != nil {
		t.Fatal(err)
	}
	n, elapsed := flood(t, 1500*time.Millisecond, func(int) bool {
		conn, err := net.Dial("tcp", c.proxy())
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := conn.Read(make([]byte, 1))
		return k == 0 && err == io.EOF
	})
	if n < 100 {
		t.Fatalf("only %d refusals: no flood", n)
	}
	held.Close()
	records := c.close()
	checkFolded(t, records, n, elapsed, 2)
	if r, ok := find(records, egress.KindConn, "10.9.9.9"); !ok || !r.Allowed {
		t.Errorf("the held connection's record %+v, %v", r, ok)
	}
}

// A flood of refusals to made-up names of a kilobyte each, with control
// bytes, keeps each record small: the name is recorded by its length,
// the reason cut and cleaned (R2-2: records of 12 KB each rotated the
// audit log away in minutes, whatever their number).
func TestRefusalFloodFatNames(t *testing.T) {
	c := newCell(t, newInternet(t), []string{"api.example.test:443"})
	fat := strings.Repeat("<\x01", 550)
	n, elapsed := flood(t, 1500*time.Millisecond, func(i int) bool {
		conn, err := net.Dial("tcp", c.proxy())
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "CONNECT %d%s:443 HTTP/1.1\r\n\r\n", i, fat)
		b, _ := io.ReadAll(conn)
		return strings.HasPrefix(string(b), "HTTP/1.1 4")
	})
	if n < 100 {
		t.Fatalf("only %d refusals: no flood", n)
	}
	records := c.close()
	checkFolded(t, records, n, elapsed, 32+1)
	for _, r := range records {
		if len(r.Host) > 64 || strings.ContainsAny(r.Host, "<\x01") {
			t.Fatalf("a record keeps the name %q", r.Host)
		}
		if len(r.Reason) > 310 || strings.ContainsRune(r.Reason, '\x01') {
			t.Fatalf("a record keeps the reason %q", r.Reason)
		}
	}
}

// A TLS client on an opaque port is held to its server name after the
// relay has connected upstream: each such refusal is a connection that
// was made, recorded in full with the address, never folded (R2-6).
func TestRefusedAfterDialNotFolded(t *testing.T) {
	in := newInternet(t)
	c := newCell(t, in, []string{"10.9.9.9:5432"})
	for range 3 {
		conn, err := net.Dial("tcp", c.host("10.9.9.9", 5432))
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		// A ClientHello naming a host no rule grants.
		tlsGetOver(conn, "other.example.test", in.pool)
		conn.Close()
	}
	records := c.close()
	whole := 0
	for _, r := range records {
		if r.Kind == egress.KindConn && !r.Allowed {
			if r.Count > 0 {
				t.Errorf("a refusal after a connection was made is folded: %+v", r)
			}
			if r.Addr.IsValid() {
				whole++
			}
		}
	}
	if whole != 3 {
		t.Errorf("%d refusals recorded with the address dialled, want 3: %+v", whole, records)
	}
}
