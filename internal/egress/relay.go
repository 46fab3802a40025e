package egress

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"time"
)

// Config is what Serve needs: the plan, its sockets, where records go,
// and the seams through which the relay reaches the network.
type Config struct {
	Plan *Plan
	// Sockets are the sockets of Plan.Sockets, in its order (from
	// sandbox.Server.Sockets). Serve owns them from the call on: it
	// closes them, on error too.
	Sockets []*os.File
	// Record receives one Record per allowed connection, the refused
	// connections and DNS names folded per second (see Record.Count), on
	// a goroutine of the relay's; nil drops them.
	Record func(Record)

	// Resolve gives the addresses of a name; nil is the system resolver
	// (which reads /etc/hosts first).
	Resolve func(ctx context.Context, name string) ([]netip.Addr, error)
	// Dial connects to an address ("tcp", "ip:port"); nil is net.Dialer.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Upstream is the proxy to reach host:port through, nil for none;
	// nil Upstream is UpstreamFromEnv(os.Getenv).
	Upstream func(host string, port uint16) *url.URL
	// LocalPrefixes are the addresses that reach this machine, which a
	// name may not reach: on Linux the kernel's local routes in every
	// table (each interface's address, and the ranges routed to the
	// machine itself: AnyIP, a cloud agent's load-balancer addresses);
	// elsewhere the interfaces' addresses. nil asks the kernel at each
	// dial; an error fails the dial.
	LocalPrefixes func() ([]netip.Prefix, error)

	// MaxConns bounds the connections served at once (default 256);
	// past it a connection is closed at once and recorded as refused.
	MaxConns int
	// SniffTimeout bounds the wait for a request head or a ClientHello
	// (default 10 s); DialTimeout the connection upstream (default 10 s).
	SniffTimeout, DialTimeout time.Duration
	// AnswerTimeout bounds the wait for the head of an upstream's answer
	// to a relayed HTTP request, from the time the request is sent
	// (default 10 min, the whole-request timeout of the common API
	// clients: a slow API may think long before its first byte).
	AnswerTimeout time.Duration
	// Now is the clock of the records; nil is time.Now.
	Now func() time.Time
}

// maxHead bounds a request head, the request line and headers.
const maxHead = 16 << 10

// Relay serves a plan's sockets until Close.
type Relay struct {
	cfg     Config
	ctx     context.Context
	stop    context.CancelFunc
	hosts   map[string]int // Plan.Hosts by name
	slots   chan struct{}  // one per connection being served
	rec     *recorder
	dns     dnsRefusals
	refused connRefusals

	wg      sync.WaitGroup
	mu      sync.Mutex
	closing bool
	socks   []io.Closer
	conns   map[net.Conn]struct{}
	once    sync.Once
}

// Serve starts relaying on cfg.Sockets. The caller ends it with Close.
func Serve(cfg Config) (*Relay, error) {
	files := cfg.Sockets
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if cfg.Plan == nil {
		return nil, errors.New("starting the relay: no plan")
	}
	if len(files) != len(cfg.Plan.Sockets) {
		return nil, fmt.Errorf("starting the relay: %d sockets for a plan of %d", len(files), len(cfg.Plan.Sockets))
	}
	if cfg.Record == nil {
		cfg.Record = func(Record) {}
	}
	if cfg.Resolve == nil {
		cfg.Resolve = func(ctx context.Context, name string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
		}
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{}).DialContext
	}
	if cfg.LocalPrefixes == nil {
		cfg.LocalPrefixes = localPrefixes
	}
	if cfg.Upstream == nil {
		up, err := UpstreamFromEnv(os.Getenv)
		if err != nil {
			return nil, fmt.Errorf("starting the relay: %w", err)
		}
		cfg.Upstream = up
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 256
	}
	if cfg.SniffTimeout <= 0 {
		cfg.SniffTimeout = 10 * time.Second
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	var socks []io.Closer
	for i, s := range cfg.Plan.Sockets {
		var c io.Closer
		var err error
		if s.UDP {
			c, err = net.FilePacketConn(files[i])
		} else {
			c, err = net.FileListener(files[i])
		}
		if err != nil {
			for _, c := range socks {
				c.Close()
			}
			return nil, fmt.Errorf("starting the relay: socket %d (%s %s): %w", i, s.Role, s.Addr, err)
		}
		socks = append(socks, c)
	}

	ctx, stop := context.WithCancel(context.Background())
	r := &Relay{
		cfg:   cfg,
		ctx:   ctx,
		stop:  stop,
		hosts: map[string]int{},
		slots: make(chan struct{}, cfg.MaxConns),
		rec:   newRecorder(cfg.Record),
		socks: socks,
		conns: map[net.Conn]struct{}{},
	}
	for i, h := range cfg.Plan.Hosts {
		r.hosts[h.Name] = i
	}
	for i, s := range cfg.Plan.Sockets {
		r.wg.Add(1)
		switch {
		case s.UDP:
			go r.serveUDP(socks[i].(net.PacketConn))
		default:
			go r.accept(socks[i].(net.Listener), s)
		}
	}
	r.wg.Add(1)
	go r.tick()
	return r, nil
}

