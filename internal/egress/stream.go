package egress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is what a connection is for, as far as the relay knows yet.
type target struct {
	// name is a canonical name or literal address; "" on a wildcard
	// listener until the SNI or Host names it.
	name string
	port uint16
	// host is the listener's Plan.Hosts index, -1 through the proxy.
	host int
}

// refusal is a decision against a connection; its text is the record's reason.
type refusal struct{ reason string }

func (e *refusal) Error() string { return e.reason }

func refuse(format string, args ...any) error {
	return &refusal{fmt.Sprintf(format, args...)}
}

// conn is one connection being served and its record.
type conn struct {
	r   *Relay
	c   net.Conn
	in  *headReader // what the client sent, capped while heads are read
	br  *bufio.Reader
	rec Record
}

// serve handles one connection on a proxy or host listener, and records
// it when it ends, whatever the way.
func (r *Relay) serve(c net.Conn, s Socket) {
	k := &conn{r: r, c: c, rec: Record{Kind: KindConn, Way: wayOf(s), Start: r.cfg.Now()}}
	k.in = &headReader{r: c, left: maxHead}
	k.br = bufio.NewReaderSize(k.in, 4096)
	var err error
	switch s.Role {
	case RoleProxy:
		err = k.proxy()
	default:
		h := r.cfg.Plan.Hosts[s.Host]
		t := target{name: h.Name, port: s.Addr.Port(), host: s.Host}
		k.rec.Host, k.rec.Port = t.name, t.port // a wildcard's pattern until a name is given
		if strings.HasPrefix(h.Name, "*.") {
			t.name = ""
		}
		err = k.stream(t)
	}
	if err != nil {
		k.rec.Allowed = k.rec.Allowed && !isRefusal(err)
		k.rec.Reason = err.Error()
	}
	k.rec.Duration = r.cfg.Now().Sub(k.rec.Start)
	r.record(k.rec)
}

func isRefusal(err error) bool {
	var f *refusal
	return errors.As(err, &f)
}

// proxy serves the HTTP proxy: CONNECT host:port, or one absolute-form
// http:// request.
func (k *conn) proxy() error {
	_ = k.c.SetReadDeadline(time.Now().Add(k.r.cfg.SniffTimeout))
	req, err := http.ReadRequest(k.br)
	if err != nil {
		return k.refuseHTTP(http.StatusBadRequest, k.headError(err))
	}
	if req.Method == http.MethodConnect {
		host, port, err := splitTarget(req.RequestURI, 0)
		if err != nil {
			return k.refuseHTTP(http.StatusBadRequest, refuse("CONNECT %q: %v", req.RequestURI, err))
		}
		t := target{name: host, port: port, host: -1}
		k.rec.Host, k.rec.Port = host, port
		if _, ok := k.r.cfg.Plan.rule(host, port); !ok {
			return k.refuseHTTP(http.StatusForbidden, refuse("%s is not granted", net.JoinHostPort(host, strconv.Itoa(int(port)))))
		}
		k.in.unlimit()
		if err := k.write("HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
			return err
		}
		return k.stream(t)
	}
	if req.URL.Scheme == "" {
		return k.refuseHTTP(http.StatusBadRequest, refuse("%s %s: this is a proxy; send CONNECT host:port or an absolute http:// URL", req.Method, req.RequestURI))
	}
	if req.URL.Scheme != "http" {
		return k.refuseHTTP(http.StatusBadRequest, refuse("%s %s: only http:// URLs are forwarded; use CONNECT for %s", req.Method, req.URL.Redacted(), req.URL.Scheme))
	}
	host, port, err := splitTarget(req.URL.Host, 80)
	if err != nil {
		return k.refuseHTTP(http.StatusBadRequest, refuse("%s: %v", req.URL.Redacted(), err))
	}
	k.rec.Host, k.rec.Port = host, port
	if port == 443 { // on 443 the ClientHello's SNI is what is granted
		return k.refuseHTTP(http.StatusForbidden, refuse("%s: port 443 takes TLS only; send CONNECT %s and TLS through it", req.URL.Redacted(), net.JoinHostPort(host, "443")))
	}
	return k.forwardHTTP(target{name: host, port: port, host: -1}, req)
}

