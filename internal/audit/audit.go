package audit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// Record is one line of the log.
type Record struct {
	Seq        int64   `json:"seq"`
	Time       string  `json:"time"`
	Session    string  `json:"session"`
	Profile    string  `json:"profile"`
	Client     string  `json:"client,omitempty"`
	Dir        string  `json:"dir,omitempty"`
	Kind       string  `json:"kind,omitempty"`
	Method     string  `json:"method,omitempty"`
	ID         string  `json:"id,omitempty"`
	Subject    string  `json:"subject,omitempty"`
	Decision   string  `json:"decision"`
	Rule       string  `json:"rule,omitempty"`
	Args       string  `json:"args,omitempty"`
	DurationMs float64 `json:"duration_ms,omitempty"`
	Size       int     `json:"size,omitempty"`
	IsError    bool    `json:"is_error,omitempty"`
	Count      int     `json:"count,omitempty"` // a count of repeats: how many events of the kind before it this record stands for
	Note       string  `json:"note,omitempty"`
	Prev       string  `json:"prev"`
}

// The decisions of the records that link the files of a rotated log.
const (
	// DecisionRotate ends a file that reached its size bound.
	DecisionRotate = "rotate"
	// DecisionContinue begins the file after it.
	DecisionContinue = "continue"
)

// Rotation defaults: 64 MiB a file, and 4 rotated files besides the
// current one.
const (
	DefaultMaxSize = 64 << 20
	DefaultKeep    = 4
	// MinMaxSize is the smallest size bound Open takes.
	MinMaxSize = 64 << 10
)

// Meta is what every record of a session carries, and how the log's
// files are rotated.
type Meta struct {
	Session string
	Profile string
	Client  func() string // the client's name once known; may be nil
	// Redact, when set, is applied to every string a record carries.
	Redact func(string) string
	// MaxSize is the size a file may reach before the next one begins (0:
	// DefaultMaxSize; below MinMaxSize: MinMaxSize); a single record
	// larger than that has a file of its own. Keep is how many rotated
	// files are kept besides the current one (0: DefaultKeep). A log that
	// is not a regular file (a device, a pipe) is never rotated.
	MaxSize int64
	Keep    int
}

// NewSession makes a random session id.
func NewSession() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// entry is a recorded event not yet written, with what its record takes
// from the session at the time.
type entry struct {
	e      jsonrpc.Event
	client string
}

// minGap paces the writes: a Sync less than minGap after the last write
// leaves its records to the timer, which writes them minGap after it. At
// a call every few seconds every record is written as soon as its frame
// has gone; under load records go in batches, never more than minGap (and
// a write) after their frame.
const minGap = time.Millisecond

// maxPending is how many records wait in memory before Record writes them
// itself.
const maxPending = 1024

// Log appends records to one file. It is safe for concurrent use, also by
// several processes sharing the file.
//
// Record only keeps the event. Flush takes the file lock once, seals the
// kept records into the chain and appends them in one write. Sync (the
// interposer calls it once the frames of a burst have gone out, while the
// peers work) flushes, or, under load, leaves it to a timer (see minGap):
// a write costs some 10 µs here, a record in a batch 1 µs. A failed write
// makes every later Record fail. Close writes what is kept.
type Log struct {
	meta  Meta
	path  string
	timer *time.Timer

	mu        sync.Mutex // guards the fields up to wmu
	pending   []entry
	err       error // the first write failure
	closed    bool
	armed     bool          // the timer will flush
	lastWrite time.Time     // when the last batch was taken
	gap       time.Duration // minGap (tests change it)

	wmu   sync.Mutex // one batch at a time; guards the fields below
	f     *os.File   // the current file, or the one before when another session has rotated it
	spare []entry
	buf   []byte
	cuts  []int  // where the records of new files begin in buf
	last  string // hash of the newest record
	seq   int64
	end   int64 // file size after this process's newest write
	// tailRotated: the newest record read from f is a rotation record.
	tailRotated bool
	rotates     bool           // f is a regular file
	removing    sync.WaitGroup // files rotated away, being removed
}

