package egress

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind is what a Record tells of.
type Kind uint8

const (
	// KindConn is one connection, allowed or refused.
	KindConn Kind = iota + 1
	// KindDNS counts the queries the stub refused for one name in one
	// second (Host, Count).
	KindDNS
	// KindLost counts records dropped because the callback fell behind
	// (Count).
	KindLost
)

func (k Kind) String() string {
	switch k {
	case KindConn:
		return "connection"
	case KindDNS:
		return "dns"
	case KindLost:
		return "lost"
	}
	return "kind?"
}

// Way is how a connection came in.
type Way string

const (
	WayProxy       Way = "proxy"       // through the HTTP proxy
	WayTransparent Way = "transparent" // on a host's own address
)

// Record is one entry for the audit log.
type Record struct {
	Kind Kind
	Way  Way
	// Host is the name (or literal address) the connection asked for:
	// the CONNECT or URL host, the SNI or Host of a wildcard listener,
	// else the listener's host; for KindDNS, the refused name.
	Host string
	Port uint16
	// Addr is the address dialled, when one was; Via the upstream proxy
	// (host:port) when the connection went through one.
	Addr netip.AddrPort
	Via  string
	// Rule is the rule that allowed it as the profile writes it, and
	// From where (file:line).
	Rule, From string
	Allowed    bool
	// Reason says why it was refused, or why an allowed one ended early.
	Reason string
	// Up and Down count the bytes sent upstream and back to the server.
	Up, Down int64
	Start    time.Time
	Duration time.Duration
	// Count, on a KindConn record, is how many more refused connections
	// of its Way, Host and Port ended in the second from Start (Host ""
	// for those past the bound on targets kept apart); the first of them
	// has a record of its own, in full. On KindDNS and KindLost, how many.
	Count int
}

// maxQueued bounds the records waiting for the callback; past it they
// are counted and reported as one KindLost record.
const maxQueued = 4096

// recorder hands records to the callback on a goroutine of its own, so
// that no connection waits on the audit log.
type recorder struct {
	mu     sync.Mutex
	wake   *sync.Cond
	queue  []Record
	lost   int
	closed bool
	done   chan struct{}
}

func newRecorder(record func(Record)) *recorder {
	q := &recorder{done: make(chan struct{})}
	q.wake = sync.NewCond(&q.mu)
	go q.deliver(record)
	return q
}

func (q *recorder) add(r Record) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
	case len(q.queue) >= maxQueued:
		q.lost++
	default:
		q.queue = append(q.queue, r)
		q.wake.Signal()
	}
}

func (q *recorder) deliver(record func(Record)) {
	defer close(q.done)
	for {
		q.mu.Lock()
		for len(q.queue) == 0 && q.lost == 0 && !q.closed {
			q.wake.Wait()
		}
		batch, lost, closed := q.queue, q.lost, q.closed
		q.queue, q.lost = nil, 0
		q.mu.Unlock()
		for _, r := range batch {
			record(r)
		}
		if lost > 0 {
			record(Record{Kind: KindLost, Count: lost})
		}
		if closed && len(batch) == 0 && lost == 0 {
			return
		}
	}
}

// close delivers what is queued and returns once the callback is done.
func (q *recorder) close() {
	q.mu.Lock()
	q.closed = true
	q.wake.Signal()
	q.mu.Unlock()
	<-q.done
}

// dnsRefusals counts refused names per name for the current second.
type dnsRefusals struct {
	mu    sync.Mutex
	start time.Time
	names map[string]int
	more  int // names past maxNames in this second
}

// maxNames bounds the distinct names kept per second, as
// maxRefusedTargets does the refused connections': a server making up
// names cannot make the map grow without end, nor write more than some
// 33 records a second, which would rotate the kept log away in hours.
const maxNames = 32

func (d *dnsRefusals) add(name string, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.names == nil {
		d.names, d.start = map[string]int{}, now
	}
	if _, ok := d.names[name]; ok || len(d.names) < maxNames {
		d.names[name]++
	} else {
		d.more++
	}
}

