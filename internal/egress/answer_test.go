package egress_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// hostileUpstream is a granted host the attacker runs: each connection
// reads the request head, then behaves as told; ended receives, for each
// connection, what ended it from the upstream's side.
type hostileUpstream struct {
	addr  netip.AddrPort
	asked chan struct{} // a request head came in
	ended chan string
}

func newHostileUpstream(t *testing.T, behave func(c net.Conn) string) *hostileUpstream {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h := &hostileUpstream{addr: netip.MustParseAddrPort(l.Addr().String()), asked: make(chan struct{}, 16), ended: make(chan string, 16)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					h.ended <- "reading the request: " + err.Error()
					return
				}
				h.asked <- struct{}{}
				h.ended <- behave(c)
			}()
		}
	}()
	return h
}

// waitEnded is what ended the upstream's connection, or fails the test
// when it is still up after d.
func (h *hostileUpstream) waitEnded(t *testing.T, d time.Duration) string {
	t.Helper()
	select {
	case why := <-h.ended:
		return why
	case <-time.After(d):
		t.Fatalf("the upstream's connection is still up after %v", d)
		return ""
	}
}

// endlessHead answers a status line and then 16 MiB of header lines,
// 256 times the bound, and waits: endless enough, and a relay without
// the bound holds 16 MiB, not all the test machine's memory.
func endlessHead(c net.Conn) string {
	line := []byte("X-A: " + strings.Repeat("a", 1<<10) + "\r\n")
	n, err := c.Write([]byte("HTTP/1.1 200 OK\r\n"))
	for err == nil && n < 16<<20 {
		var m int
		m, err = c.Write(bytes.Repeat(line, 64))
		n += m
	}
	if err == nil {
		_, err = io.Copy(io.Discard, c)
	}
	return fmt.Sprintf("sent %d bytes of head, then %v", n, err)
}

// drippingHead answers a status line and then a header a byte at a time.
func drippingHead(c net.Conn) string {
	_, err := c.Write([]byte("HTTP/1.1 200 OK\r\nX-A: "))
	for err == nil {
		time.Sleep(20 * time.Millisecond)
		_, err = c.Write([]byte("a"))
	}
	return err.Error()
}

// silent never answers, and reads until the relay ends the connection.
func silent(c net.Conn) string {
	_, err := io.Copy(io.Discard, c)
	return fmt.Sprintf("read ended: %v", err)
}

// httpPaths are the ways a relayed HTTP request reaches api.example.test:80.
var httpPaths = []struct {
	name string
	open func(c *cell) (net.Conn, error)
}{{
	name: "absolute form",
	open: func(c *cell) (net.Conn, error) {
		conn, err := net.Dial("tcp", c.proxy())
		if err == nil {
			_, err = fmt.Fprint(conn, "GET http://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
		}
		return conn, err
	},
}, {
	name: "CONNECT to 80",
	open: func(c *cell) (net.Conn, error) {
		conn, err := connect(c, "api.example.test:80")
		if err == nil {
			_, err = fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
		}
		return conn, err
	},
}, {
	name: "transparent :80",
	open: func(c *cell) (net.Conn, error) {
		conn, err := net.Dial("tcp", c.host("api.example.test", 80))
		if err == nil {
			_, err = fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: api.example.test\r\n\r\n")
		}
		return conn, err
	},
}}

// hostileCell is a cell granting api.example.test:80, whose address
// reaches h.
func hostileCell(t *testing.T, h *hostileUpstream, edit ...func(*egress.Config)) *cell {
	in := newInternet(t)
	in.net.Route(netip.AddrPortFrom(in.addrOf["api.example.test"], 80), h.addr)
	return newCell(t, in, []string{"api.example.test:80"}, edit...)
}

// answerOf reads what the relay answered the client, within d.
func answerOf(t *testing.T, conn net.Conn, d time.Duration) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("the client's connection is still up after %v (read %q, %v)", d, b, err)
	}
	return string(b)
}

// A granted upstream that sends a response head without end: the relay
// stops reading it at the bound, answers 502 and hangs up on it, on
// every way a request is relayed. Before the bound its memory grew with
// every header line (F1).
func TestAnswerHeadIsBounded(t *testing.T) {
	for _, p := range httpPaths {
		t.Run(p.name, func(t *testing.T) {
			h := newHostileUpstream(t, endlessHead)
			c := hostileCell(t, h)
			conn, err := p.open(c)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			got := answerOf(t, conn, 5*time.Second)
			t.Logf("upstream: %s", h.waitEnded(t, 5*time.Second))
			if !strings.HasPrefix(got, "HTTP/1.1 502") || !strings.Contains(got, "head over 65536 bytes") {
				t.Errorf("the client got %.200q; want a 502 naming the bound", got)
			}
			r, ok := find(c.close(), egress.KindConn, "api.example.test")
			if !ok || !strings.Contains(r.Reason, "head over 65536 bytes") {
				t.Errorf("record %+v: want the bound as the reason", r)
			}
		})
	}
}

