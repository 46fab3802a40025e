package jsonrpc

import (
	"fmt"
	"hash/maphash"
)

// Bounds on what one direction's requests in flight keep. A peer chooses
// how many requests it leaves unanswered and how long their ids are (up
// to a frame each): a server that asks the client what it never answers,
// or cancels each request at once so that a client that follows the spec
// answers none, and a client that pipelines to a server that never
// answers, would otherwise grow mcpcell's memory for the session's life.
const (
	// maxPending is the most requests of one direction awaiting an
	// answer. Clients keep a few in flight, one per call a model waits
	// for; 4096 is far past that, and its table is under a megabyte.
	maxPending = 4096
	// maxPendingBytes bounds what those requests keep of their sender's
	// choosing: ids, methods and subjects (a tool's name, a URI). Ids are
	// integers or UUIDs in practice: 4 MiB is 100,000 UUIDs, and a quarter
	// of the default max_frame. A request that does not fit is refused,
	// whatever its size: one id or URI of megabytes is not an MCP one.
	maxPendingBytes = 4 << 20
	// maxCancelled is how many cancelled requests of one direction are
	// remembered, by a digest of the id, with the method (some 50 bytes
	// each), so that a late answer to one is dropped and never taken for
	// a later request's under the same id. Past that the oldest is
	// forgotten, and its id is free again: a peer would have to cancel
	// 16,384 requests while one answer is late.
	maxCancelled = 16384
)

// pending is one direction's table of requests awaiting an answer, and
// of the requests their sender cancelled, whose answer may still come.
// The session's mutex guards it.
type pending struct {
	calls map[IDKey]*Call
	bytes int // what calls keep of the sender's choosing (see footprint)
	// cancelled holds, by digest of their id, the requests the sender
	// cancelled; ring holds the digests in the order they came, slot
	// seq%maxCancelled for the seq-th, so that the oldest is forgotten
	// first.
	cancelled map[uint64]tomb
	ring      []uint64
	seq       uint64
	seed      maphash.Seed
}

// tomb is what is left of a cancelled request: for the record of a late
// answer, its method, and which of the ring's entries it is.
type tomb struct {
	method string
	seq    uint64
}

func newPending() *pending {
	return &pending{calls: make(map[IDKey]*Call), seed: maphash.MakeSeed()}
}

// digest is a request id's key in the cancelled table. Its seed is
// random, unknown to the peers: two ids with one digest, which no peer
// can make on purpose, cost a refused request or a dropped stray answer,
// never a call answered with another's answer (live calls are kept by
// their whole id).
func (p *pending) digest(k IDKey) uint64 { return maphash.Comparable(p.seed, k) }

// footprint is what c keeps of its sender's choosing, in bytes.
func footprint(c *Call) int {
	n := len(c.ID.raw) + len(c.Method) + len(c.Subject)
	if c.ID.key.str && len(c.ID.key.v)+2 != len(c.ID.raw) {
		n += len(c.ID.key.v) // an escaped id: its decoded copy
	}
	return n
}

// refusal says why a new request with id cannot be taken: its id is in
// flight, or its request was cancelled and an answer may still come.
func (p *pending) refusal(id ID) (rule, msg string) {
	k := id.Key()
	if _, ok := p.calls[k]; ok {
		return "duplicate-id", "mcpcell: request id " + id.String() + " is already in use"
	}
	if len(p.cancelled) > 0 {
		if _, ok := p.cancelled[p.digest(k)]; ok {
			return "cancelled-id", "mcpcell: request id " + id.String() + " was cancelled, and its answer may still come: use a new id"
		}
	}
	return "", ""
}

// full reports whether n more bytes, of one more request, go past the
// table's bounds.
func (p *pending) full(n int) bool {
	return len(p.calls) >= maxPending || p.bytes+n > maxPendingBytes
}

// add keeps c, unless that goes past the bounds.
func (p *pending) add(c *Call) bool {
	n := footprint(c)
	if p.full(n) {
		return false
	}
	p.calls[c.ID.Key()] = c
	p.bytes += n
	return true
}

// take removes and returns the call awaiting an answer under k; when
// none is, cancelled says that a cancelled request's answer came under
// k, and forgets it: its id is free, no answer is to come for it.
func (p *pending) take(k IDKey) (c *Call, cancelled *tomb) {
	if c = p.calls[k]; c != nil {
		delete(p.calls, k)
		p.bytes -= footprint(c)
		return c, nil
	}
	if len(p.cancelled) == 0 {
		return nil, nil
	}
	d := p.digest(k)
	if t, ok := p.cancelled[d]; ok {
		delete(p.cancelled, d)
		return nil, &t
	}
	return nil, nil
}

// cancel turns the call awaiting an answer under k, if any, into a tomb:
// no answer is owed for it, and one that still comes is dropped.
func (p *pending) cancel(k IDKey) {
	c := p.calls[k]
	if c == nil {
		return
	}
	delete(p.calls, k)
	p.bytes -= footprint(c)
	if p.cancelled == nil {
		p.cancelled = make(map[uint64]tomb)
	}
	d := p.digest(k)
	slot := int(p.seq % maxCancelled)
	if len(p.ring) < maxCancelled {
		p.ring = append(p.ring, d)
	} else {
		// The slot's entry came maxCancelled before this one: forget it,
		// unless its answer came already (and its id was cancelled again).
		old := p.ring[slot]
		if t, ok := p.cancelled[old]; ok && t.seq == p.seq-maxCancelled {
			delete(p.cancelled, old)
		}
		p.ring[slot] = d
	}
	// A method of the protocol's is short; a longer name is a peer's.
	p.cancelled[d] = tomb{method: clipBytes(c.Method, 64), seq: p.seq}
	p.seq++
}

// drain removes and returns the calls awaiting an answer, and forgets
// the cancelled ones.
func (p *pending) drain() []*Call {
	owed := make([]*Call, 0, len(p.calls))
	for _, c := range p.calls {
		owed = append(owed, c)
	}
	clear(p.calls)
	p.bytes = 0
	p.cancelled, p.ring = nil, nil
	return owed
}

// boundError is the refusal of a request its sender's requests in flight
// leave no room for.
func boundError(from string) *Error {
	return &Error{Code: CodeInternalError, Message: fmt.Sprintf("mcpcell: too many requests from the %s await an answer (at most %d, holding %d MiB of ids and names): this one is refused; wait for answers, or cancel some", from, maxPending, maxPendingBytes>>20)}
}