// stream serves a connection whose target is known (a CONNECT tunnel, a
// host listener): TLS on 443, HTTP on 80, bytes as they are elsewhere.
func (k *conn) stream(t target) error {
	switch t.port {
	case 443:
		_ = k.c.SetReadDeadline(time.Now().Add(k.r.cfg.SniffTimeout))
		first, err := k.br.Peek(1)
		if err != nil {
			return fmt.Errorf("waiting for a ClientHello: %w", err)
		}
		if first[0] != 22 {
			return refuse("port 443 takes TLS only, and this is not a ClientHello")
		}
		return k.tls(t)
	case 80:
		_ = k.c.SetReadDeadline(time.Now().Add(k.r.cfg.SniffTimeout))
		k.in.limit(maxHead)
		req, err := http.ReadRequest(k.br)
		if err != nil {
			return k.refuseHTTP(http.StatusBadRequest, k.headError(err))
		}
		return k.forwardHTTP(t, req)
	}
	rule, ok := k.r.cfg.Plan.rule(t.name, t.port)
	if !ok { // a listener is for a granted target: not reached
		return refuse("%s:%d is not granted", t.name, t.port)
	}
	k.in.unlimit()
	_ = k.c.SetReadDeadline(time.Time{}) // server-first protocols wait on the server
	up, err := k.dial(t, rule, false)
	if err != nil {
		return err
	}
	return k.pipe(up, func() ([]byte, error) {
		// A client that speaks first in TLS is held to its SNI here too.
		first, err := k.br.Peek(1)
		if err != nil || first[0] != 22 {
			return nil, nil
		}
		_ = k.c.SetReadDeadline(time.Now().Add(k.r.cfg.SniffTimeout))
		k.in.limit(maxHello)
		name, raw, err := readHello(k.br)
		if err != nil {
			return nil, refuse("reading the ClientHello: %v", err)
		}
		if _, _, err := k.check(t, name, "SNI"); err != nil {
			return nil, err
		}
		k.in.unlimit()
		_ = k.c.SetReadDeadline(time.Time{})
		return raw, nil
	})
}

// tls reads the ClientHello, checks its SNI, dials, and relays.
func (k *conn) tls(t target) error {
	k.in.limit(maxHello)
	name, raw, err := readHello(k.br)
	if err != nil {
		return refuse("reading the ClientHello: %v", err)
	}
	t, rule, err := k.check(t, name, "SNI")
	if err != nil {
		return err
	}
	k.in.unlimit()
	_ = k.c.SetReadDeadline(time.Time{})
	up, err := k.dial(t, rule, false)
	if err != nil {
		return err
	}
	return k.pipe(up, func() ([]byte, error) { return raw, nil })
}

// check holds the name a client gave (SNI or Host) to the target: it must
// be granted on the port, be the target's name when the target is a
// name (no fronting), and be covered by a wildcard listener's rule. A
// literal address target may go without one.
func (k *conn) check(t target, given, what string) (target, Rule, error) {
	plan := k.r.cfg.Plan
	if given == "" {
		if t.name == "" || !isLiteral(t.name) {
			return t, Rule{}, refuse("no %s: a rule for a name needs the client to name it", what)
		}
		rule, _ := plan.rule(t.name, t.port)
		return t, rule, nil
	}
	name := CanonicalName(given)
	if t.name == "" {
		k.rec.Host = name // the record names what was asked, refused or not
	}
	rule, ok := plan.rule(name, t.port)
	switch {
	case !ok:
		return t, Rule{}, refuse("%s %s: %s:%d is not granted", what, given, name, t.port)
	case t.name == "" && !(Rule{Host: plan.Hosts[t.host].Name, Port: t.port}).Covers(name, t.port):
		return t, Rule{}, refuse("%s %s on the listener of %s", what, given, plan.Hosts[t.host].Name)
	case t.name != "" && !isLiteral(t.name) && name != t.name:
		return t, Rule{}, refuse("%s %s on a connection for %s: one name to connect, another to talk to, is refused", what, given, t.name)
	}
	if t.name == "" {
		t.name = name
	}
	if isLiteral(t.name) {
		rule, _ = plan.rule(t.name, t.port)
	}
	return t, rule, nil
}

func isLiteral(name string) bool {
	_, err := netip.ParseAddr(name)
	return err == nil
}