// A granted upstream that drips its head a byte at a time is cut at
// AnswerTimeout with a 504, and hung up on.
func TestAnswerHeadHasADeadline(t *testing.T) {
	h := newHostileUpstream(t, drippingHead)
	c := hostileCell(t, h, func(cfg *egress.Config) { cfg.AnswerTimeout = 500 * time.Millisecond })
	conn, err := httpPaths[0].open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	got := answerOf(t, conn, 10*time.Second)
	h.waitEnded(t, 5*time.Second)
	if !strings.HasPrefix(got, "HTTP/1.1 504") || !strings.Contains(got, "did not answer within 500ms") {
		t.Errorf("the client got %.200q; want a 504 naming the deadline", got)
	}
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("cut after %v, before the deadline", d)
	}
}

// AnswerTimeout bounds the wait for the head only: an answer whose head
// is in streams its body for as long as it takes.
func TestAnswerBodyOutlivesTheDeadline(t *testing.T) {
	h := newHostileUpstream(t, func(c net.Conn) string {
		if _, err := fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na"); err != nil {
			return err.Error()
		}
		time.Sleep(time.Second)
		_, err := fmt.Fprint(c, "bc")
		return fmt.Sprint("body sent: ", err)
	})
	c := hostileCell(t, h, func(cfg *egress.Config) { cfg.AnswerTimeout = 300 * time.Millisecond })
	conn, err := httpPaths[0].open(c)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := answerOf(t, conn, 10*time.Second); !strings.HasPrefix(got, "HTTP/1.1 200") || !strings.HasSuffix(got, "\r\n\r\nabc") {
		t.Errorf("the client got %q; want the whole body", got)
	}
}

// A client that goes ends the upstream's connection, on every way a
// request is relayed; and an upstream that hangs up ends the client's.
// Before, the relay kept reading an upstream for a client long gone
// (F1); tunnels: TestTunnelHangUp.
//
// The relay cannot tell a client that closed from one that half-closed
// (TestHalfCloseGetsTheAnswer) until it writes: both send a FIN. A
// client that reset the connection (closed with unread data, or with
// SO_LINGER 0) is gone at once; one that closed is gone at the first
// write of the answer (its kernel answers it with a reset), and when no
// answer comes, at AnswerTimeout, as a client that stays would be.
func TestHangUpEndsTheOtherSide(t *testing.T) {
	for _, p := range httpPaths {
		t.Run(p.name+", the client resets", func(t *testing.T) {
			h := newHostileUpstream(t, silent)
			c := hostileCell(t, h)
			conn, err := p.open(c)
			if err != nil {
				t.Fatal(err)
			}
			waitAsked(t, h)
			if err := tcpOf(conn).SetLinger(0); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			t.Logf("upstream: %s", h.waitEnded(t, 5*time.Second))
			r, _ := find(c.close(), egress.KindConn, "api.example.test")
			if !r.Allowed || !strings.Contains(r.Reason, "the client went") || !strings.Contains(r.Reason, "reset") {
				t.Errorf("record %+v: want allowed, ended by the client's reset", r)
			}
		})
		t.Run(p.name+", the client closes, then the answer comes", func(t *testing.T) {
			h := newHostileUpstream(t, func(c net.Conn) string {
				time.Sleep(300 * time.Millisecond) // the client's FIN is in first
				_, err := fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n")
				for err == nil {
					_, err = c.Write(make([]byte, 1<<10))
					time.Sleep(10 * time.Millisecond)
				}
				return err.Error()
			})
			c := hostileCell(t, h)
			conn, err := p.open(c)
			if err != nil {
				t.Fatal(err)
			}
			waitAsked(t, h)
			conn.Close()
			t.Logf("upstream: %s", h.waitEnded(t, 5*time.Second))
			r, _ := find(c.close(), egress.KindConn, "api.example.test")
			if !r.Allowed || !strings.Contains(r.Reason, "the client went") {
				t.Errorf("record %+v: want allowed, ended by the client", r)
			}
		})
		t.Run(p.name+", the client closes, no answer comes", func(t *testing.T) {
			h := newHostileUpstream(t, silent)
			c := hostileCell(t, h, func(cfg *egress.Config) { cfg.AnswerTimeout = 500 * time.Millisecond })
			conn, err := p.open(c)
			if err != nil {
				t.Fatal(err)
			}
			waitAsked(t, h)
			conn.Close()
			t.Logf("upstream: %s", h.waitEnded(t, 5*time.Second))
			r, _ := find(c.close(), egress.KindConn, "api.example.test")
			if !strings.Contains(r.Reason, "did not answer within 500ms") {
				t.Errorf("record %+v: want ended at AnswerTimeout", r)
			}
		})
		t.Run(p.name+", the upstream goes", func(t *testing.T) {
			h := newHostileUpstream(t, func(net.Conn) string { return "hung up" })
			c := hostileCell(t, h)
			conn, err := p.open(c)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if got := answerOf(t, conn, 5*time.Second); !strings.HasPrefix(got, "HTTP/1.1 502") {
				t.Errorf("the client got %q; want a 502", got)
			}
		})
	}
}

