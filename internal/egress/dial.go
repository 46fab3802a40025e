package egress

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// upstream is a connection to the target, direct or through a proxy.
type upstream struct {
	net.Conn
	rd      io.Reader // the proxy's buffered bytes, then Conn; nil: Conn
	viaHTTP bool      // send HTTP to the proxy in absolute form
	proxy   *url.URL
}

func (u *upstream) Read(p []byte) (int, error) {
	if u.rd != nil {
		return u.rd.Read(p)
	}
	return u.Conn.Read(p)
}

// src is what to copy from: the bare connection when nothing is
// buffered, so that the kernel can splice.
func (u *upstream) src() io.Reader {
	if u.rd != nil {
		return u.rd
	}
	return u.Conn
}

// dial connects to the target a rule allowed. A literal address is
// dialled as it is, a name /etc/hosts maps at the addresses it gives;
// any other name is resolved here and only the addresses that pass
// refusedAddr are dialled, each exactly as checked (never the name
// again, so a second answer cannot differ from the one checked). Through
// an upstream proxy a name goes as a name: the proxy resolves it.
func (k *conn) dial(t target, rule Rule, http bool) (*upstream, error) {
	k.rec.Rule, k.rec.From = rule.String(), rule.From
	ctx, cancel := context.WithTimeout(k.r.ctx, k.r.cfg.DialTimeout)
	defer cancel()
	plan := k.r.cfg.Plan
	if a, err := netip.ParseAddr(t.name); err == nil {
		a = a.Unmap()
		if refusedAddr(a) == "" {
			if proxy := k.r.cfg.Upstream(a.String(), t.port); proxy != nil {
				return k.via(ctx, proxy, net.JoinHostPort(a.String(), strconv.Itoa(int(t.port))), http)
			}
		}
		return k.dialAddrs(ctx, []netip.AddrPort{netip.AddrPortFrom(a, t.port)})
	}
	if i, ok := k.r.hosts[t.name]; ok && plan.Hosts[i].Mapped {
		var to []netip.AddrPort
		for _, a := range plan.Hosts[i].Addrs {
			to = append(to, netip.AddrPortFrom(a, t.port))
		}
		return k.dialAddrs(ctx, to)
	}
	local, err := k.r.cfg.LocalPrefixes()
	if err != nil {
		return nil, err // never dial what cannot be told from this machine
	}
	addrs, err := k.r.cfg.Resolve(ctx, t.name)
	if proxy := k.r.cfg.Upstream(t.name, t.port); proxy != nil {
		// The proxy resolves the name again; what mcpcell resolves is
		// held to the same ranges first. A name only the proxy can
		// resolve (a network whose DNS is the proxy's) is its to check.
		// It may pick any of the addresses: each must pass.
		if err == nil {
			for _, a := range addrs {
				if why := refusedFor(a, local); why != "" {
					return nil, refuse("%s resolves to an address a name may not reach (%s: %s), and the upstream proxy would choose among its addresses; a rule naming the address itself grants it", t.name, a, why)
				}
			}
		}
		return k.via(ctx, proxy, net.JoinHostPort(t.name, strconv.Itoa(int(t.port))), http)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", t.name, err)
	}
	to, why := allowedAddrs(addrs, local, t.port)
	if len(to) == 0 {
		if why == "" {
			return nil, fmt.Errorf("resolving %s: no addresses", t.name)
		}
		return nil, refuse("%s resolves only to addresses a name may not reach (%s); a rule naming the address itself grants it", t.name, why)
	}
	return k.dialAddrs(ctx, to)
}

// allowedAddrs are the addresses of addrs a name may reach, on port, and
// why the others may not ("" when every one may; the second result is
// set only when none is left).
func allowedAddrs(addrs []netip.Addr, local []netip.Prefix, port uint16) ([]netip.AddrPort, string) {
	var to []netip.AddrPort
	var why []string
	for _, a := range addrs {
		if w := refusedFor(a, local); w != "" {
			why = append(why, fmt.Sprintf("%s: %s", a, w))
			continue
		}
		to = append(to, netip.AddrPortFrom(a.Unmap(), port))
	}
	if len(to) > 0 {
		return to, ""
	}
	return nil, strings.Join(why, ", ")
}