// forwardHTTP sends one request upstream in origin form with "Connection:
// close" and relays the answer: the connection ends with it, so no second
// request can be walked to another host.
func (k *conn) forwardHTTP(t target, req *http.Request) error {
	host, port, err := splitTarget(req.Host, t.port)
	if err != nil {
		return k.refuseHTTP(http.StatusBadRequest, refuse("Host %q: %v", req.Host, err))
	}
	if port != t.port {
		return k.refuseHTTP(http.StatusForbidden, refuse("Host %s on a connection to port %d", req.Host, t.port))
	}
	if req.Host == "" {
		host = ""
	}
	t, rule, err := k.check(t, host, "Host")
	if err != nil {
		return k.refuseHTTP(http.StatusForbidden, err)
	}
	k.in.unlimit()
	_ = k.c.SetReadDeadline(time.Time{})
	for _, h := range strings.Split(req.Header.Get("Connection"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			req.Header.Del(h)
		}
	}
	for _, h := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Authenticate", "Te", "Trailer", "Upgrade"} {
		req.Header.Del(h)
	}
	req.Close = true
	req.RequestURI = ""
	up, err := k.dial(t, rule, true)
	if err != nil {
		return k.refuseHTTP(http.StatusBadGateway, err)
	}
	write := req.Write
	if up.viaHTTP {
		write = req.WriteProxy
		req.URL.Scheme, req.URL.Host = "http", req.Host
		if u := up.proxy.User; u != nil {
			req.Header.Set("Proxy-Authorization", basicAuth(u))
		}
	}
	k.rec.Allowed = true
	if !k.r.track(up) {
		return errors.New("the relay is closing")
	}
	defer k.r.untrack(up)
	// The answer is read while the request is sent: a client that sent
	// "Expect: 100-continue" waits for the 100 before its body.
	wait := &headWait{c: up, d: k.r.cfg.AnswerTimeout}
	down := make(chan error, 1)
	if !k.r.goTracked(func() { down <- k.answer(up, req, wait) }) {
		return errors.New("the relay is closing")
	}
	w := &countWriter{w: up}
	err = write(w)
	k.rec.Up += w.n
	if err != nil {
		up.Close()
		<-down
		return fmt.Errorf("sending the request: %w", err)
	}
	wait.start()
	// Nothing of the client is wanted past the one request; it is read
	// to learn that it went. EOF is a half-close (shutdown after the
	// request, legal in HTTP/1.x), whose answer is still relayed: a
	// client that closed altogether sent the same FIN, and shows when a
	// write of the answer fails. A reset or other error is a client gone
	// at once, which ends the upstream.
	gone := make(chan struct{})
	var goneErr error // set before gone is closed
	if !k.r.goTracked(func() {
		if _, err := io.Copy(io.Discard, k.br); err != nil {
			goneErr = err
			close(gone)
			up.Close()
		}
	}) {
		up.Close()
	}
	err = <-down
	select {
	case <-gone:
		if err != nil {
			return fmt.Errorf("%w: %w", errClientWent, goneErr)
		}
	default:
	}
	return err
}

// errClientWent ends a relayed request whose client went before the
// answer ended: it reset the connection, or a write of the answer failed.
var errClientWent = errors.New("the client went before the answer ended")

// maxAnswerHead bounds the heads an upstream sends for one request (its
// 1xx ones and the final one, together): larger than a request's, for
// the cookies and security policies of real answers; at MaxConns
// (256) that is 16 MiB at most.
const maxAnswerHead = 64 << 10

// headWait bounds the wait for an answer's head: AnswerTimeout from the
// time the request is sent, and none once the final head is read (the
// body is streamed as it comes).
type headWait struct {
	mu   sync.Mutex
	c    net.Conn
	d    time.Duration
	done bool
}

// start runs the clock, unless the head came in while the request was
// still being sent.
func (h *headWait) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		_ = h.c.SetReadDeadline(time.Now().Add(h.d))
	}
}

func (h *headWait) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	_ = h.c.SetReadDeadline(time.Time{})
}

// answer relays the responses to req (1xx ones, then the final one)
// re-framed with "Connection: close", and no more. Their heads are read
// under maxAnswerHead and wait's clock; a head that fails them is
// answered 502 or 504 when nothing was sent to the client yet.
func (k *conn) answer(up *upstream, req *http.Request, wait *headWait) error {
	src := &headReader{r: up.src(), left: maxAnswerHead}
	br := bufio.NewReader(src)
	w := &clientWriter{w: k.c}
	defer func() { k.rec.Down += w.n }()
	// sent is resp.Write's end: a failed write is a client gone, a failed
	// read an upstream's fault.
	sent := func(err error) error {
		if err != nil && w.err != nil {
			return fmt.Errorf("%w: %w", errClientWent, w.err)
		}
		return err
	}
	fail := func(code int, err error) error {
		if w.n == 0 {
			_ = k.refuseHTTP(code, err)
		}
		return err
	}
	for {
		resp, err := http.ReadResponse(br, req)
		var timeout net.Error
		switch {
		case err == nil:
		case src.over:
			return fail(http.StatusBadGateway, fmt.Errorf("the upstream's answer has a head over %d bytes", maxAnswerHead))
		case errors.As(err, &timeout) && timeout.Timeout():
			return fail(http.StatusGatewayTimeout, fmt.Errorf("the upstream did not answer within %v of the request", wait.d))
		default:
			return fail(http.StatusBadGateway, fmt.Errorf("reading the answer: %w", err))
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			resp.Body.Close()
			return fail(http.StatusBadGateway, errors.New("the upstream switched protocols, which was not asked for"))
		}
		if resp.StatusCode >= 200 {
			src.unlimit()
			wait.stop()
			resp.Close = true
			err := resp.Write(w)
			if err != nil {
				up.Close() // else Body.Close reads the rest of the body
			}
			resp.Body.Close()
			return sent(err)
		}
		if err := resp.Write(w); err != nil {
			return sent(err)
		}
	}
}

