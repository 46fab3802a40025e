package jsonrpc

import (
	"fmt"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

func (s *Session) message(dir Direction, raw []byte, b *batch) {
	m, err := Parse(raw)
	if err != nil {
		b.skip()
		s.refuseMessage(dir, sketchOf(raw), CodeInvalidRequest, "invalid message: "+err.Error(), "jsonrpc")
		return
	}
	switch m.Kind {
	case Request:
		s.request(dir, m, b)
	case Notification:
		s.notification(dir, m, b)
	case Response:
		s.response(dir, m, b)
	}
}

func (s *Session) request(dir Direction, m *Message, b *batch) {
	s.mu.Lock()
	gone, auditErr := s.serverGone, s.auditErr
	owed := s.owed(dir)
	inUse, inUseMsg := owed.refusal(m.ID)
	full := owed.full(footprint(&Call{ID: m.ID, Method: m.Method}))
	s.mu.Unlock()
	switch {
	case dir == Up && gone:
		b.skip()
		s.refuse(dir, m.ID, m.Method, &Error{Code: CodeInternalError, Message: "mcpcell: the server has exited"}, "server-exited")
		return
	case auditErr != nil:
		b.skip()
		s.refuse(dir, m.ID, m.Method, auditError(auditErr), "audit")
		return
	case inUse != "":
		b.skip()
		s.refuse(dir, m.ID, m.Method, &Error{Code: CodeInvalidRequest, Message: inUseMsg}, inUse)
		return
	case full:
		// Before the policy, which would take an initialize for one in
		// flight.
		b.skip()
		s.refuseFull(dir, m.ID, m.Method)
		return
	}
	s.ip.observe(dir, nil, m)
	v := s.ip.Policy.Message(dir, m)
	ev := Event{Dir: dir, Kind: Request, Method: m.Method, ID: m.ID, Subject: v.Subject, Decision: v.Action.String(), Rule: v.Rule, Shape: v.Shape, Size: len(m.Raw)}
	switch v.Action {
	case Forward:
		c := &Call{ID: m.ID, Method: m.Method, Subject: v.Subject, start: s.now(), State: v.State}
		s.mu.Lock()
		// The server may have exited while the policy decided: once the
		// calls in flight are answered (Run's drain), none is added.
		gone = dir == Up && s.serverGone
		kept := !gone && owed.add(c) // its subject may not fit
		s.mu.Unlock()
		switch {
		case gone:
			b.skip()
			s.refuse(dir, m.ID, m.Method, &Error{Code: CodeInternalError, Message: "mcpcell: the server has exited"}, "server-exited")
			return
		case !kept:
			b.skip()
			s.refuseFull(dir, m.ID, m.Method)
			return
		}
		// The call's record is kept before the call goes on (pings are
		// counted), and a call whose record cannot be kept is refused.
		// The log writes the record once the burst's frames have gone
		// (see flush): a failure to write it refuses the calls after it.
		s.event(ev, "", "")
		// Below, the call is answered only if it is still in flight: the
		// drain at the server's exit may have answered it already.
		if err := s.auditFailure(); err != nil {
			b.skip()
			if c, _ := s.take(dir, m.ID); c != nil {
				s.sendError(s.sender(dir), m.ID, auditError(err))
			}
			return
		}
		if err := s.forward(dir, v.Frame, m.Raw, b); err != nil {
			if c, _ := s.take(dir, m.ID); c != nil {
				s.sendError(s.sender(dir), m.ID, &Error{Code: CodeInternalError, Message: "mcpcell: cannot deliver the request: " + err.Error()})
			}
		}
	case Answer:
		b.skip()
		s.event(ev, "", "")
		s.sendFrame(s.sender(dir), ResultResponse(m.ID, v.Result))
	default: // Refuse, and Drop, which a request cannot take
		b.skip()
		if v.Err == nil {
			v.Err = &Error{Code: CodeInvalidRequest, Message: "mcpcell: refused"}
		}
		ev.Decision, ev.Note = "deny", v.Err.Message
		s.event(ev, "", "")
		s.sendError(s.sender(dir), m.ID, v.Err)
	}
}

func auditError(err error) *Error {
	return &Error{Code: CodeInternalError, Message: "mcpcell: the audit log cannot be written, so no call is made: " + err.Error()}
}

func (s *Session) notification(dir Direction, m *Message, b *batch) {
	s.ip.observe(dir, nil, m)
	v := s.ip.Policy.Message(dir, m)
	ev := Event{Dir: dir, Kind: Notification, Method: m.Method, Subject: v.Subject, Decision: v.Action.String(), Rule: v.Rule, Size: len(m.Raw), Note: v.Note}
	what := ""
	if v.Note != "" {
		what = s.quote([]byte(m.Method)) + " notifications from the " + dir.from() + " with a note like the one before"
	}
	if v.Action != Forward {
		b.skip()
		ev.Decision = "drop"
		s.event(ev, v.Note, what)
		return
	}
	if m.Method == CancelMethod {
		if id, err := readID(jsontext.Lookup(m.Params, "requestId")); err == nil {
			s.mu.Lock()
			// Only mcpcell cancels its own requests: the client would
			// take a server's cancel of one as mcpcell's.
			own := dir == Down && s.ownCall(id)
			if !own {
				s.owed(dir).cancel(id.Key())
			}
			s.mu.Unlock()
			if own {
				b.skip()
				ev.Decision, ev.Rule, ev.Note = "drop", "mcpcell-request", "the server named a request of mcpcell's own"
				s.event(ev, "dropped the server's notifications/cancelled: it names a request of mcpcell's own", "cancels from the server naming requests of mcpcell's own (dropped)")
				return
			}
		}
	}
	// Recorded as the first of its kind in a second, then counted.
	s.event(ev, v.Note, what)
	s.forward(dir, v.Frame, m.Raw, b)
}

func (s *Session) response(dir Direction, m *Message, b *batch) {
	// A response travelling in dir answers a request that travelled the
	// other way.
	reqDir := Up
	if dir == Up {
		reqDir = Down
	}
	c, late := s.take(reqDir, m.ID)
	if late != nil {
		// Its sender has stopped waiting, and may have used the id again
		// since the tomb was forgotten: nothing may take it for another.
		b.skip()
		s.event(Event{Dir: dir, Kind: Response, Method: late.method, ID: m.ID, Decision: "drop", Rule: "cancelled", Size: len(m.Raw), Note: "the answer to a request its sender cancelled"}, "", "")
		return
	}
	if c != nil && c.reply != nil {
		// The client's answer to mcpcell's own request: mcpcell's to
		// read, never the server's.
		b.skip()
		var e *Error
		if m.Error != nil {
			e = errorOf(m.Error)
		}
		s.answered(c, m.Result, e)
		return
	}
	if c == nil {
		b.skip()
		s.event(Event{Dir: dir, Kind: Response, ID: m.ID, Decision: "drop", Rule: "unknown-id", Size: len(m.Raw), Note: "no request is waiting for this id"},
			fmt.Sprintf("dropped a response from the %s with id %s: no request is waiting for it", dir.from(), s.quote(m.ID.Raw())),
			"responses from the "+dir.from()+" that no request was waiting for (dropped)")
		return
	}
	s.ip.observe(dir, c, m)
	v := s.ip.Policy.Reply(dir, c, m)
	ev := Event{Dir: dir, Kind: Response, Method: c.Method, ID: m.ID, Subject: c.Subject, Decision: v.Action.String(), Rule: v.Rule, Duration: s.now().Sub(c.start), Size: len(m.Raw), IsError: v.IsError || m.Error != nil, Note: v.Note}
	what := ""
	if v.Note != "" {
		what = s.quote([]byte(c.Method)) + " replies from the " + dir.from() + " with a note like the one before"
	}
	if v.Action == Forward {
		s.event(ev, v.Note, what)
		s.forward(dir, v.Frame, m.Raw, b)
		return
	}
	b.skip()
	if v.Err == nil {
		v.Err = &Error{Code: CodeInternalError, Message: "mcpcell: the response was refused"}
	}
	ev.Decision, ev.Note = "deny", v.Err.Message
	s.event(ev, v.Note, what)
	s.sendError(s.peer(dir), m.ID, v.Err)
}

// refuse answers a request that is not forwarded, and records it.
func (s *Session) refuse(dir Direction, id ID, method string, e *Error, rule string) {
	s.event(Event{Dir: dir, Kind: Request, Method: method, ID: id, Decision: "deny", Rule: rule, Note: e.Message}, "", "")
	s.sendError(s.sender(dir), id, e)
}

// refuseFull answers a request its sender's requests in flight leave no
// room for (see maxPending), records it and says so on stderr, the
// repeats counted.
func (s *Session) refuseFull(dir Direction, id ID, method string) {
	e := boundError(dir.from())
	s.event(Event{Dir: dir, Kind: Request, Method: method, ID: id, Decision: "deny", Rule: "pending-bound", Note: e.Message},
		"refused a request from the "+dir.from()+": "+e.Message[len("mcpcell: "):],
		"requests from the "+dir.from()+" refused: too many await an answer")
	s.sendError(s.sender(dir), id, e)
}
