package jsonrpc

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// Direction is the way a frame travels.
type Direction uint8

const (
	// Up is client to server.
	Up Direction = iota + 1
	// Down is server to client.
	Down
)

// from names who sends frames travelling in d.
func (d Direction) from() string {
	if d == Up {
		return "client"
	}
	return "server"
}

func (d Direction) String() string {
	if d == Up {
		return "client-to-server"
	}
	return "server-to-client"
}

// Action is what the interposer does with a message.
type Action uint8

const (
	// Forward passes the message on, as received or as Verdict.Frame.
	Forward Action = iota
	// Refuse answers a request with Verdict.Err; other messages are dropped.
	Refuse
	// Answer answers a request with the result Verdict.Result, in place of
	// the peer.
	Answer
	// Drop discards a notification or response.
	Drop
)

func (a Action) String() string {
	return [...]string{"allow", "deny", "answer", "drop"}[a]
}

// Verdict is a policy's decision on one message.
type Verdict struct {
	Action  Action
	Frame   []byte // Forward: replacement frame; nil forwards the original
	Err     *Error // Refuse
	Result  []byte // Answer
	Rule    string // which rule decided, for the audit log
	Subject string // tool or prompt name, or URI
	Shape   string // argument names and JSON types, never values
	IsError bool   // a tool result that reports an error
	State   any    // kept with a forwarded request, handed back with its reply
	Note    string // for the user: said on stderr and kept in the audit record (repeats counted: see RepeatWindow)
}

// Call is a request in flight.
type Call struct {
	ID      ID
	Method  string
	Subject string
	Start   time.Time
	State   any
	// reply, on a request of mcpcell's own to the client (see Ask),
	// takes the client's answer in place of the server.
	reply func(result []byte, err *Error)
}

// Policy decides on every message. It is asked from two goroutines, one
// per direction, and must be safe for that.
type Policy interface {
	// Message decides on a request or notification travelling in dir.
	Message(dir Direction, m *Message) Verdict
	// Reply decides on a response travelling in dir to the request c.
	Reply(dir Direction, c *Call, m *Message) Verdict
	// Batches reports whether a frame may be an array of messages (the
	// 2025-03-26 protocol).
	Batches() bool
}

// Event is one decision, for the audit log.
type Event struct {
	Time     time.Time
	Dir      Direction
	Kind     Kind
	Method   string
	ID       ID
	Subject  string
	Decision string
	Rule     string
	Shape    string
	Duration time.Duration
	Size     int
	IsError  bool
	// Count, on a record of repeats, is how many events of the kind
	// before it this record stands for (see RepeatWindow).
	Count int
	Note  string
}

// Recorder keeps events. An error from Record means the record is lost;
// the interposer then refuses new requests.
type Recorder interface {
	Record(Event) error
}

// A Syncer is a Recorder that may hold records in memory: the interposer
// calls Sync once the frames of a burst have gone out, so that records are
// written while the peers work, and treats an error as it does one from
// Record.
type Syncer interface {
	Sync() error
}

// CancelMethod is the notification that cancels a request in flight.
// The interposer then owes its sender no answer, refuses the id for a new
// request while an answer may still come, and drops one that does.
const CancelMethod = "notifications/cancelled"

// Interposer pumps frames between a client and a server and asks a
// Policy about each message. It records every decision; those a peer can
// repeat at will are counted (see RepeatWindow). It keeps each side's
// requests in flight until they are answered or cancelled, within bounds
// (4096 requests and 4 MiB of their ids and names each way): a request
// past them is refused to its sender.
type Interposer struct {
	Policy   Policy
	Recorder Recorder // nil records nothing
	MaxFrame int      // 0 means DefaultMaxFrame
	Notes    io.Writer
	// ClientClosed is called once the client's input ends.
	ClientClosed func()
	// Redact, when set, is applied to every frame written to the client.
	Redact func([]byte) []byte
	// RedactText, when set, is applied to what a note quotes of a peer's
	// output, before it is shortened: a value cut in two would not be
	// found.
	RedactText func([]byte) []byte
	Now        func() time.Time

	mu         sync.Mutex
	upPending  *pending // client requests awaiting the server
	down       *pending // server requests awaiting the client
	serverGone bool
	ended      bool // the session is over: mcpcell sends nothing of its own
	asks       int  // mcpcell's own requests awaiting the client (see Ask)
	outbox     [][]byte
	auditErr   error
	toClient   *Writer
	toServer   *Writer
	repeats    repeatWindow
	// busy is held by the client's pump while it handles a frame and
	// writes its answer; Finish takes it for good.
	busy chan struct{}
}