// splitTarget reads host[:port] (IPv6 in brackets); a missing port is
// def, and an error when def is 0.
func splitTarget(hostport string, def uint16) (string, uint16, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		bracketed := strings.HasPrefix(hostport, "[") && strings.HasSuffix(hostport, "]")
		if def == 0 || hostport == "" || strings.Contains(hostport, ":") && !bracketed {
			return "", 0, errors.New("want host:port")
		}
		host, portText = hostport, strconv.Itoa(int(def))
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return "", 0, fmt.Errorf("the port %q is not a number from 1 to 65535", portText)
	}
	return CanonicalName(host), uint16(port), nil
}

// headError says what was wrong with a request head.
func (k *conn) headError(err error) error {
	if errors.Is(err, errHeadTooLarge) || k.in.over {
		return refuse("a request head over %d bytes", maxHead)
	}
	return refuse("not an HTTP request: %v", err)
}

// refuseHTTP answers an HTTP client with code and the reason, then the
// connection ends.
func (k *conn) refuseHTTP(code int, err error) error {
	body := "mcpcell: " + err.Error() + "\n"
	_ = k.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = k.write(fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", code, http.StatusText(code), len(body), body))
	return err
}

func (k *conn) write(s string) error {
	n, err := io.WriteString(k.c, s)
	k.rec.Down += int64(n)
	return err
}

// pipe relays between the client and up until both directions end;
// first gives the bytes to send upstream before the rest (the hello read
// for the SNI), or a refusal, which closes both before anything is sent.
func (k *conn) pipe(up *upstream, first func() ([]byte, error)) error {
	return k.pipeFunc(up, func(w io.Writer) error {
		raw, err := first()
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		if _, err := k.br.WriteTo(w); err != nil {
			return err
		}
		return nil
	})
}

// pipeFunc copies up to the client on a goroutine while send writes to
// up; a refusal by send closes both at once.
func (k *conn) pipeFunc(up *upstream, send func(io.Writer) error) error {
	k.rec.Allowed = true
	if !k.r.track(up) {
		return errors.New("the relay is closing")
	}
	defer k.r.untrack(up)
	down := make(chan error, 1)
	if !k.r.goTracked(func() {
		n, err := io.Copy(k.c, up.src())
		k.rec.Down += n // read by the handler after <-down only
		closeWrite(k.c)
		down <- err
	}) {
		return errors.New("the relay is closing")
	}
	w := &countWriter{w: up.Conn} // the bare conn: TCP to TCP splices
	err := send(w)
	k.rec.Up += w.n
	if err != nil {
		up.Close()
		k.c.Close()
		<-down
		if isRefusal(err) {
			k.rec.Allowed = false
		}
		return err
	}
	closeWrite(up)
	if err := <-down; err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("relaying: %w", err)
	}
	return nil
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		c.Close()
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ReadFrom keeps the kernel's splice between two TCP sockets.
func (c *countWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(c.w, r)
	c.n += n
	return n, err
}

// clientWriter counts what an answer sends the client, and keeps the
// error of a write that failed. It has no ReadFrom: an answer's body is
// never a TCP socket to splice, and a copy's error must say which side.
type clientWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *clientWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil {
		c.err = err
	}
	return n, err
}

var errHeadTooLarge = errors.New("over the cap on a request head or ClientHello")

// headReader is the client's side of a connection: capped while a head
// or hello is read, so that a client cannot make the relay buffer
// without end before it decides.
type headReader struct {
	r    io.Reader
	left int // -1: no cap
	over bool
}

func (h *headReader) limit(n int) { h.left = n }
func (h *headReader) unlimit()    { h.left = -1 }

func (h *headReader) Read(p []byte) (int, error) {
	if h.left == 0 {
		h.over = true
		return 0, errHeadTooLarge
	}
	if h.left > 0 && len(p) > h.left {
		p = p[:h.left]
	}
	n, err := h.r.Read(p)
	if h.left > 0 {
		h.left -= n
	}
	return n, err
}

// WriteTo lets the body of a tunnel go by splice once no cap holds.
func (h *headReader) WriteTo(w io.Writer) (int64, error) {
	if h.left >= 0 {
		return io.Copy(w, struct{ io.Reader }{h})
	}
	return io.Copy(w, h.r)
}
