package jsonrpc

import (
	"io"
	"time"
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
	State   any
	start   time.Time // when it went out: its reply's Duration starts here
	// reply, on a request of mcpcell's own to the client (see Ask),
	// takes the client's answer in place of the server.
	reply func(result []byte, err *Error)
}

// Policy decides on every message. It is asked from two goroutines, one
// per direction, of every session of the Interposer it is set on, and
// must be safe for that.
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
// the session then refuses new requests. A Recorder that holds records
// in memory also has a method Sync() error (see syncer).
type Recorder interface {
	Record(Event) error
}

// A syncer is a Recorder that may hold records in memory: the session
// calls Sync once the frames of a burst have gone out, so that records are
// written while the peers work, and treats an error as it does one from
// Record.
type syncer interface {
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
//
// An Interposer is configuration: its fields are set by the caller before
// a session runs, and nothing of a session is kept in it. Each session
// (NewSession) keeps its own state; sessions of one Interposer can run at
// the same time, sharing its Policy and Recorder, which must be safe for
// that.
type Interposer struct {
	Policy   Policy
	Recorder Recorder // nil records nothing
	MaxFrame int      // 0 means 16 MiB (defaultMaxFrame)
	Notes    io.Writer
	// ClientClosed is called once the client's input ends.
	ClientClosed func()
	// Redact, when set, is applied to every frame written to the client.
	Redact func([]byte) []byte
	// RedactText, when set, is applied to what a note quotes of a peer's
	// output, before it is shortened: a value cut in two would not be
	// found.
	RedactText func([]byte) []byte
	// Observe, when set, is called with each message from the server
	// that the policy is about to decide on, before it decides: for a
	// response, with the request it answers (c is nil for a request or
	// notification). A response no request waits for never reaches the
	// policy, nor Observe. The message is the policy's: Observe only
	// reads it, and keeps nothing of it past the call. mcpcell probe
	// sets it, to show what the policy hides from the client.
	Observe func(c *Call, m *Message)
	now     func() time.Time // nil means time.Now; tests set it
}

// observe shows m, from dir, to the Observe hook.
func (ip *Interposer) observe(dir Direction, c *Call, m *Message) {
	if dir == Down && ip.Observe != nil {
		ip.Observe(c, m)
	}
}