// Close stops the listeners, closes every live connection, records the
// last second's refused names and connections, and returns once every
// goroutine of the relay has ended and the callback has had every record.
func (r *Relay) Close() error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closing = true
		for _, s := range r.socks {
			s.Close()
		}
		for c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.stop()
		r.wg.Wait()
		r.dns.flush(r.rec)
		r.refused.flush(r.rec, r.cfg.Now())
		r.rec.close()
	})
	return nil
}

// track registers c to be closed by Close; false when closing already.
func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		c.Close()
		return false
	}
	r.conns[c] = struct{}{}
	return true
}

func (r *Relay) untrack(c net.Conn) {
	r.mu.Lock()
	delete(r.conns, c)
	r.mu.Unlock()
	c.Close()
}

// goTracked runs f on a goroutine Close waits for; false when closing.
func (r *Relay) goTracked(f func()) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return true
}

func (r *Relay) tick() {
	defer r.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			r.dns.flush(r.rec)
			r.refused.flush(r.rec, r.cfg.Now())
		}
	}
}

// record queues a connection's record: an allowed one always (MaxConns
// bounds them, and each costs a real upstream connection), a refused one
// when it is the first of its target in this second; the rest are
// counted, so that a flood of refusals cannot rotate the audit log away.
func (r *Relay) record(rec Record) {
	rec.Host, rec.Reason = recordedName(rec.Host), recordedReason(rec.Reason)
	// A refusal after mcpcell connected upstream (a TLS client on an
	// opaque port, held to its server name once connected) is no mere
	// attempt: it is recorded whole, as an allowed connection is.
	if rec.Allowed || rec.Addr.IsValid() || r.refused.add(rec, r.cfg.Now()) {
		r.rec.add(rec)
	}
}

func (r *Relay) accept(l net.Listener, s Socket) {
	defer r.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || r.ctx.Err() != nil {
				return
			}
			select { // out of fds: the backlog keeps them meanwhile
			case <-r.ctx.Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			c.Close()
			r.record(Record{Kind: KindConn, Way: wayOf(s), Start: r.cfg.Now(), Reason: fmt.Sprintf("more than %d connections at once", r.cfg.MaxConns)})
			continue
		}
		if !r.track(c) || !r.goTracked(func() {
			defer func() { <-r.slots }()
			defer r.untrack(c)
			if s.Role == RoleDNS {
				r.serveDNSConn(c)
				return
			}
			r.serve(c, s)
		}) {
			c.Close()
			<-r.slots
		}
	}
}

func wayOf(s Socket) Way {
	if s.Role == RoleProxy {
		return WayProxy
	}
	return WayTransparent
}

// serveUDP answers the stub's queries in the read loop: no goroutine per
// query, nothing buffered but the one datagram.
func (r *Relay) serveUDP(pc net.PacketConn) {
	defer r.wg.Done()
	buf := make([]byte, 4096)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || r.ctx.Err() != nil {
				return
			}
			continue
		}
		if reply := r.answer(buf[:n]); reply != nil {
			_, _ = pc.WriteTo(reply, from)
		}
	}
}

// serveDNSConn answers queries over TCP, each with its 2-byte length,
// until the client stops or is idle for SniffTimeout.
func (r *Relay) serveDNSConn(c net.Conn) {
	buf := make([]byte, 0xffff)
	for {
		_ = c.SetDeadline(time.Now().Add(r.cfg.SniffTimeout))
		if _, err := io.ReadFull(c, buf[:2]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(buf))
		if _, err := io.ReadFull(c, buf[:n]); err != nil {
			return
		}
		reply := r.answer(buf[:n])
		if reply == nil {
			return
		}
		if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(reply)))); err != nil {
			return
		}
		if _, err := c.Write(reply); err != nil {
			return
		}
	}
}

func (r *Relay) answer(query []byte) []byte {
	reply, refused := r.cfg.Plan.answerDNS(query)
	if refused != "" {
		r.dns.add(refused, r.cfg.Now())
	}
	return reply
}
