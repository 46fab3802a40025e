package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// egressTry is the fake server's egress tool: one way out of a cell with
// [network] hosts, tried from inside it, as "ok: …" or "denied: …". Each
// attempt is bounded by a few seconds, so that a refusal the relay
// answers by silence still ends.
func egressTry(raw json.RawMessage) string {
	var a struct {
		What   string   // see the cases
		Target string   // host:port, a URL or a name
		SNI    string   // the TLS server name to send; "-" for none
		Data   string   // bytes to send
		CA     string   // a PEM file of the roots to trust
		Proxy  bool     // get: through the proxy of the environment
		Cmd    []string // exec: the command line
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return outcome("", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	roots := func() (*x509.CertPool, error) {
		pem, err := os.ReadFile(a.CA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		return pool, nil
	}
	var d net.Dialer
	switch a.What {
	case "lookup": // the Go resolver, as the cell's resolv.conf points it
		r := &net.Resolver{PreferGo: true}
		addrs, err := r.LookupNetIP(ctx, "ip4", a.Target)
		return outcome(fmt.Sprint(addrs), err)
	case "dns", "dns-tcp": // one A query for Data, sent to Target
		return outcome(dnsTry(ctx, a.What == "dns-tcp", a.Target, a.Data))
	case "get": // Go's net/http: transparently, or through the proxy
		pool, err := roots()
		if err != nil {
			return outcome("", err)
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}
		if a.Proxy {
			tr.Proxy = http.ProxyFromEnvironment
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Target, nil)
		if err != nil {
			return outcome("", err)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			return outcome("", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return outcome(fmt.Sprintf("%d %s", resp.StatusCode, body), err)
	case "tls", "connect":
		// tls: a TLS connection to Target with the server name SNI;
		// connect: the same in a CONNECT tunnel to Target through the
		// proxy of the environment. Then GET / with Host SNI.
		pool, err := roots()
		if err != nil {
			return outcome("", err)
		}
		at := a.Target
		if a.What == "connect" {
			u, err := url.Parse(os.Getenv("HTTPS_PROXY"))
			if err != nil || u.Host == "" {
				return outcome("", fmt.Errorf("no proxy in HTTPS_PROXY: %q", os.Getenv("HTTPS_PROXY")))
			}
			at = u.Host
		}
		c, err := d.DialContext(ctx, "tcp", at)
		if err != nil {
			return outcome("", err)
		}
		defer c.Close()
		deadline, _ := ctx.Deadline()
		c.SetDeadline(deadline)
		if a.What == "connect" {
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", a.Target, a.Target)
			resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
			if err != nil {
				return outcome("", fmt.Errorf("the proxy's answer: %w", err))
			}
			if resp.StatusCode != http.StatusOK {
				body, _ := io.ReadAll(resp.Body)
				return outcome("", fmt.Errorf("the proxy: %s: %s", resp.Status, strings.TrimSpace(string(body))))
			}
		}
		conf := &tls.Config{RootCAs: pool, ServerName: a.SNI}
		if a.SNI == "-" { // no SNI; the certificate checked for its IP
			host, _, _ := net.SplitHostPort(a.Target)
			conf.ServerName = host
		}
		tc := tls.Client(c, conf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return outcome("", fmt.Errorf("TLS: %w", err))
		}
		fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", a.SNI)
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err != nil {
			return outcome("", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return outcome(fmt.Sprintf("%d %s", resp.StatusCode, body), err)
	case "raw": // Data over TCP to Target; what comes back in 2 s or until EOF
		c, err := d.DialContext(ctx, "tcp", a.Target)
		if err != nil {
			return outcome("", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.WriteString(c, a.Data); err != nil {
			return outcome("", err)
		}
		b, err := io.ReadAll(c)
		switch {
		case len(b) > 0:
			err = nil // an open tunnel answers, then waits
		case err == nil:
			err = errors.New("closed without an answer")
		}
		return outcome(string(b), err)
	case "tcp":
		c, err := d.DialContext(ctx, "tcp", a.Target)
		if err == nil {
			c.Close()
		}
		return outcome("connected", err)
	case "udp": // a datagram: "ok" says only that it was sent
		c, err := d.DialContext(ctx, "udp", a.Target)
		if err != nil {
			return outcome("", err)
		}
		defer c.Close()
		_, err = io.WriteString(c, a.Data)
		return outcome("sent", err)
	case "exec": // a real client as the server's child
		cmd := exec.CommandContext(ctx, a.Cmd[0], a.Cmd[1:]...)
		out, err := cmd.CombinedOutput()
		return outcome(strings.TrimSpace(string(out)), err)
	}
	return "unknown egress try " + a.What
}

// dnsTry sends one query for name (type A) to server and describes the
// answer: its rcode and addresses.
func dnsTry(ctx context.Context, overTCP bool, server, name string) (string, error) {
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 0x4d43, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
	}
	msg, err := q.Pack()
	if err != nil {
		return "", err
	}
	network := "udp"
	if overTCP {
		network = "tcp"
		msg = append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, server)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// A UDP query that nothing answers ends sooner than the try.
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return "", err
	}
	buf := make([]byte, 4096)
	var n int
	if overTCP {
		if _, err := io.ReadFull(c, buf[:2]); err != nil {
			return "", err
		}
		n, err = io.ReadFull(c, buf[:binary.BigEndian.Uint16(buf)])
	} else {
		n, err = c.Read(buf)
	}
	if err != nil {
		return "", err
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		return "", err
	}
	var addrs []string
	for _, r := range m.Answers {
		if a, ok := r.Body.(*dnsmessage.AResource); ok {
			addrs = append(addrs, net.IP(a.A[:]).String())
		}
	}
	return fmt.Sprintf("%s %v", m.Header.RCode, addrs), nil
}
