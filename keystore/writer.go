package keystore

import (
	"io"
	"sync"
)

// Writer redacts a stream, such as the server's stderr, on its way to w.
// Writes and lines are no boundaries: a value may arrive in pieces. The
// end of what has come that could begin a form of a value is held back
// until more comes or the stream is closed; anything else goes on at
// once. The writer is safe for concurrent use; each stream needs its
// own, or one stream's pieces could be flushed by another's text.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	return &streamWriter{r: r, w: w}
}

type streamWriter struct {
	mu     sync.Mutex
	r      *Redactor
	w      io.Writer
	held   []byte
	closed bool
	// read: how much of held the last search read. Each search reads
	// what is held anew, so once much is held (the start of a long form:
	// escapes of escapes of a long value) the next search waits for as
	// much again; a server that sends it a byte at a time would otherwise
	// have mcpcell read it once per byte.
	read int
	// searched counts the bytes searched, for tests.
	searched int
}

// rereadAfter is how much held text is searched again at every write.
const rereadAfter = 1 << 10

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.r == nil {
		return sw.w.Write(p)
	}
	buf := append(sw.held, p...)
	if sw.closed {
		sw.held = nil
		_, err := sw.w.Write(sw.r.Text(buf))
		return len(p), err
	}
	if sw.read > rereadAfter && len(buf) < 2*sw.read {
		sw.held = buf
		return len(p), nil
	}
	sw.searched += len(buf)
	spans, hold := sw.r.find(buf, true)
	ready := spans[:0:0]
	for _, s := range spans {
		if s.hi <= hold {
			ready = append(ready, s)
		}
	}
	out := apply(buf[:hold], ready)
	sw.held = append([]byte(nil), buf[hold:]...)
	sw.read = len(sw.held)
	if len(out) == 0 {
		return len(p), nil
	}
	if _, err := sw.w.Write(out); err != nil {
		return len(p), err
	}
	return len(p), nil
}

// Close writes what is held back, redacted. Writes after it are redacted
// each on its own.
func (sw *streamWriter) Close() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.closed = true
	if sw.r == nil || len(sw.held) == 0 {
		return nil
	}
	_, err := sw.w.Write(sw.r.Text(sw.held))
	sw.held = nil
	return err
}
