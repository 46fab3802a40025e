package jsonrpc

import (
	"fmt"
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"strings"
	"sync"
	"time"
)

// RepeatWindow is how long repeats of one kind of event are counted
// before their count is recorded.
//
// The events a peer can repeat at will are refusals, drops, mcpcell's
// answers in place of a peer, every notification, pings, and the server's
// requests to the client with their answers: of each kind
// (direction, message kind, decision, rule, method) the first in a window
// is recorded in full, and said on stderr when it has a note, and the
// rest of the window become one record with Event.Count, and one stderr
// line, when it ends. A policy needs nothing more than its Verdict: to
// drop a notification and say so, return
//
//	Verdict{Action: Drop, Rule: "client notifications", Note: "dropped notifications/x from the client"}
//
// and a flood of them costs a record and a line or two per second.
const RepeatWindow = time.Second

// Bounds on what one window keeps apart. A peer chooses method names
// (an unknown method is refused under one rule, whatever its name), so
// one rule keeps at most maxMethods methods apart in a window and counts
// the rest together. And one direction records at most maxKinds kinds in
// full in a window, the rest counted together per decision: a peer's
// flood adds at most some 2 × maxKinds records a second, and cannot use
// up the other direction's.
const (
	maxMethods = 16
	maxKinds   = 32
)

// repeatKey is what makes events the same kind: direction, message kind,
// decision, rule and method; never the id, the subject or a note, which a
// peer varies at will.
type repeatKey struct {
	dir      Direction
	kind     Kind
	decision string
	rule     string
	method   string
	other    bool // the methods of this rule beyond maxMethods
}

// repeat counts one kind of event in the current window.
type repeat struct {
	first  Event  // the first of the window: its time and kind
	what   string // what the repeats are, for stderr; "" to say nothing there
	record bool   // the repeats get a record (notes alone do not)
	other  bool   // a count of the methods beyond maxMethods, none in full
	n      int    // events counted after the first (all of them for other)
}

// repeatWindow holds the counts of one window. A window opens with the
// first repeating event and closes RepeatWindow later: its counts are
// recorded then, by the next event or by a timer, whichever comes first.
type repeatWindow struct {
	mu      sync.Mutex
	start   time.Time // zero: no window open
	kinds   map[repeatKey]*repeat
	methods map[repeatKey]int // methods kept apart, by kind without its method
	full    [3]int            // kinds recorded in full, by direction
	order   []repeatKey       // as first seen: counts come out in that order
	timer   *time.Timer
}

// repeating reports whether e is of the events a peer can repeat at
// will: refusals, drops, mcpcell's answers in place of a peer, every
// notification, pings, and what the server asks of the client (with the
// client's answers), since the server asks at will. The client's allowed
// calls and their replies are recorded one by one.
func repeating(e *Event) bool {
	switch {
	case e.Decision != "allow", e.Kind == Notification, e.Method == "ping":
		return true
	case e.Dir == Down && e.Kind == Request, e.Dir == Up && e.Kind == Response:
		return true
	}
	return false
}

// admit counts e in the window, opening one if none is open. first says
// that e is the first of its kind there, to be recorded (and noted) in
// full; due holds the counts of a window that had ended, to be written
// before it.
func (w *repeatWindow) admit(k repeatKey, e *Event, what string, record bool, now time.Time, arm func()) (first bool, due []*repeat) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.start.IsZero() && now.Sub(w.start) >= RepeatWindow {
		due = w.takeLocked()
	}
	if w.start.IsZero() {
		w.start = now
		arm()
	}
	if c := w.kinds[k]; c != nil {
		c.n++
		return false, due
	}
	if w.kinds == nil {
		w.kinds = make(map[repeatKey]*repeat)
		w.methods = make(map[repeatKey]int)
	}
	rule := k
	rule.method = ""
	full := &w.full[k.dir%3]
	if w.methods[rule] < maxMethods && *full < maxKinds {
		w.methods[rule]++
		*full++
		// Only what the count's record takes is kept: a window holds no
		// frame's worth of a peer's strings.
		first := Event{Time: e.Time, Dir: e.Dir, Kind: e.Kind, Decision: e.Decision, Rule: e.Rule, Method: k.method}
		w.kinds[k] = &repeat{first: first, what: what, record: record}
		w.order = append(w.order, k)
		return true, due
	}
	// Counted with the others of its rule, or of its direction, beyond the
	// bound; none in full.
	if *full >= maxKinds {
		rule = repeatKey{dir: k.dir, decision: k.decision, rule: otherKinds}
	}
	rule.other = true
	c := w.kinds[rule]
	if c == nil {
		c = &repeat{first: Event{Dir: e.Dir, Kind: rule.kind, Decision: e.Decision, Rule: rule.rule}, record: true, other: true}
		w.kinds[rule] = c
		w.order = append(w.order, rule)
	}
	c.n++
	if what != "" {
		c.what = "events from the " + e.Dir.from() + " of other kinds or methods (" + rule.rule + ")"
	}
	return false, due
}

