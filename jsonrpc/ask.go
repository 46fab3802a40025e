package jsonrpc

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"strconv"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// maxAsks bounds mcpcell's own requests to the client awaiting an
// answer: they are few (a question to the user now and then), and a
// server that makes mcpcell ask cannot make it hold more.
const maxAsks = 8

// askPrefix starts the id of every request of mcpcell's own.
const askPrefix = "mcpcell-"

// Unanswered is the message of the error a request of mcpcell's own gets
// when the session ends before the client answers it.
const Unanswered = "the session ended before the client answered"

// Errors of Ask and Notify.
var (
	errSessionOver = errors.New("the session is over")
	errTooManyAsks = errors.New("too many of mcpcell's requests await the client's answer")
)

// Ask sends the client a request of mcpcell's own (not the server's) and
// routes the client's answer to reply instead of the server. reply is
// called once, on one of the session's goroutines: with the result, or
// with the error the client answered, or with an error of mcpcell's when
// the client sent an invalid answer or the session ended first. It must
// not block for long: the client's frames wait for it.
//
// The request's id is a string with 128 random bits, kept in the table of
// requests to the client in flight: a server request that uses it is
// refused like any duplicate id, the server can neither answer nor cancel
// it, and the client's answer never reaches the server. At the end of the
// session the client is told it was cancelled.
//
// ev is the request's audit record: Ask fills in its time, direction,
// kind, method, id and size, and records it before it queues the frame
// (the log writes it once the frames have gone, see flush). The frame
// goes through the writer and redaction every frame to the client takes,
// after the frame the session is handling: Ask never blocks on the
// client, and may be called from a Policy's methods.
func (s *Session) Ask(method string, params []byte, ev Event, reply func(result []byte, err *Error)) (ID, error) {
	if err := checkParams(params); err != nil {
		return ID{}, err
	}
	s.mu.Lock()
	switch {
	case s.down == nil, s.serverGone, s.ended:
		s.mu.Unlock()
		return ID{}, errSessionOver
	case s.auditErr != nil:
		err := s.auditErr
		s.mu.Unlock()
		return ID{}, err
	case s.asks >= maxAsks:
		s.mu.Unlock()
		return ID{}, errTooManyAsks
	}
	id := s.newAskID()
	c := &Call{ID: id, Method: method, Subject: ev.Subject, start: s.now(), reply: reply}
	if !s.down.add(c) {
		s.mu.Unlock()
		return ID{}, errors.New("too many requests to the client await an answer")
	}
	s.asks++
	s.mu.Unlock()

	frame := make([]byte, 0, 64+len(method)+len(params))
	frame = append(frame, `{"jsonrpc":"2.0","id":`...)
	frame = append(frame, id.Raw()...)
	frame = append(frame, `,"method":`...)
	frame = append(frame, jsontext.Quote(method)...)
	frame = append(frame, `,"params":`...)
	frame = append(append(frame, params...), '}')
	ev.Dir, ev.Kind, ev.Method, ev.ID, ev.Size = Down, Request, method, id, len(frame)
	if ev.Decision == "" {
		ev.Decision = "ask"
	}
	s.record(ev) // in full: each of mcpcell's questions is a record
	s.queue(frame)
	return id, nil
}

// Notify sends the client a notification of mcpcell's own, after the
// frame the session is handling, and records it under rule (counted
// with its repeats, as every notification is).
func (s *Session) Notify(method string, params []byte, rule string) error {
	if params != nil {
		if err := checkParams(params); err != nil {
			return err
		}
	}
	s.mu.Lock()
	over := s.down == nil || s.ended
	s.mu.Unlock()
	if over {
		return errSessionOver
	}
	frame := make([]byte, 0, 48+len(method)+len(params))
	frame = append(frame, `{"jsonrpc":"2.0","method":`...)
	frame = append(frame, jsontext.Quote(method)...)
	if params != nil {
		frame = append(append(frame, `,"params":`...), params...)
	}
	frame = append(frame, '}')
	s.event(Event{Dir: Down, Kind: Notification, Method: method, Decision: "allow", Rule: rule, Size: len(frame)}, "", "")
	s.queue(frame)
	return nil
}

// Record writes e to the audit log in full (never counted with repeats),
// and says note on stderr unless it is empty.
func (s *Session) Record(e Event, note string) {
	s.record(e)
	if note != "" {
		s.note("%s", note)
	}
}

func checkParams(params []byte) error {
	if err := jsontext.Validate(params); err != nil {
		return err
	}
	if jsontext.TypeOf(params) != "object" {
		return errors.New(`"params" must be an object`)
	}
	return nil
}

// newAskID makes an id for a request of mcpcell's own that no request to
// the client in flight has. Called with s.mu held.
func (s *Session) newAskID() ID {
	for {
		var b [16]byte
		rand.Read(b[:])
		v := askPrefix + hex.EncodeToString(b[:])
		id := ID{raw: `"` + v + `"`, key: IDKey{str: true, v: v}}
		if rule, _ := s.down.refusal(id); rule == "" {
			return id
		}
	}
}

// queue holds a frame of mcpcell's own for the client until the frame
// being handled is done (see sendQueued).
func (s *Session) queue(frame []byte) {
	s.mu.Lock()
	s.outbox = append(s.outbox, frame)
	s.mu.Unlock()
}

// sendQueued writes the frames of mcpcell's own that wait, in order.
func (s *Session) sendQueued() {
	s.mu.Lock()
	out := s.outbox
	s.outbox = nil
	s.mu.Unlock()
	for _, f := range out {
		s.sendFrame(s.toClient, f)
	}
}

// answered hands the client's answer (or mcpcell's error in its place)
// to the reply of a request of mcpcell's own, taken from the table.
func (s *Session) answered(c *Call, result []byte, e *Error) {
	s.mu.Lock()
	s.asks--
	s.mu.Unlock()
	c.reply(result, e)
}

// errorOf reads a JSON-RPC error object a peer sent.
func errorOf(raw []byte) *Error {
	e := &Error{Code: CodeInternalError, Message: "an error without a message"}
	if n, err := strconv.Atoi(string(jsontext.Lookup(raw, "code"))); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
		e.Code = n
	}
	if s, ok := jsontext.String(jsontext.Lookup(raw, "message")); ok {
		e.Message = s
	}
	return e
}

// endAsks ends mcpcell's own requests still awaiting the client at the end
// of the session: each is cancelled (a late answer is dropped), the client
// is told so, and its reply gets an error. Nothing waits on them.
func (s *Session) endAsks() {
	s.mu.Lock()
	s.ended = true
	var owed []*Call
	for k, c := range s.down.calls {
		if c.reply != nil {
			owed = append(owed, c)
			s.down.cancel(k)
		}
	}
	s.asks -= len(owed) // one taken already is ended by answered
	s.mu.Unlock()
	for _, c := range owed {
		params := append(append([]byte(`{"requestId":`), c.ID.Raw()...), `,"reason":"mcpcell: the session ended"}`...)
		s.queue(append(append([]byte(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":`), params...), '}'))
		c.reply(nil, &Error{Code: CodeInternalError, Message: Unanswered})
	}
}

// ownCall reports whether id names a request of mcpcell's own awaiting
// the client. Called with s.mu held.
func (s *Session) ownCall(id ID) bool {
	c := s.down.calls[id.Key()]
	return c != nil && c.reply != nil
}
