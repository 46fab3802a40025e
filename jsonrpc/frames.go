package jsonrpc

import (
	"fmt"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// frame handles one frame: strict decoding, then each message in it.
func (s *Session) frame(dir Direction, frame []byte) {
	if dir == Down && !looksJSON(frame) {
		s.event(Event{Dir: Down, Decision: "drop", Rule: "non-json", Size: len(frame), Note: "the server wrote a line on stdout that is not JSON"},
			fmt.Sprintf("the server wrote a non-JSON line on stdout (not passed to the client): %s", s.quote(frame)),
			"non-JSON lines from the server on stdout (not passed to the client)")
		return
	}
	if err := jsontext.Validate(frame); err != nil {
		sk := sketchOf(frame)
		if sk.Batch && sk.Whole && len(sk.Elements) > 0 && s.ip.Policy.Batches() {
			// The fault is inside elements, which any parser tells apart:
			// those that pass go on, the others are answered one by one.
			elems := make([][]byte, 0, len(sk.Elements))
			for _, e := range sk.Elements {
				elems = append(elems, frame[e.Start:e.End])
			}
			s.batch(dir, frame, elems, false)
			return
		}
		s.refuseFrame(dir, sk, CodeParseError, "invalid JSON: "+err.Error(), "strict-json")
		return
	}
	if frame[0] != '[' {
		s.message(dir, frame, nil)
		return
	}
	if !s.ip.Policy.Batches() {
		s.refuseElements(dir, frame, "batches are allowed only in protocol version 2025-03-26")
		return
	}
	n := 0
	jsontext.EachElement(frame, func([]byte) bool { n++; return n <= BatchKeep })
	if n > BatchKeep {
		// A batch is a handful of calls, not a frame's worth of tiny
		// elements each kept until the batch's answer.
		s.refuseElements(dir, frame, fmt.Sprintf("a batch of more than %d messages", BatchKeep))
		return
	}
	elems, _ := jsontext.Elements(frame)
	if len(elems) == 0 {
		s.refuseMessage(dir, sketch{}, CodeInvalidRequest, "empty batch", "batch")
		return
	}
	s.batch(dir, frame, elems, true)
}

// looksJSON reports whether a line from the server starts as a JSON
// object or array does, after white space.
func looksJSON(frame []byte) bool {
	for _, c := range frame {
		switch c {
		case ' ', '\t':
			continue
		case '{', '[':
			return true
		}
		return false
	}
	return false
}

// batch handles the elements of a batch frame; valid says they passed
// strict decoding with the frame. It sends on what passes as one batch:
// the frame itself when every message passed unchanged.
func (s *Session) batch(dir Direction, frame []byte, elems [][]byte, valid bool) {
	b := &batch{changed: !valid}
	for _, e := range elems {
		if !valid {
			if err := jsontext.ValidateNested(e, 1); err != nil {
				s.refuseMessage(dir, sketchOf(e), CodeParseError, "invalid JSON: "+err.Error(), "strict-json")
				b.changed = true
				continue
			}
		}
		if jsontext.TypeOf(e) != "object" {
			s.refuseMessage(dir, sketch{}, CodeInvalidRequest, "a batch may hold only objects", "batch")
			b.changed = true
			continue
		}
		s.message(dir, e, b)
	}
	switch {
	case len(b.frames) == 0:
	case !b.changed:
		s.sendFrame(s.peer(dir), frame)
	default:
		out := []byte{'['}
		for i, f := range b.frames {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, f...)
		}
		s.sendFrame(s.peer(dir), append(out, ']'))
	}
}

// batch collects what a batch frame sends on, so that it goes on as one
// batch: the original bytes when every message passed unchanged.
type batch struct {
	frames  [][]byte
	changed bool
}

// skip marks that a message of the batch does not go on as it came.
func (b *batch) skip() {
	if b != nil {
		b.changed = true
	}
}