// Open opens or creates the log at path (mode 0600, folders 0700).
func Open(path string, meta Meta) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	switch {
	case meta.MaxSize == 0:
		meta.MaxSize = DefaultMaxSize
	case meta.MaxSize < MinMaxSize:
		meta.MaxSize = MinMaxSize
	}
	if meta.Keep <= 0 {
		meta.Keep = DefaultKeep
	}
	l := &Log{meta: meta, path: path, f: f, end: -1, gap: minGap}
	if st, err := f.Stat(); err == nil {
		l.rotates = st.Mode().IsRegular()
	}
	if _, err := l.lockCurrent(); err != nil {
		l.f.Close()
		return nil, fmt.Errorf("audit log: %s: %w", path, err)
	}
	unlock(l.f)
	l.timer = time.AfterFunc(time.Hour, func() {
		l.mu.Lock()
		l.armed = false
		l.mu.Unlock()
		l.Flush()
	})
	l.timer.Stop()
	return l, nil
}

// Close writes every kept record and closes the file. It returns the
// first write failure, if any.
func (l *Log) Close() error {
	l.timer.Stop()
	err := l.Flush()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.f.Close()
	}
	l.removing.Wait()
	if errors.Is(err, os.ErrClosed) {
		err = l.err
	}
	return err
}

// Sync writes the records kept so far: now, or, when the last write was
// less than minGap ago, by the timer at minGap after it. It returns the
// log's first write failure.
func (l *Log) Sync() error {
	l.mu.Lock()
	if l.err != nil || len(l.pending) == 0 {
		err := l.err
		l.mu.Unlock()
		return err
	}
	if wait := l.gap - time.Since(l.lastWrite); wait > 0 {
		if !l.armed {
			l.armed = true
			l.timer.Reset(wait)
		}
		l.mu.Unlock()
		return nil
	}
	l.mu.Unlock()
	return l.Flush()
}

// Flush writes the records kept so far in one batch, and returns the log's
// first write failure.
func (l *Log) Flush() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.Lock()
	batch := l.pending
	if len(batch) > 0 {
		l.pending = l.spare[:0]
		l.lastWrite = time.Now()
		// Nothing is left for the timer (if it has fired already, it
		// finds nothing).
		if l.armed {
			l.timer.Stop()
			l.armed = false
		}
	}
	err, closed := l.err, l.closed
	l.mu.Unlock()
	switch {
	case closed:
		err = os.ErrClosed
	case len(batch) > 0 && err == nil:
		if err = l.write(batch); err != nil {
			l.mu.Lock()
			if l.err == nil {
				l.err = err
			}
			l.mu.Unlock()
		}
	}
	if len(batch) > 0 {
		clear(batch) // the spare keeps no strings alive
		l.spare = batch[:0]
	}
	return err
}

// Record keeps one event for the log. An error means an earlier write
// failed: the log is broken, and this record will not be written either.
func (l *Log) Record(e jsonrpc.Event) error {
	en := entry{e: e}
	if l.meta.Client != nil {
		en.client = l.meta.Client()
	}
	l.mu.Lock()
	if l.err != nil || l.closed {
		err := l.err
		l.mu.Unlock()
		if err == nil {
			err = os.ErrClosed
		}
		return err
	}
	l.pending = append(l.pending, en)
	full := len(l.pending) >= maxPending
	if !l.armed && !full {
		// Written within minGap even if no one calls Sync (a call stuck on
		// its way to the server still shows in the log).
		l.armed = true
		l.timer.Reset(l.gap)
	}
	l.mu.Unlock()
	if full {
		l.Flush()
	}
	return nil
}

// rotateRoom is kept free at the end of a file for its rotation record.
const rotateRoom = 1024