// clipMethod keeps the start of a method name for a kind: names a peer
// makes longer are one kind, and a window keeps no more of them.
func clipMethod(m string) string { return clipBytes(m, 1024) }

// clipBytes keeps at most n bytes of s, cut at a character's start, in a
// copy of its own when cut (s may point into a large frame).
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.Clone(utf8cut.Cut(s, n))
}

// otherKinds is the rule of a count of events beyond maxKinds kinds.
const otherKinds = "repeats: more kinds in one second than are recorded in full"

// take closes the window, if one is open, and returns its counts.
func (w *repeatWindow) take() []*repeat {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.takeLocked()
}

// takeDue closes the window if it has ended by now; otherwise wait says
// how long until it does.
func (w *repeatWindow) takeDue(now time.Time) (due []*repeat, wait time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.start.IsZero() {
		return nil, 0
	}
	if left := RepeatWindow - now.Sub(w.start); left > 0 {
		return nil, left
	}
	return w.takeLocked(), 0
}

func (w *repeatWindow) takeLocked() []*repeat {
	var due []*repeat
	for _, k := range w.order {
		if c := w.kinds[k]; c.n > 0 {
			due = append(due, c)
		}
	}
	w.start = time.Time{}
	clear(w.kinds)
	clear(w.methods)
	w.full = [3]int{}
	w.order = w.order[:0]
	return due
}

// event records e and says note on stderr, unless e repeats a kind of
// event already recorded in full in this second (see repeating): then it
// is counted, and the count is recorded, and said on stderr where what
// is set, when the second ends. note is what stderr says about this
// event ("" for nothing); what names repeats of its kind, in the plural.
func (s *Session) event(e Event, note, what string) {
	s.count(e, note, what, true)
}

// noteOnce says note on stderr with the same bound, and records nothing.
func (s *Session) noteOnce(dir Direction, rule, note, what string) {
	s.count(Event{Dir: dir, Decision: "note", Rule: rule}, note, what, false)
}

func (s *Session) count(e Event, note, what string, record bool) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if record && !repeating(&e) {
		s.record(e)
		if note != "" {
			s.note("%s", note)
		}
		return
	}
	method := e.Method
	if s.ip.RedactText != nil && len(method) > 8 {
		method = string(s.ip.RedactText([]byte(method))) // before the cut, which could split a value
	}
	k := repeatKey{dir: e.Dir, kind: e.Kind, decision: e.Decision, rule: e.Rule, method: clipMethod(method)}
	first, due := s.repeats.admit(k, &e, what, record, e.Time, s.armRepeats)
	s.writeRepeats(due)
	if !first {
		return
	}
	if record {
		s.record(e)
	}
	if note != "" {
		s.note("%s", note)
	}
}

// armRepeats starts the timer that writes a window's counts when it
// ends, also when nothing follows. Called with the window's lock held.
func (s *Session) armRepeats() {
	if s.repeats.timer == nil {
		s.repeats.timer = time.AfterFunc(RepeatWindow, s.repeatTimer)
		return
	}
	s.repeats.timer.Reset(RepeatWindow)
}

func (s *Session) repeatTimer() {
	due, wait := s.repeats.takeDue(s.now())
	if wait > 0 {
		// s.now has not reached the window's end (a test's clock).
		s.repeats.mu.Lock()
		s.repeats.timer.Reset(wait)
		s.repeats.mu.Unlock()
		return
	}
	s.writeRepeats(due)
	if len(due) > 0 {
		if sy, ok := s.ip.Recorder.(syncer); ok {
			s.recordFailed(sy.Sync())
		}
	}
}

// EndCounts records the counts of repeated events now instead of at the
// end of their second: at the end of a session, before its last record.
func (s *Session) EndCounts() {
	s.writeRepeats(s.repeats.take())
}

// writeRepeats records each count and says it on stderr.
func (s *Session) writeRepeats(due []*repeat) {
	if len(due) == 0 {
		return
	}
	now := s.now()
	for _, c := range due {
		f := c.first
		if c.record {
			e := Event{Time: now, Dir: f.Dir, Kind: f.Kind, Method: f.Method, Decision: f.Decision, Rule: f.Rule, Count: c.n}
			if c.other {
				e.Note = fmt.Sprintf("%d events counted together: more than %d methods of one rule, or %d kinds from one side, came in one second", c.n, maxMethods, maxKinds)
			} else {
				e.Note = fmt.Sprintf("%d more of this kind since %s, when the first was recorded in full", c.n, f.Time.UTC().Format(time.RFC3339Nano))
			}
			s.record(e)
		}
		if c.what != "" {
			s.note("%d more %s in the same second", c.n, c.what)
		}
	}
}