// Run pumps until the server's output ends, answers every request still
// owed an answer, and returns. The client pump may still be reading then;
// it answers anything more itself, until Finish.
func (ip *Interposer) Run(clientIn io.Reader, clientOut io.Writer, serverIn io.WriteCloser, serverOut io.Reader) error {
	if ip.Now == nil {
		ip.Now = time.Now
	}
	if ip.Notes == nil {
		ip.Notes = io.Discard
	}
	ip.upPending = newPending()
	ip.down = newPending()
	ip.toClient = NewWriter(clientOut)
	ip.toClient.filter = ip.Redact
	ip.toServer = NewWriter(serverIn)
	ip.busy = make(chan struct{}, 1)
	go func() {
		// pump returns only when its input ends, with why.
		if err := ip.pump(Up, clientIn); !errors.Is(err, io.EOF) {
			ip.note("reading from the client: %v", err)
		}
		serverIn.Close()
		if ip.ClientClosed != nil {
			ip.ClientClosed()
		}
	}()
	err := ip.pump(Down, serverOut)
	ip.mu.Lock()
	ip.serverGone = true
	owed := ip.upPending.drain() // a cancelled request is owed no answer
	ip.mu.Unlock()
	for _, c := range owed {
		ip.refuse(Up, c.ID, c.Method, &Error{Code: CodeInternalError, Message: "mcpcell: the server exited before answering"}, "server-exited")
	}
	ip.endAsks()
	ip.EndCounts()
	ip.flush()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (ip *Interposer) note(format string, args ...any) {
	fmt.Fprintf(ip.Notes, "mcpcell: "+format+"\n", args...)
}

func (ip *Interposer) record(e Event) {
	if ip.Recorder == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = ip.Now()
	}
	ip.recordFailed(ip.Recorder.Record(e))
}

// recordFailed notes the first failure of the audit log; from then on new
// requests are refused.
func (ip *Interposer) recordFailed(err error) {
	if err != nil {
		ip.mu.Lock()
		first := ip.auditErr == nil
		if first {
			ip.auditErr = err
		}
		ip.mu.Unlock()
		if first {
			ip.note("audit log: %v; new requests are refused", err)
		}
	}
}

// sender is the writer back to whoever sent a frame travelling in dir;
// peer is the one it travels to.
func (ip *Interposer) sender(dir Direction) *Writer {
	if dir == Up {
		return ip.toClient
	}
	return ip.toServer
}

func (ip *Interposer) peer(dir Direction) *Writer {
	if dir == Up {
		return ip.toServer
	}
	return ip.toClient
}

// owed is the table of requests sent in dir awaiting a reply.
func (ip *Interposer) owed(dir Direction) *pending {
	if dir == Up {
		return ip.upPending
	}
	return ip.down
}

func (ip *Interposer) pump(dir Direction, in io.Reader) error {
	r := NewReader(in, ip.MaxFrame)
	for {
		frame, err := r.Next()
		if dir == Up {
			ip.busy <- struct{}{}
		}
		var tooLarge *TooLargeError
		var lineEnd *LineEndError
		switch {
		case err == nil:
			ip.frame(dir, frame)
		case errors.As(err, &tooLarge):
			ip.refuseFrame(dir, tooLarge.Found, CodeInvalidRequest, tooLarge.Error(), "frame-size")
		case errors.As(err, &lineEnd):
			ip.refuseFrame(dir, lineEnd.Found, CodeParseError, "invalid frame: "+lineEnd.Error(), "line-end")
		default:
			ip.flush()
			ip.idle(dir)
			return err
		}
		// Frames the reader already holds go out in one write with this
		// one; when it holds none, everything written goes now.
		if !r.Buffered() {
			ip.flush()
		}
		ip.idle(dir)
	}
}

// idle ends the handling of a frame from dir.
func (ip *Interposer) idle(dir Direction) {
	if dir == Up {
		<-ip.busy
	}
}