// A client that half-closes right after its request (nc -N, socat, some
// HTTP/1.0 tools) gets the whole answer, on every way a request is
// relayed. Before, the relay took its EOF for a client gone and closed
// the upstream: a 502 for a request the upstream had acted on (R2-1).
func TestHalfCloseGetsTheAnswer(t *testing.T) {
	const body = "the first half, the second half"
	for _, p := range httpPaths {
		t.Run(p.name, func(t *testing.T) {
			h := newHostileUpstream(t, func(c net.Conn) string {
				time.Sleep(200 * time.Millisecond) // the client's half-close is in first
				_, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:14])
				if err == nil {
					time.Sleep(100 * time.Millisecond)
					_, err = fmt.Fprint(c, body[14:])
				}
				return fmt.Sprint("answered: ", err)
			})
			c := hostileCell(t, h)
			conn, err := p.open(c)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := tcpOf(conn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			if got := answerOf(t, conn, 5*time.Second); !strings.HasPrefix(got, "HTTP/1.1 200") || !strings.HasSuffix(got, "\r\n\r\n"+body) {
				t.Errorf("the client got %q; want 200 and the whole body", got)
			}
			if why := h.waitEnded(t, 5*time.Second); why != "answered: <nil>" {
				t.Errorf("upstream: %s", why)
			}
			r, _ := find(c.close(), egress.KindConn, "api.example.test")
			if !r.Allowed || r.Reason != "" {
				t.Errorf("record %+v: want allowed, no error", r)
			}
		})
	}
}

func waitAsked(t *testing.T, h *hostileUpstream) {
	t.Helper()
	select {
	case <-h.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
}

// tcpOf is the TCP connection under a client's conn.
func tcpOf(conn net.Conn) *net.TCPConn {
	if b, ok := conn.(bufferedConn); ok {
		conn = b.Conn
	}
	return conn.(*net.TCPConn)
}

// A tunnel to a port of no protocol the relay knows: whichever side goes,
// the other's connection ends.
func TestTunnelHangUp(t *testing.T) {
	for _, who := range []string{"client", "upstream"} {
		t.Run("the "+who+" goes", func(t *testing.T) {
			in := newInternet(t)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			in.net.Route(netip.AddrPortFrom(in.addrOf["api.example.test"], 5432), netip.MustParseAddrPort(l.Addr().String()))
			c := newCell(t, in, []string{"api.example.test:5432"})
			conn, err := connect(c, "api.example.test:5432")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
			up, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer up.Close()
			gone, other := conn, up
			if who == "upstream" {
				gone, other = up, conn
			}
			gone.Close()
			_ = other.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadAll(other); err != nil {
				t.Errorf("the other side: %v; want its connection ended", err)
			}
		})
	}
}

// An absolute-form request to port 443 is refused: on 443 the relay
// grants the ClientHello's SNI, which plain HTTP has none of (F5). The
// control reaches the same server with CONNECT and TLS.
func TestPlainHTTPTo443(t *testing.T) {
	in := newInternet(t)
	server := in.https["api.example.test"]
	c := newCell(t, in, []string{"api.example.test:443"})
	conn, err := net.Dial("tcp", c.proxy())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET http://api.example.test:443/ HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n")
	if got := answerOf(t, conn, 5*time.Second); !strings.HasPrefix(got, "HTTP/1.1 403") || !strings.Contains(got, "CONNECT api.example.test:443") {
		t.Errorf("the client got %q; want 403 naming CONNECT", got)
	}
	r, _ := find(c.close(), egress.KindConn, "api.example.test")
	if r.Allowed || r.Port != 443 || r.Addr.IsValid() || !strings.Contains(r.Reason, "TLS only") {
		t.Errorf("record %+v: want refused, nothing dialled", r)
	}
	if n := server.Conns(); n != 0 {
		t.Errorf("the server saw %d connections", n)
	}

	c = newCell(t, in, []string{"api.example.test:443"})
	if got, err := get(c.viaProxy(in.pool), "https://api.example.test/"); err != nil || got != "hello from api.example.test" {
		t.Errorf("control: %q, %v", got, err)
	}
	c.close()
	if server.Conns() == 0 {
		t.Error("control: the server saw no connection")
	}
}