// flush records the counts of the second that started at d.start.
func (d *dnsRefusals) flush(q *recorder) {
	d.mu.Lock()
	names, more, start := d.names, d.more, d.start
	d.names, d.more = nil, 0
	d.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(names)) {
		q.add(Record{Kind: KindDNS, Host: name, Count: names[name], Start: start, Duration: time.Second, Reason: "no rule covers this name"})
	}
	if more > 0 {
		q.add(Record{Kind: KindDNS, Count: more, Start: start, Duration: time.Second, Reason: "more refused names in this second than the audit keeps one by one"})
	}
}

// connRefusals folds refused connections per (way, host, port) and
// second: the first of each is recorded in full at once, the rest of
// the second counted into one record. What a server can vary (the SNI,
// a Host header) is in the reason, not the key, so it cannot make each
// refusal a target of its own.
type connRefusals struct {
	mu      sync.Mutex
	start   time.Time
	targets map[refusedTarget]int // refusals after the first
	order   []refusedTarget       // as first seen
	more    map[Way]int           // refusals of targets past maxRefusedTargets
}

type refusedTarget struct {
	way  Way
	host string
	port uint16
}

// maxRefusedTargets bounds the targets whose refusals are recorded apart
// in a second, as the wire bounds the kinds of events it keeps apart: a
// server making up names adds at most some 2 × 32 records a second.
const maxRefusedTargets = 32

// add counts a refused connection; true when it is the first of its
// target in this second, to be recorded in full.
func (f *connRefusals) add(r Record, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.targets == nil {
		f.targets, f.more, f.start = map[refusedTarget]int{}, map[Way]int{}, now
	}
	k := refusedTarget{r.Way, r.Host, r.Port}
	if _, ok := f.targets[k]; ok {
		f.targets[k]++
		return false
	}
	if len(f.targets) >= maxRefusedTargets {
		f.more[r.Way]++
		return false
	}
	f.targets[k] = 0
	f.order = append(f.order, k)
	return true
}

// flush records the counts of the second that started at f.start.
func (f *connRefusals) flush(q *recorder, now time.Time) {
	f.mu.Lock()
	targets, order, more, start := f.targets, f.order, f.more, f.start
	f.targets, f.order, f.more = nil, nil, nil
	f.mu.Unlock()
	for _, k := range order {
		if n := targets[k]; n > 0 {
			q.add(Record{Kind: KindConn, Way: k.way, Host: k.host, Port: k.port, Count: n, Start: start, Duration: now.Sub(start), Reason: "refused again in this second; the first is recorded in full"})
		}
	}
	for _, w := range slices.Sorted(maps.Keys(more)) {
		q.add(Record{Kind: KindConn, Way: w, Count: more[w], Start: start, Duration: now.Sub(start), Reason: fmt.Sprintf("refused connections to more targets in this second than the audit keeps apart (%d)", maxRefusedTargets)})
	}
}

// maxReason bounds the reason a record keeps, in bytes.
const maxReason = 300

// recordedName is a name a client gave as a record keeps it: itself
// when it is a host name, a wildcard pattern or an address, else only
// its length. The bytes are the server's: kept whole, a made-up name of
// kilobytes made each record of a refusal flood as large, and rotated
// the audit log away in minutes.
func recordedName(name string) string {
	if name == "" || len(name) <= 254 && validName(CanonicalName(name)) {
		return name
	}
	return fmt.Sprintf("(not a host name: %d bytes)", len(name))
}

func validName(name string) bool {
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	labels := strings.Split(strings.TrimPrefix(name, "*."), ".")
	for _, l := range labels {
		if checkLabel(l) != nil {
			return false
		}
	}
	return true
}

// recordedReason is a reason as a record keeps it: at most maxReason
// bytes, control characters and invalid UTF-8 (which may come from what
// the client sent) as "?".
func recordedReason(reason string) string {
	clean := strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return '?'
		}
		return r
	}, reason)
	if len(clean) <= maxReason {
		return clean
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(clean[cut]) {
		cut--
	}
	return clean[:cut] + "…"
}
