package jsonrpc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// defaultMaxFrame is the frame size bound when a profile sets none.
const defaultMaxFrame = 16 << 20

// tooLargeError reports a frame over the bound. Found is what a lenient
// reading of the whole frame found (see sketchOf), read as it streamed
// past: the id may come after the part that made it large.
type tooLargeError struct {
	Limit int
	Found sketch
}

func (e *tooLargeError) Error() string {
	return fmt.Sprintf("frame larger than the %d-byte bound", e.Limit)
}

// lineEndError reports a frame holding a carriage return other than the
// one before its newline. JSON reads a carriage return as white space,
// but Python's universal newlines (the official Python SDK's stdin),
// Node's readline, Java's BufferedReader and .NET's ReadLine end a line
// there: a peer reading such a frame would read other messages in it
// than mcpcell did. Found is what a lenient reading of it found.
type lineEndError struct {
	Offset int
	Found  sketch
}

func (e *lineEndError) Error() string {
	return fmt.Sprintf("offset %d: a carriage return inside a frame, where some readers end a line (only \\r\\n may end one)", e.Offset)
}

// reader reads newline-delimited frames (LF or CRLF) of at most max bytes.
// Empty lines are skipped.
type reader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// newReader reads frames from r; max <= 0 means defaultMaxFrame.
func newReader(r io.Reader, max int) *reader {
	if max <= 0 {
		max = defaultMaxFrame
	}
	return &reader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Buffered reports whether more input is already read and waiting: a
// caller may hold its output until it is not.
func (r *reader) Buffered() bool { return r.br.Buffered() > 0 }

// Next returns the next frame without its line ending (a newline, and
// any carriage returns right before it). The slice is valid until the
// next call. A frame over the bound is consumed whole and reported as a
// *tooLargeError, one that holds another carriage return as a
// *lineEndError; reading can go on after either. At the end of input a
// last line without a newline is returned, then io.EOF.
func (r *reader) Next() ([]byte, error) {
	for {
		line, err := r.line()
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r")
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if i := bytes.IndexByte(line, '\r'); i >= 0 {
			return nil, &lineEndError{Offset: i, Found: sketchOf(line)}
		}
		return line, nil
	}
}

func (r *reader) line() ([]byte, error) {
	r.buf = r.buf[:0]
	var big *lenient // once the line is over the bound: it reads the rest as it streams past
	for {
		chunk, err := r.br.ReadSlice('\n')
		switch {
		case err == nil:
			chunk = chunk[:len(chunk)-1]
		case errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			if len(chunk) == 0 && len(r.buf) == 0 && big == nil {
				return nil, io.EOF
			}
		default:
			return nil, err
		}
		if big == nil && len(r.buf)+len(chunk) > r.max+1 { // +1: a CR before LF is not content
			big = &lenient{}
			big.feed(r.buf)
			r.buf = r.buf[:0]
		}
		if big != nil {
			big.feed(chunk)
		} else {
			r.grow(len(chunk))
			r.buf = append(r.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if big != nil {
			return nil, &tooLargeError{Limit: r.max, Found: big.sketch()}
		}
		if len(bytes.TrimRight(r.buf, "\r")) > r.max {
			return nil, &tooLargeError{Limit: r.max, Found: sketchOf(r.buf)}
		}
		return r.buf, nil
	}
}

// grow makes room for n more bytes by doubling, never past the bound:
// append's own growth (1.25x for large slices) would copy a 16 MiB frame
// some twenty times and leave four times its size behind as garbage.
func (r *reader) grow(n int) {
	need := len(r.buf) + n
	if need <= cap(r.buf) {
		return
	}
	c := max(2*cap(r.buf), need, 64<<10)
	c = min(c, max(need, r.max+1))
	buf := make([]byte, len(r.buf), c)
	copy(buf, r.buf)
	r.buf = buf
}

var newline = []byte{'\n'}

// writer writes whole frames, one per line, from several goroutines.
type writer struct {
	mu     sync.Mutex
	w      io.Writer
	err    error
	filter func([]byte) []byte // applied to every frame, if set
	held   []byte              // small frames not yet written (see Write)
}

// oneWrite is the largest frame held back to go out with others; a
// larger one is written at once.
const oneWrite = 256 << 10

// newWriter writes frames to w.
func newWriter(w io.Writer) *writer { return &writer{w: w} }

// Write sends one frame followed by a newline. After the first error every
// write fails with it.
func (w *writer) Write(frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.filter != nil {
		frame = w.filter(frame)
	}
	// The lock, not the write size, keeps frames whole. Small frames are
	// held and go out together at the next Flush (or when they grow
	// large), a large one after them in two writes.
	if len(frame) < oneWrite {
		w.held = append(append(w.held, frame...), '\n')
		if len(w.held) < oneWrite {
			return nil
		}
		return w.flushLocked()
	}
	if w.flushLocked() == nil {
		if _, w.err = w.w.Write(frame); w.err == nil {
			_, w.err = w.w.Write(newline)
		}
	}
	return w.err
}

// Flush writes the held frames.
func (w *writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *writer) flushLocked() error {
	if w.err != nil || len(w.held) == 0 {
		return w.err
	}
	_, w.err = w.w.Write(w.held)
	w.held = w.held[:0]
	return w.err
}