// dialAddrs connects to the first of to that answers.
func (k *conn) dialAddrs(ctx context.Context, to []netip.AddrPort) (*upstream, error) {
	var errs []error
	for _, a := range to {
		c, err := k.r.cfg.Dial(ctx, "tcp", a.String())
		if err == nil {
			k.rec.Addr = a
			return &upstream{Conn: c}, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("connecting: %w", errors.Join(errs...))
}

// via connects through an upstream proxy: HTTP requests in absolute form,
// anything else in a CONNECT tunnel.
func (k *conn) via(ctx context.Context, proxy *url.URL, hostport string, http bool) (*upstream, error) {
	addr := proxy.Host
	if proxy.Port() == "" {
		addr = net.JoinHostPort(proxy.Hostname(), "80")
	}
	k.rec.Via = addr
	c, err := k.r.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to the upstream proxy %s: %w", addr, err)
	}
	if http {
		return &upstream{Conn: c, viaHTTP: true, proxy: proxy}, nil
	}
	u, err := connect(ctx, c, proxy, hostport)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("the upstream proxy %s: %w", addr, err)
	}
	return u, nil
}

// connect asks the proxy on c for a tunnel to hostport.
func connect(ctx context.Context, c net.Conn, proxy *url.URL, hostport string) (*upstream, error) {
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	head := "CONNECT " + hostport + " HTTP/1.1\r\nHost: " + hostport + "\r\n"
	if proxy.User != nil {
		head += "Proxy-Authorization: " + basicAuth(proxy.User) + "\r\n"
	}
	if _, err := io.WriteString(c, head+"\r\n"); err != nil {
		return nil, err
	}
	br := bufio.NewReader(io.LimitReader(c, maxHead))
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return nil, fmt.Errorf("reading its answer to CONNECT %s: %w", hostport, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("CONNECT %s: %s", hostport, resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	u := &upstream{Conn: c}
	if n := br.Buffered(); n > 0 {
		early, _ := br.Peek(n)
		u.rd = io.MultiReader(strings.NewReader(string(early)), c)
	}
	return u, nil
}

func basicAuth(u *url.Userinfo) string {
	pass, _ := u.Password()
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pass))
}

// UpstreamFromEnv reads the proxy that mcpcell's own environment names:
// HTTPS_PROXY (or https_proxy) for every port but 80, HTTP_PROXY (or
// http_proxy) for 80, except the hosts NO_PROXY lists. Only http://
// proxies are supported; another scheme is an error, not ignored.
func UpstreamFromEnv(getenv func(string) string) (func(host string, port uint16) *url.URL, error) {
	env := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return getenv(strings.ToLower(name))
	}
	parse := func(name string) (*url.URL, error) {
		v := env(name)
		if v == "" {
			return nil, nil
		}
		if !strings.Contains(v, "://") {
			v = "http://" + v
		}
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("%s in mcpcell's environment is not a proxy URL; set it to http://host:port or unset it", name)
		}
		if u.Scheme != "http" {
			return nil, fmt.Errorf("%s in mcpcell's environment is a %s:// proxy; the relay reaches upstream proxies over http:// only: name one, or unset it", name, u.Scheme)
		}
		return u, nil
	}
	https, err := parse("HTTPS_PROXY")
	if err != nil {
		return nil, err
	}
	plain, err := parse("HTTP_PROXY")
	if err != nil {
		return nil, err
	}
	noProxy := strings.Split(env("NO_PROXY"), ",")
	return func(host string, port uint16) *url.URL {
		if excluded(noProxy, host, port) {
			return nil
		}
		if port == 80 {
			return plain
		}
		return https
	}, nil
}

// excluded reports whether NO_PROXY lists host:port: "*", a name and its
// subdomains (".example.com" or "example.com"), an address or prefix, any
// of them with ":port".
func excluded(noProxy []string, host string, port uint16) bool {
	for _, e := range noProxy {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if e == "*" {
			return true
		}
		if h, p, err := net.SplitHostPort(e); err == nil {
			if p != strconv.Itoa(int(port)) {
				continue
			}
			e = h
		}
		if p, err := netip.ParsePrefix(e); err == nil {
			if a, err := netip.ParseAddr(host); err == nil && p.Contains(a.Unmap()) {
				return true
			}
			continue
		}
		e = strings.TrimPrefix(strings.Trim(e, "[]"), ".")
		if host == e || strings.HasSuffix(host, "."+e) {
			return true
		}
	}
	return false
}
