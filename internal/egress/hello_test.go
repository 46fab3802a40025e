package egress

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/iotest"
	"time"
)

// refragment splits the handshake of a one-record hello into records of
// at most n bytes: valid TLS that some clients and middleboxes send.
func refragment(t testing.TB, raw []byte, n int) []byte {
	if raw[0] != 22 {
		t.Fatal("not a handshake record")
	}
	body := raw[5 : 5+int(binary.BigEndian.Uint16(raw[3:]))]
	var out []byte
	for len(body) > 0 {
		k := min(n, len(body))
		out = append(out, 22, raw[1], raw[2], byte(k>>8), byte(k))
		out = append(out, body[:k]...)
		body = body[k:]
	}
	return out
}

// liveHello is the ClientHello a Go client sends for config.
func liveHello(t testing.TB, config *tls.Config) []byte {
	c1, c2 := net.Pipe()
	defer c2.Close()
	go func() {
		_ = tls.Client(c1, config).Handshake()
		c1.Close()
	}()
	_, raw, err := readHello(c2)
	if err != nil {
		t.Fatalf("reading a live hello: %v", err)
	}
	return raw
}

// tlsName is what crypto/tls reads as the hello's server name: the
// reference the hand parser is checked against.
func tlsName(raw []byte) (string, bool) {
	var name string
	var seen bool
	abort := errors.New("abort")
	srv := tls.Server(replayConn{bytes.NewReader(raw)}, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, seen = h.ServerName, true
		return nil, abort
	}})
	_ = srv.Handshake()
	return name, seen
}

type replayConn struct{ r io.Reader }

func (c replayConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c replayConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c replayConn) Close() error                     { return nil }
func (c replayConn) SetDeadline(time.Time) error      { return nil }
func (c replayConn) SetReadDeadline(time.Time) error  { return nil }
func (c replayConn) SetWriteDeadline(time.Time) error { return nil }
func (c replayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c replayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

func hellos(t testing.TB) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range []string{"node20", "curl", "go126"} { // all to registry.npmjs.org
		b, err := os.ReadFile("testdata/" + f + ".bin")
		if err != nil {
			t.Fatal(err)
		}
		m[f] = b
	}
	m["go-live"] = liveHello(t, &tls.Config{ServerName: "registry.npmjs.org"})
	return m
}

func TestReadHello(t *testing.T) {
	for who, raw := range hellos(t) {
		for how, r := range map[string]io.Reader{
			"whole":                 bytes.NewReader(raw),
			"one byte per read":     iotest.OneByteReader(bytes.NewReader(raw)),
			"records of 50 bytes":   bytes.NewReader(refragment(t, raw, 50)),
			"records of 1 byte":     iotest.OneByteReader(bytes.NewReader(refragment(t, raw, 1))),
			"application data next": io.MultiReader(bytes.NewReader(raw), bytes.NewReader([]byte{23, 3, 3, 0, 1, 0})),
		} {
			name, got, err := readHello(r)
			if err != nil || name != "registry.npmjs.org" {
				t.Errorf("%s, %s: readHello = %q, %v; want registry.npmjs.org", who, how, name, err)
			}
			if ref, _ := tlsName(got); ref != name {
				t.Errorf("%s, %s: crypto/tls reads %q from the same bytes, the parser %q", who, how, ref, name)
			}
			if how == "application data next" && !bytes.Equal(got, raw) {
				t.Errorf("%s: readHello read %d bytes, want the hello's %d and no more", who, len(got), len(raw))
			}
		}
	}
}

func TestReadHelloRefuses(t *testing.T) {
	curl, err := os.ReadFile("testdata/curl.bin")
	if err != nil {
		t.Fatal(err)
	}
	big := []byte{22, 3, 1, 0x40, 0}
	big = append(big, make([]byte, 0x4000)...)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), errNotTLS},
		{"SSLv2-style header", []byte{0x80, 0x2e, 1, 3, 1}, errNotTLS},
		{"a ServerHello", []byte{22, 3, 1, 0, 4, 2, 0, 0, 0}, errNotTLS},
		{"an empty record", []byte{22, 3, 1, 0, 0}, errBadHello},
		{"over the cap", big, errBigHello},
		{"a hello of 16 MiB announced", []byte{22, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff}, errBigHello},
		{"truncated", curl[:100], io.ErrUnexpectedEOF},
		{"nothing", nil, io.EOF},
	} {
		name, _, err := readHello(bytes.NewReader(tc.in))
		if !errors.Is(err, tc.want) || name != "" {
			t.Errorf("%s: readHello = %q, %v; want %v", tc.name, name, err, tc.want)
		}
	}
}

func TestReadHelloWithoutName(t *testing.T) {
	// Go sends no server_name for an empty ServerName or an IP address.
	for _, sn := range []string{"", "10.0.0.5"} {
		raw := liveHello(t, &tls.Config{ServerName: sn, InsecureSkipVerify: true})
		if name, _, err := readHello(bytes.NewReader(raw)); err != nil || name != "" {
			t.Errorf("ServerName %q: readHello = %q, %v; want no name, no error", sn, name, err)
		}
	}
}

// FuzzReadHello checks the hand parser never panics, never reads past
// what it returns, and reads the name crypto/tls reads whenever
// crypto/tls reads one.
func FuzzReadHello(f *testing.F) {
	for _, raw := range hellos(f) {
		f.Add(raw)
		f.Add(refragment(f, raw, 200))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		name, raw, err := readHello(bytes.NewReader(in))
		if !bytes.HasPrefix(in, raw) {
			t.Fatalf("readHello returned bytes it did not read")
		}
		if err != nil && name != "" {
			t.Fatalf("readHello = %q with error %v", name, err)
		}
		if !recordsOfTLS(in) || len(in) > maxHello {
			return // crypto/tls takes record versions below 3.0 and larger hellos; the parser refuses them
		}
		if ref, ok := tlsName(in); ok && ref != "" && (ref != name || err != nil) {
			t.Fatalf("crypto/tls reads %q, the parser %q, %v", ref, name, err)
		}
	})
}

// recordsOfTLS reports whether every record header in b says version
// 3.x: crypto/tls checks only that a record's version is below 0x1000
// until it has chosen one, the parser wants 3 throughout.
func recordsOfTLS(b []byte) bool {
	for len(b) >= 5 {
		if b[1] != 3 {
			return false
		}
		n := 5 + (int(b[3])<<8 | int(b[4]))
		if n > len(b) {
			break
		}
		b = b[n:]
	}
	return len(b) < 2 || b[1] == 3
}

func BenchmarkReadHello(b *testing.B) {
	raw, err := os.ReadFile("testdata/go126.bin")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := readHello(bytes.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
	}
}
