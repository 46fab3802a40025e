// Package audit keeps mcpcell's audit log: one JSON line per decision,
// each carrying the hash of the one before, so that an edited, removed or
// reordered record is found by Verify.
//
// A record holds what was decided and why, the shape of a call's
// arguments (names and JSON types), sizes and timings; never a value.
//
//	log, err := audit.Open(path, audit.Meta{Session: id, Profile: "proj"})
//	ip := &jsonrpc.Interposer{Recorder: log, ...}
//
// # Limits
//
// The chain shows changes inside the file; it cannot show that the newest
// records were cut off, and anyone who can write the file can rewrite the
// whole chain. Ship the log elsewhere when that matters.
package audit

import (
	"bufio"
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
	Note       string  `json:"note,omitempty"`
	Prev       string  `json:"prev"`
}

// Meta is what every record of a session carries.
type Meta struct {
	Session string
	Profile string
	Client  func() string // the client's name once known; may be nil
	// Redact, when set, is applied to every string a record carries.
	Redact func(string) string
}

// NewSession makes a random session id.
func NewSession() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// item is a queued record, or (ack set) a request to say when all before
// it are written.
type item struct {
	r   Record
	ack chan error
}

// Log appends records to one file. It is safe for concurrent use, also by
// several processes sharing the file.
//
// Record only queues: one writer goroutine takes the file lock once per
// batch, seals the records into the chain and appends the batch in one
// write, so the frame path never waits for the disk. A failed write makes
// every later Record fail; Close writes what is queued.
type Log struct {
	meta  Meta
	f     *os.File
	last  string // hash of the newest record (writer goroutine only)
	seq   int64
	end   int64 // file size after this process's newest write
	queue chan item
	done  chan struct{}
	mu    sync.Mutex
	err   error // the first write failure
	once  sync.Once
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
	l := &Log{meta: meta, f: f, end: -1, queue: make(chan item, 4096), done: make(chan struct{})}
	if err := lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log: locking %s: %w", path, err)
	}
	err = l.catchUp()
	unlock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log: %s: %w", path, err)
	}
	go l.writer()
	return l, nil
}

// Close writes every queued record and closes the file. It returns the
// first write failure, if any.
func (l *Log) Close() error {
	l.once.Do(func() {
		close(l.queue)
		<-l.done
		l.f.Close()
	})
	return l.failure()
}

func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Flush waits until every record queued before it is written, and
// returns the log's first write failure.
func (l *Log) Flush() error {
	ack := make(chan error, 1)
	l.queue <- item{ack: ack}
	return <-ack
}

// writer appends queued records in batches.
func (l *Log) writer() {
	defer close(l.done)
	var batch []Record
	var acks []chan error
	for it := range l.queue {
		batch, acks = batch[:0], acks[:0]
		take := func(it item) {
			if it.ack != nil {
				acks = append(acks, it.ack)
			} else {
				batch = append(batch, it.r)
			}
		}
		take(it)
	more:
		for len(batch) < 256 {
			select {
			case it, ok := <-l.queue:
				if !ok {
					break more
				}
				take(it)
			default:
				break more
			}
		}
		if len(batch) > 0 {
			if err := l.write(batch); err != nil {
				l.mu.Lock()
				if l.err == nil {
					l.err = err
				}
				l.mu.Unlock()
			}
		}
		for _, a := range acks {
			a <- l.failure()
		}
	}
}

// write seals a batch into the chain and appends it in one write.
func (l *Log) write(batch []Record) error {
	if err := lock(l.f); err != nil {
		return fmt.Errorf("locking: %w", err)
	}
	defer unlock(l.f)
	if err := l.catchUp(); err != nil {
		return err
	}
	var buf []byte
	seq, last := l.seq, l.last
	for _, r := range batch {
		seq++
		r.Seq, r.Prev = seq, last
		line, sum := seal(r)
		buf = append(buf, line...)
		last = sum
	}
	n, err := l.f.Write(buf)
	if err != nil {
		if n > 0 {
			l.end = -1 // a torn batch: read the file again next time
		}
		return err
	}
	l.end += int64(n)
	l.seq, l.last = seq, last
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
	l.end, l.last, l.seq = st.Size(), "", 0
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
	l.last, l.seq = sum, r.Seq
	return nil
}

// Record queues one event for the log. An error means an earlier write
// failed: the log is broken, and this record will not be written either.
func (l *Log) Record(e jsonrpc.Event) error {
	r := Record{
		Time:     e.Time.UTC().Format(time.RFC3339Nano),
		Session:  l.meta.Session,
		Profile:  l.meta.Profile,
		Kind:     kindName(e.Kind),
		Method:   e.Method,
		Subject:  e.Subject,
		Decision: e.Decision,
		Rule:     e.Rule,
		Args:     e.Shape,
		Size:     e.Size,
		IsError:  e.IsError,
		Note:     e.Note,
	}
	if e.Dir != 0 {
		r.Dir = e.Dir.String()
	}
	if !e.ID.IsZero() {
		r.ID = e.ID.String()
	}
	if e.Duration > 0 {
		r.DurationMs = float64(e.Duration.Microseconds()) / 1000
	}
	if l.meta.Client != nil {
		r.Client = l.meta.Client()
	}
	if red := l.meta.Redact; red != nil {
		for _, s := range []*string{&r.Client, &r.ID, &r.Subject, &r.Rule, &r.Note, &r.Args} {
			*s = red(*s)
		}
	}
	if err := l.failure(); err != nil {
		return err
	}
	l.queue <- item{r: r}
	return nil
}

func kindName(k jsonrpc.Kind) string {
	if k == 0 {
		return ""
	}
	return k.String()
}

// seal encodes r and appends its hash: the hash covers every byte of the
// line before it, the previous record's hash among them.
func seal(r Record) (line []byte, sum string) {
	b, _ := json.Marshal(r)
	body := b[:len(b)-1] // without the closing brace
	h := sha256.Sum256(body)
	sum = hex.EncodeToString(h[:])
	line = append(append(append(body[:len(body):len(body)], `,"hash":"`...), sum...), "\"}\n"...)
	return line, sum
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

// VerifyError names the first record that breaks the chain.
type VerifyError struct {
	Line int
	Msg  string
}

func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Verify reads a whole log and checks every record's hash and its link to
// the record before. It returns the number of records.
func Verify(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	prev, n := "", 0
	var seq int64
	for sc.Scan() {
		n++
		body, sum, ok := split(sc.Bytes())
		if !ok {
			return n, &VerifyError{n, "not a sealed record (no hash at its end)"}
		}
		h := sha256.Sum256(body)
		if hex.EncodeToString(h[:]) != sum {
			return n, &VerifyError{n, "the record was edited: its hash does not match its content"}
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(append(append([]byte{}, body...), '}')))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			return n, &VerifyError{n, "the record cannot be read: " + err.Error()}
		}
		if rec.Prev != prev {
			return n, &VerifyError{n, "the chain is broken here: a record before this one was removed, added or moved"}
		}
		if n > 1 && rec.Seq != seq+1 {
			return n, &VerifyError{n, fmt.Sprintf("sequence %d follows %d", rec.Seq, seq)}
		}
		prev, seq = sum, rec.Seq
	}
	return n, sc.Err()
}