// write seals a batch into the chain and appends it in one write. A
// record that would take the file past MaxSize begins the next file
// (see rotate), as many times as the batch needs.
func (l *Log) write(batch []entry) error {
	interrupted, err := l.lockCurrent()
	if err != nil {
		return err
	}
	defer func() { unlock(l.f) }() // the newest file's, after a rotation
	buf, cuts := l.buf[:0], l.cuts[:0]
	seq := l.seq
	var prev, sum [2 * sha256.Size]byte
	p := copy(prev[:], l.last) // 0 before the first record
	size := l.end              // of the file that buf[from:] goes to
	from := 0
	if interrupted {
		// A session died between a rotation record and the new file.
		cuts = append(cuts, 0)
		seq++
		buf = l.seal(buf, seq, prev[:p], l.linkEntry(DecisionContinue, seq-1), &sum)
		prev, p, size = sum, len(sum), 0
	}
	for i := range batch {
		start := len(buf)
		buf = l.seal(buf, seq+1, prev[:p], &batch[i], &sum)
		if l.rotates && size+int64(len(buf)-from) > l.meta.MaxSize-rotateRoom && size+int64(start-from) > 0 {
			// The file ends before this record, with a rotation record;
			// the next begins with a continuation record, then this one.
			seq++
			buf = l.seal(buf[:start], seq, prev[:p], l.linkEntry(DecisionRotate, seq), &sum)
			prev, p = sum, len(sum)
			from, size = len(buf), 0
			cuts = append(cuts, from)
			seq++
			buf = l.seal(buf, seq, prev[:p], l.linkEntry(DecisionContinue, seq-1), &sum)
			prev = sum
			buf = l.seal(buf, seq+1, prev[:p], &batch[i], &sum)
		}
		seq++
		prev, p = sum, len(sum)
	}
	l.buf, l.cuts = buf[:0], cuts[:0]
	if cap(buf) > 1<<20 {
		l.buf = nil // one huge batch does not stay
	}
	end := len(buf)
	if len(cuts) > 0 {
		end = cuts[0]
	}
	if end > 0 {
		n, err := l.f.Write(buf[:end])
		if err != nil {
			if n > 0 {
				l.end = -1 // a torn batch: read the file again next time
			}
			return err
		}
		l.end += int64(n)
	}
	for k, cut := range cuts {
		end := len(buf)
		if k+1 < len(cuts) {
			end = cuts[k+1]
		}
		if err := l.rotate(buf[cut:end]); err != nil {
			l.end = -1
			return err
		}
	}
	l.seq, l.last, l.tailRotated = seq, string(prev[:p]), false
	return nil
}

// catchUp reads the newest record when another writer has appended since.
func (l *Log) catchUp() error {
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == l.end {
		return nil
	}
	line, err := lastLine(l.f, st.Size())
	if err != nil {
		return err
	}
	l.end, l.last, l.seq, l.tailRotated = st.Size(), "", 0, false
	if line == nil {
		return nil
	}
	body, sum, ok := split(line)
	if !ok {
		return errors.New("the newest record has no hash; was the file edited?")
	}
	var r Record
	if err := json.Unmarshal(append(append([]byte{}, body...), '}'), &r); err != nil {
		return fmt.Errorf("the newest record cannot be read: %v", err)
	}
	l.last, l.seq, l.tailRotated = sum, r.Seq, r.Decision == DecisionRotate
	return nil
}

// seal appends the record of en, with its sequence number and the hash of
// the record before, then its own hash, which covers every byte of the
// line before it and is also left in sum.
func (l *Log) seal(buf []byte, seq int64, prev []byte, en *entry, sum *[2 * sha256.Size]byte) []byte {
	start := len(buf)
	buf = l.appendRecord(buf, seq, prev, en)
	h := sha256.Sum256(buf[start:])
	hex.Encode(sum[:], h[:])
	buf = append(buf, `,"hash":"`...)
	buf = append(buf, sum[:]...)
	return append(buf, "\"}\n"...)
}

func kindName(k jsonrpc.Kind) string {
	if k == 0 {
		return ""
	}
	return k.String()
}

const hashSuffixLen = len(`,"hash":"`) + 64 + len(`"}`)

// split separates a line into its body (without the closing brace) and
// hash.
func split(line []byte) (body []byte, sum string, ok bool) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) < hashSuffixLen+2 {
		return nil, "", false
	}
	i := len(line) - hashSuffixLen
	if !bytes.HasPrefix(line[i:], []byte(`,"hash":"`)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return nil, "", false
	}
	return line[:i], string(line[i+len(`,"hash":"`) : len(line)-2]), true
}

// lastLine reads the last complete line of f, or nil when f is empty.
func lastLine(f *os.File, size int64) ([]byte, error) {
	for chunk := int64(64 << 10); ; chunk *= 4 {
		start := max(0, size-chunk)
		buf := make([]byte, size-start)
		if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
			return nil, err
		}
		buf = bytes.TrimRight(buf, "\n")
		if len(buf) == 0 {
			return nil, nil
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return buf[i+1:], nil
		}
		if start == 0 {
			return buf, nil
		}
	}
}
