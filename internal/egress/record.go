package egress

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"
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
	Count    int // KindDNS, KindLost
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

// maxNames bounds the distinct names kept per second: a server making up
// names cannot make the map, or the audit log, grow without end.
const maxNames = 256

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