// Finish ends the session's traffic, once Run has returned: a frame the
// client's pump is handling is answered and its answer written, and no
// frame from the client is handled after it, so that the session's end
// record comes after every record of the session and every request read
// has had its answer written. It waits at most wait (a client that does
// not read holds the last write) and says whether it finished.
func (ip *Interposer) Finish(wait time.Duration) bool {
	done := make(chan struct{})
	go func() {
		ip.busy <- struct{}{} // never given back
		ip.flush()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(wait):
		return false
	}
}

// flush writes what both writers hold, mcpcell's own frames to the
// client after the others, then the records of what went.
func (ip *Interposer) flush() {
	ip.sendQueued()
	ip.toServer.Flush()
	if err := ip.toClient.Flush(); err != nil {
		ip.noteOnce(Down, "write-client", fmt.Sprintf("writing to the client: %v", err), "failed writes to the client")
	}
	if s, ok := ip.Recorder.(Syncer); ok {
		ip.recordFailed(s.Sync())
	}
}

// frame handles one frame: strict decoding, then each message in it.
func (ip *Interposer) frame(dir Direction, frame []byte) {
	if dir == Down && !looksJSON(frame) {
		ip.event(Event{Dir: Down, Decision: "drop", Rule: "non-json", Size: len(frame), Note: "the server wrote a line on stdout that is not JSON"},
			fmt.Sprintf("the server wrote a non-JSON line on stdout (not passed to the client): %s", ip.quote(frame)),
			"non-JSON lines from the server on stdout (not passed to the client)")
		return
	}
	if err := jsontext.Validate(frame); err != nil {
		sk := Recover(frame)
		if sk.Batch && sk.Whole && len(sk.Elements) > 0 && ip.Policy.Batches() {
			// The fault is inside elements, which any parser tells apart:
			// those that pass go on, the others are answered one by one.
			elems := make([][]byte, 0, len(sk.Elements))
			for _, e := range sk.Elements {
				elems = append(elems, frame[e.Start:e.End])
			}
			ip.batch(dir, frame, elems, false)
			return
		}
		ip.refuseFrame(dir, sk, CodeParseError, "invalid JSON: "+err.Error(), "strict-json")
		return
	}
	if frame[0] != '[' {
		ip.message(dir, frame, nil)
		return
	}
	if !ip.Policy.Batches() {
		ip.refuseElements(dir, frame, "batches are allowed only in protocol version 2025-03-26")
		return
	}
	n := 0
	jsontext.EachElement(frame, func([]byte) bool { n++; return n <= BatchKeep })
	if n > BatchKeep {
		// A batch is a handful of calls, not a frame's worth of tiny
		// elements each kept until the batch's answer.
		ip.refuseElements(dir, frame, fmt.Sprintf("a batch of more than %d messages", BatchKeep))
		return
	}
	elems, _ := jsontext.Elements(frame)
	if len(elems) == 0 {
		ip.refuseMessage(dir, Sketch{}, CodeInvalidRequest, "empty batch", "batch")
		return
	}
	ip.batch(dir, frame, elems, true)
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
func (ip *Interposer) batch(dir Direction, frame []byte, elems [][]byte, valid bool) {
	b := &batch{changed: !valid}
	for _, e := range elems {
		if !valid {
			if err := jsontext.ValidateNested(e, 1); err != nil {
				ip.refuseMessage(dir, Recover(e), CodeParseError, "invalid JSON: "+err.Error(), "strict-json")
				b.changed = true
				continue
			}
		}
		if jsontext.TypeOf(e) != "object" {
			ip.refuseMessage(dir, Sketch{}, CodeInvalidRequest, "a batch may hold only objects", "batch")
			b.changed = true
			continue
		}
		ip.message(dir, e, b)
	}
	switch {
	case len(b.frames) == 0:
	case !b.changed:
		ip.sendFrame(ip.peer(dir), frame)
	default:
		out := []byte{'['}
		for i, f := range b.frames {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, f...)
		}
		ip.sendFrame(ip.peer(dir), append(out, ']'))
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
func (ip *Interposer) forward(dir Direction, frame, orig []byte, b *batch) error {
	if frame == nil {
		frame = orig
	}
	if b == nil {
		return ip.peer(dir).Write(frame)
	}
	b.frames = append(b.frames, frame)
	b.changed = b.changed || &frame[0] != &orig[0] || len(frame) != len(orig)
	return nil
}

// refuseElements refuses a batch that passed strict decoding, each of
// its messages on its own, as it walks them: every request in it gets
// its error, however many there are, and nothing is kept.
func (ip *Interposer) refuseElements(dir Direction, frame []byte, msg string) {
	n := 0
	jsontext.EachElement(frame, func(e []byte) bool {
		n++
		ip.refuseMessage(dir, Recover(e), CodeInvalidRequest, msg, "batch")
		return true
	})
	if n == 0 { // [] is answered once, with id null
		ip.refuseMessage(dir, Sketch{}, CodeInvalidRequest, msg, "batch")
	}
}

// refuseFrame answers a frame that is not taken, from what a lenient
// reading found in it (see refuseMessage): each message of a batch on
// its own.
func (ip *Interposer) refuseFrame(dir Direction, sk Sketch, code int, msg, rule string) {
	if !sk.Batch {
		ip.refuseMessage(dir, sk, code, msg, rule)
		return
	}
	if len(sk.Elements) == 0 {
		ip.refuseMessage(dir, Sketch{}, code, msg, rule)
	}
	for _, e := range sk.Elements {
		ip.refuseMessage(dir, e, code, msg, rule)
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
func (ip *Interposer) refuseMessage(dir Direction, sk Sketch, code int, msg, rule string) {
	kind := sk.Kind()
	ev := Event{Dir: dir, Kind: kind, ID: sk.ID, Decision: "deny", Rule: rule, Note: msg}
	if dir == Down {
		ip.event(ev, "refused a frame from the server: "+msg, "frames refused from the server ("+rule+")")
	} else {
		ip.event(ev, "", "")
	}
	if kind != Request && !sk.ID.IsZero() {
		// A broken reply the requester is waiting for is answered, so
		// that it does not wait for ever: also one whose id is a number
		// the requester's id reads as (29.0 for 29). One to a request
		// its sender cancelled is dropped: nothing waits for it.
		c, late := ip.takeAnswered(dir, sk.ID)
		if c != nil && c.reply != nil {
			ip.answered(c, nil, &Error{Code: CodeInternalError, Message: "the client sent an invalid response: " + msg})
			return
		}
		if c != nil {
			ip.sendError(ip.peer(dir), c.ID, &Error{Code: CodeInternalError, Message: "mcpcell: the " + dir.from() + " sent an invalid response: " + msg})
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
	ip.sendError(ip.sender(dir), sk.ID, &Error{Code: code, Message: "mcpcell: " + msg})
}

// takeAnswered takes the request that a response travelling in dir
// with id answers: one sent the other way, under id or under the integer
// id a JavaScript peer reads id as. late says it answers a request its
// sender cancelled (see pending.take).
func (ip *Interposer) takeAnswered(dir Direction, id ID) (c *Call, late bool) {
	reqDir := Up
	if dir == Up {
		reqDir = Down
	}
	c, t := ip.take(reqDir, id)
	if key, ok := id.alias(); c == nil && t == nil && ok {
		c, t = ip.takeKey(reqDir, key)
	}
	return c, t != nil
}

func (ip *Interposer) message(dir Direction, raw []byte, b *batch) {
	m, err := Parse(raw)
	if err != nil {
		b.skip()
		ip.refuseMessage(dir, Recover(raw), CodeInvalidRequest, "invalid message: "+err.Error(), "jsonrpc")
		return
	}
	switch m.Kind {
	case Request:
		ip.request(dir, m, b)
	case Notification:
		ip.notification(dir, m, b)
	case Response:
		ip.response(dir, m, b)
	}
}

func (ip *Interposer) request(dir Direction, m *Message, b *batch) {
	ip.mu.Lock()
	gone, auditErr := ip.serverGone, ip.auditErr
	owed := ip.owed(dir)
	inUse, inUseMsg := owed.refusal(m.ID)
	full := owed.full(footprint(&Call{ID: m.ID, Method: m.Method}))
	ip.mu.Unlock()
	switch {
	case dir == Up && gone:
		b.skip()
		ip.refuse(dir, m.ID, m.Method, &Error{Code: CodeInternalError, Message: "mcpcell: the server has exited"}, "server-exited")
		return
	case auditErr != nil:
		b.skip()
		ip.refuse(dir, m.ID, m.Method, auditError(auditErr), "audit")
		return
	case inUse != "":
		b.skip()
		ip.refuse(dir, m.ID, m.Method, &Error{Code: CodeInvalidRequest, Message: inUseMsg}, inUse)
		return
	case full:
		// Before the policy, which would take an initialize for one in
		// flight.
		b.skip()
		ip.refuseFull(dir, m.ID, m.Method)
		return
	}
	v := ip.Policy.Message(dir, m)
	ev := Event{Dir: dir, Kind: Request, Method: m.Method, ID: m.ID, Subject: v.Subject, Decision: v.Action.String(), Rule: v.Rule, Shape: v.Shape, Size: len(m.Raw)}
	switch v.Action {
	case Forward:
		c := &Call{ID: m.ID, Method: m.Method, Subject: v.Subject, Start: ip.Now(), State: v.State}
		ip.mu.Lock()
		// The server may have exited while the policy decided: once the
		// calls in flight are answered (Run's drain), none is added.
		gone = dir == Up && ip.serverGone
		kept := !gone && owed.add(c) // its subject may not fit
		ip.mu.Unlock()
		switch {
		case gone:
			b.skip()
			ip.refuse(dir, m.ID, m.Method, &Error{Code: CodeInternalError, Message: "mcpcell: the server has exited"}, "server-exited")
			return
		case !kept:
			b.skip()
			ip.refuseFull(dir, m.ID, m.Method)
			return
		}
		// No call goes out without its audit record (pings are counted).
		ip.event(ev, "", "")
		// Below, the call is answered only if it is still in flight: the
		// drain at the server's exit may have answered it already.
		if err := ip.auditFailure(); err != nil {
			b.skip()
			if c, _ := ip.take(dir, m.ID); c != nil {
				ip.sendError(ip.sender(dir), m.ID, auditError(err))
			}
			return
		}
		if err := ip.forward(dir, v.Frame, m.Raw, b); err != nil {
			if c, _ := ip.take(dir, m.ID); c != nil {
				ip.sendError(ip.sender(dir), m.ID, &Error{Code: CodeInternalError, Message: "mcpcell: cannot deliver the request: " + err.Error()})
			}
		}
	case Answer:
		b.skip()
		ip.event(ev, "", "")
		ip.sendFrame(ip.sender(dir), ResultResponse(m.ID, v.Result))
	default: // Refuse, and Drop, which a request cannot take
		b.skip()
		if v.Err == nil {
			v.Err = &Error{Code: CodeInvalidRequest, Message: "mcpcell: refused"}
		}
		ev.Decision, ev.Note = "deny", v.Err.Message
		ip.event(ev, "", "")
		ip.sendError(ip.sender(dir), m.ID, v.Err)
	}
}

func auditError(err error) *Error {
	return &Error{Code: CodeInternalError, Message: "mcpcell: the audit log cannot be written, so no call is made: " + err.Error()}
}

func (ip *Interposer) notification(dir Direction, m *Message, b *batch) {
	v := ip.Policy.Message(dir, m)
	ev := Event{Dir: dir, Kind: Notification, Method: m.Method, Subject: v.Subject, Decision: v.Action.String(), Rule: v.Rule, Size: len(m.Raw), Note: v.Note}
	what := ""
	if v.Note != "" {
		what = ip.quote([]byte(m.Method)) + " notifications from the " + dir.from() + " with a note like the one before"
	}
	if v.Action != Forward {
		b.skip()
		ev.Decision = "drop"
		ip.event(ev, v.Note, what)
		return
	}
	if m.Method == CancelMethod {
		if id, err := ParseID(jsontext.Lookup(m.Params, "requestId")); err == nil {
			ip.mu.Lock()
			// Only mcpcell cancels its own requests: the client would
			// take a server's cancel of one as mcpcell's.
			own := dir == Down && ip.ownCall(id)
			if !own {
				ip.owed(dir).cancel(id.Key())
			}
			ip.mu.Unlock()
			if own {
				b.skip()
				ev.Decision, ev.Rule, ev.Note = "drop", "mcpcell-request", "the server named a request of mcpcell's own"
				ip.event(ev, "dropped the server's notifications/cancelled: it names a request of mcpcell's own", "cancels from the server naming requests of mcpcell's own (dropped)")
				return
			}
		}
	}
	// Recorded as the first of its kind in a second, then counted.
	ip.event(ev, v.Note, what)
	ip.forward(dir, v.Frame, m.Raw, b)
}

func (ip *Interposer) response(dir Direction, m *Message, b *batch) {
	// A response travelling in dir answers a request that travelled the
	// other way.
	reqDir := Up
	if dir == Up {
		reqDir = Down
	}
	c, late := ip.take(reqDir, m.ID)
	if late != nil {
		// Its sender has stopped waiting, and may have used the id again
		// since the tomb was forgotten: nothing may take it for another.
		b.skip()
		ip.event(Event{Dir: dir, Kind: Response, Method: late.method, ID: m.ID, Decision: "drop", Rule: "cancelled", Size: len(m.Raw), Note: "the answer to a request its sender cancelled"}, "", "")
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
		ip.answered(c, m.Result, e)
		return
	}
	if c == nil {
		b.skip()
		ip.event(Event{Dir: dir, Kind: Response, ID: m.ID, Decision: "drop", Rule: "unknown-id", Size: len(m.Raw), Note: "no request is waiting for this id"},
			fmt.Sprintf("dropped a response from the %s with id %s: no request is waiting for it", dir.from(), ip.quote(m.ID.Raw())),
			"responses from the "+dir.from()+" that no request was waiting for (dropped)")
		return
	}
	v := ip.Policy.Reply(dir, c, m)
	ev := Event{Dir: dir, Kind: Response, Method: c.Method, ID: m.ID, Subject: c.Subject, Decision: v.Action.String(), Rule: v.Rule, Duration: ip.Now().Sub(c.Start), Size: len(m.Raw), IsError: v.IsError || m.Error != nil, Note: v.Note}
	what := ""
	if v.Note != "" {
		what = ip.quote([]byte(c.Method)) + " replies from the " + dir.from() + " with a note like the one before"
	}
	if v.Action == Forward {
		ip.event(ev, v.Note, what)
		ip.forward(dir, v.Frame, m.Raw, b)
		return
	}
	b.skip()
	if v.Err == nil {
		v.Err = &Error{Code: CodeInternalError, Message: "mcpcell: the response was refused"}
	}
	ev.Decision, ev.Note = "deny", v.Err.Message
	ip.event(ev, v.Note, what)
	ip.sendError(ip.peer(dir), m.ID, v.Err)
}

// refuse answers a request that is not forwarded, and records it.
func (ip *Interposer) refuse(dir Direction, id ID, method string, e *Error, rule string) {
	ip.event(Event{Dir: dir, Kind: Request, Method: method, ID: id, Decision: "deny", Rule: rule, Note: e.Message}, "", "")
	ip.sendError(ip.sender(dir), id, e)
}

// refuseFull answers a request its sender's requests in flight leave no
// room for (see maxPending), records it and says so on stderr, the
// repeats counted.
func (ip *Interposer) refuseFull(dir Direction, id ID, method string) {
	e := boundError(dir.from())
	ip.event(Event{Dir: dir, Kind: Request, Method: method, ID: id, Decision: "deny", Rule: "pending-bound", Note: e.Message},
		"refused a request from the "+dir.from()+": "+e.Message[len("mcpcell: "):],
		"requests from the "+dir.from()+" refused: too many await an answer")
	ip.sendError(ip.sender(dir), id, e)
}

// take removes the request sent in dir that awaits an answer under id
// (see pending.take).
func (ip *Interposer) take(dir Direction, id ID) (*Call, *tomb) { return ip.takeKey(dir, id.Key()) }

func (ip *Interposer) takeKey(dir Direction, key IDKey) (*Call, *tomb) {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	return ip.owed(dir).take(key)
}

func (ip *Interposer) auditFailure() error {
	ip.mu.Lock()
	defer ip.mu.Unlock()
	return ip.auditErr
}

func (ip *Interposer) sendError(w *Writer, id ID, e *Error) {
	ip.sendFrame(w, errorResponse(id, e))
}

func (ip *Interposer) sendFrame(w *Writer, frame []byte) {
	if err := w.Write(frame); err != nil && w == ip.toClient {
		ip.noteOnce(Down, "write-client", fmt.Sprintf("writing to the client: %v", err), "failed writes to the client")
	}
}

// quote is b for a note: redacted, then shortened.
func (ip *Interposer) quote(b []byte) string {
	if ip.RedactText != nil {
		b = ip.RedactText(b)
	}
	return clip(b)
}

// clip shortens b for a note on stderr and keeps it valid UTF-8.
func clip(b []byte) string {
	const max = 200
	if len(b) > max {
		b = b[:max]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return string(b) + "…"
	}
	return string(b)
}
