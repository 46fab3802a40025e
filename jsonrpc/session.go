package jsonrpc

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// Session is one session of an Interposer, between one client and one
// server: the requests in flight each way, the writers to both, the
// counts of repeated events, and whether the server is gone, the audit
// log failed, or the session ended. Run runs it, once; Ask, Notify and
// Record add mcpcell's own frames and records to it, Finish and
// EndCounts end it.
type Session struct {
	ip    *Interposer // the configuration: read, never written
	now   func() time.Time
	notes io.Writer

	mu         sync.Mutex
	upPending  *pending // client requests awaiting the server; nil until Run
	down       *pending // server requests awaiting the client; nil until Run
	serverGone bool
	ended      bool // the session is over: mcpcell sends nothing of its own
	asks       int  // mcpcell's own requests awaiting the client (see Ask)
	outbox     [][]byte
	auditErr   error
	toClient   *writer
	toServer   *writer
	repeats    repeatWindow
	// busy is held by the client's pump while it handles a frame and
	// writes its answer; Finish takes it for good.
	busy chan struct{}
}

// errRunAgain is Run's error on a session that has run already.
var errRunAgain = errors.New("jsonrpc: a session runs once")

// NewSession returns a session of ip that has not started: Ask and
// Notify fail until Run.
func (ip *Interposer) NewSession() *Session {
	s := &Session{ip: ip, now: ip.now, notes: ip.Notes}
	if s.now == nil {
		s.now = time.Now
	}
	if s.notes == nil {
		s.notes = io.Discard
	}
	return s
}

// Run pumps until the server's output ends, answers every request still
// owed an answer, and returns. The client pump may still be reading then;
// it answers anything more itself, until Finish. A session runs once.
func (s *Session) Run(clientIn io.Reader, clientOut io.Writer, serverIn io.WriteCloser, serverOut io.Reader) error {
	s.mu.Lock()
	if s.upPending != nil {
		s.mu.Unlock()
		return errRunAgain
	}
	s.upPending = newPending()
	s.down = newPending()
	s.toClient = newWriter(clientOut)
	s.toClient.filter = s.ip.Redact
	s.toServer = newWriter(serverIn)
	s.busy = make(chan struct{}, 1)
	s.mu.Unlock()
	go func() {
		// pump returns only when its input ends, with why.
		if err := s.pump(Up, clientIn); !errors.Is(err, io.EOF) {
			s.note("reading from the client: %v", err)
		}
		serverIn.Close()
		if s.ip.ClientClosed != nil {
			s.ip.ClientClosed()
		}
	}()
	err := s.pump(Down, serverOut)
	s.mu.Lock()
	s.serverGone = true
	owed := s.upPending.drain() // a cancelled request is owed no answer
	s.mu.Unlock()
	for _, c := range owed {
		s.refuse(Up, c.ID, c.Method, &Error{Code: CodeInternalError, Message: "mcpcell: the server exited before answering"}, "server-exited")
	}
	s.endAsks()
	s.EndCounts()
	s.flush()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (s *Session) note(format string, args ...any) {
	fmt.Fprintf(s.notes, "mcpcell: "+format+"\n", args...)
}

func (s *Session) record(e Event) {
	if s.ip.Recorder == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	s.recordFailed(s.ip.Recorder.Record(e))
}

// recordFailed notes the first failure of the audit log; from then on new
// requests are refused.
func (s *Session) recordFailed(err error) {
	if err != nil {
		s.mu.Lock()
		first := s.auditErr == nil
		if first {
			s.auditErr = err
		}
		s.mu.Unlock()
		if first {
			s.note("audit log: %v; new requests are refused", err)
		}
	}
}

// sender is the writer back to whoever sent a frame travelling in dir;
// peer is the one it travels to.
func (s *Session) sender(dir Direction) *writer {
	if dir == Up {
		return s.toClient
	}
	return s.toServer
}

func (s *Session) peer(dir Direction) *writer {
	if dir == Up {
		return s.toServer
	}
	return s.toClient
}

// owed is the table of requests sent in dir awaiting a reply.
func (s *Session) owed(dir Direction) *pending {
	if dir == Up {
		return s.upPending
	}
	return s.down
}

func (s *Session) pump(dir Direction, in io.Reader) error {
	r := newReader(in, s.ip.MaxFrame)
	for {
		frame, err := r.Next()
		if dir == Up {
			s.busy <- struct{}{}
		}
		var tooLarge *tooLargeError
		var lineEnd *lineEndError
		switch {
		case err == nil:
			s.frame(dir, frame)
		case errors.As(err, &tooLarge):
			s.refuseFrame(dir, tooLarge.Found, CodeInvalidRequest, tooLarge.Error(), "frame-size")
		case errors.As(err, &lineEnd):
			s.refuseFrame(dir, lineEnd.Found, CodeParseError, "invalid frame: "+lineEnd.Error(), "line-end")
		default:
			s.flush()
			s.idle(dir)
			return err
		}
		// Frames the reader already holds go out in one write with this
		// one; when it holds none, everything written goes now.
		if !r.Buffered() {
			s.flush()
		}
		s.idle(dir)
	}
}

// idle ends the handling of a frame from dir.
func (s *Session) idle(dir Direction) {
	if dir == Up {
		<-s.busy
	}
}

// Finish ends the session's traffic, once Run has returned: a frame the
// client's pump is handling is answered and its answer written, and no
// frame from the client is handled after it, so that the session's end
// record comes after every record of the session and every request read
// has had its answer written. It waits at most wait (a client that does
// not read holds the last write) and says whether it finished.
func (s *Session) Finish(wait time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.busy <- struct{}{} // never given back
		s.flush()
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
func (s *Session) flush() {
	s.sendQueued()
	s.toServer.Flush()
	if err := s.toClient.Flush(); err != nil {
		s.noteOnce(Down, "write-client", fmt.Sprintf("writing to the client: %v", err), "failed writes to the client")
	}
	if sy, ok := s.ip.Recorder.(syncer); ok {
		s.recordFailed(sy.Sync())
	}
}

// take removes the request sent in dir that awaits an answer under id
// (see pending.take).
func (s *Session) take(dir Direction, id ID) (*Call, *tomb) { return s.takeKey(dir, id.Key()) }

func (s *Session) takeKey(dir Direction, key IDKey) (*Call, *tomb) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owed(dir).take(key)
}

func (s *Session) auditFailure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auditErr
}

func (s *Session) sendError(w *writer, id ID, e *Error) {
	s.sendFrame(w, errorResponse(id, e))
}

func (s *Session) sendFrame(w *writer, frame []byte) {
	if err := w.Write(frame); err != nil && w == s.toClient {
		s.noteOnce(Down, "write-client", fmt.Sprintf("writing to the client: %v", err), "failed writes to the client")
	}
}

// quote is b for a note: redacted, then shortened.
func (s *Session) quote(b []byte) string {
	if s.ip.RedactText != nil {
		b = s.ip.RedactText(b)
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