// forward sends frame on to the peer, or adds it to b; orig is the
// message as received.
func (s *Session) forward(dir Direction, frame, orig []byte, b *batch) error {
	if frame == nil {
		frame = orig
	}
	if b == nil {
		return s.peer(dir).Write(frame)
	}
	b.frames = append(b.frames, frame)
	b.changed = b.changed || &frame[0] != &orig[0] || len(frame) != len(orig)
	return nil
}

// refuseElements refuses a batch that passed strict decoding, each of
// its messages on its own, as it walks them: every request in it gets
// its error, however many there are, and nothing is kept.
func (s *Session) refuseElements(dir Direction, frame []byte, msg string) {
	n := 0
	jsontext.EachElement(frame, func(e []byte) bool {
		n++
		s.refuseMessage(dir, sketchOf(e), CodeInvalidRequest, msg, "batch")
		return true
	})
	if n == 0 { // [] is answered once, with id null
		s.refuseMessage(dir, sketch{}, CodeInvalidRequest, msg, "batch")
	}
}

// refuseFrame answers a frame that is not taken, from what a lenient
// reading found in it (see refuseMessage): each message of a batch on
// its own.
func (s *Session) refuseFrame(dir Direction, sk sketch, code int, msg, rule string) {
	if !sk.Batch {
		s.refuseMessage(dir, sk, code, msg, rule)
		return
	}
	if len(sk.Elements) == 0 {
		s.refuseMessage(dir, sketch{}, code, msg, rule)
	}
	for _, e := range sk.Elements {
		s.refuseMessage(dir, e, code, msg, rule)
	}
}

// refuseMessage answers a message that is not taken, in its own id
// space, from what a lenient reading found in it (sk): a request (it has
// a method) gets the error, sent to its sender, under its id as sent; a
// response (a result or an error, no method) fails the request it
// answers, if one is waiting (an error to the requester, under the
// requester's id), and is dropped if none is; so does a message that is
// neither, when a request waits for its id, and otherwise it is answered
// as a request. A response never lands on a request of its sender's own:
// the client's and the server's ids are apart.
func (s *Session) refuseMessage(dir Direction, sk sketch, code int, msg, rule string) {
	kind := sk.Kind()
	ev := Event{Dir: dir, Kind: kind, ID: sk.ID, Decision: "deny", Rule: rule, Note: msg}
	if dir == Down {
		s.event(ev, "refused a frame from the server: "+msg, "frames refused from the server ("+rule+")")
	} else {
		s.event(ev, "", "")
	}
	if kind != Request && !sk.ID.IsZero() {
		// A broken reply the requester is waiting for is answered, so
		// that it does not wait for ever: also one whose id is a number
		// the requester's id reads as (29.0 for 29). One to a request
		// its sender cancelled is dropped: nothing waits for it.
		c, late := s.takeAnswered(dir, sk.ID)
		if c != nil && c.reply != nil {
			s.answered(c, nil, &Error{Code: CodeInternalError, Message: "the client sent an invalid response: " + msg})
			return
		}
		if c != nil {
			s.sendError(s.peer(dir), c.ID, &Error{Code: CodeInternalError, Message: "mcpcell: the " + dir.from() + " sent an invalid response: " + msg})
			return
		}
		if late {
			return
		}
	}
	switch {
	case kind == Notification, kind == Response:
		return // nothing waits for it
	case dir == Down && !sk.HasID:
		return // the server waits for no answer to what has no id
	}
	s.sendError(s.sender(dir), sk.ID, &Error{Code: code, Message: "mcpcell: " + msg})
}

// takeAnswered takes the request that a response travelling in dir
// with id answers: one sent the other way, under id or under the integer
// id a JavaScript peer reads id as. late says it answers a request its
// sender cancelled (see pending.take).
func (s *Session) takeAnswered(dir Direction, id ID) (c *Call, late bool) {
	reqDir := Up
	if dir == Up {
		reqDir = Down
	}
	c, t := s.take(reqDir, id)
	if key, ok := id.alias(); c == nil && t == nil && ok {
		c, t = s.takeKey(reqDir, key)
	}
	return c, t != nil
}
