package jsonrpc

import (
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

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
	ip.sendFrame(w, ErrorResponse(id, e))
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
