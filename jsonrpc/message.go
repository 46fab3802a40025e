package jsonrpc

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// Kind says what a message is.
type Kind uint8

const (
	Request Kind = iota + 1
	Notification
	Response
)

func (k Kind) String() string {
	switch k {
	case Request:
		return "request"
	case Notification:
		return "notification"
	case Response:
		return "response"
	}
	return "invalid"
}

// ID is a JSON-RPC request id: a string or an integer. The zero ID means
// absent.
type ID struct {
	raw string // as sent
	key IDKey
}

// IDKey is equal for two ids a JSON peer would take as the same: the
// decoded string, or the integer's text.
type IDKey struct {
	str bool
	v   string
}

// IsZero reports whether the id is absent.
func (id ID) IsZero() bool { return id.raw == "" }

// Raw returns the id's JSON text as it was sent, or null when absent.
func (id ID) Raw() []byte {
	if id.raw == "" {
		return []byte("null")
	}
	return []byte(id.raw)
}

// Key is equal for two ids a JSON peer would take as the same.
func (id ID) Key() IDKey { return id.key }

func (id ID) String() string {
	if id.raw == "" {
		return "null"
	}
	return id.raw
}

// maxSafeID is the largest integer id: beyond it a JavaScript peer,
// which reads every number as a 64-bit float, reads two ids as one.
const maxSafeID = 1<<53 - 1

// ParseID reads an id value: a string, or an integer written as JSON's
// shortest form writes it, within ±maxSafeID. It refuses null and other
// kinds, and the numbers a peer could read as another id: -0 (0 to
// JavaScript), fractions and exponents (29.0 is 29 to JavaScript and
// Python's json reads it as a float), integers beyond ±maxSafeID (2^53+1
// is 2^53 to JavaScript). Two ids any peer can tell apart have two keys.
// It is total: bytes that are not one strict JSON value with no white
// space around it are refused with an error, never a panic.
func ParseID(raw []byte) (ID, error) {
	if jsontext.Validate(raw) != nil || raw[0] == '"' && raw[len(raw)-1] != '"' { // white space after a string
		return ID{}, errors.New("id must be a string or an integer")
	}
	return readID(raw)
}

// readID is ParseID of a value already validated, as a member of a frame
// (Parse's id, a cancellation's requestId) is: no white space around
// it, and the frame's one validation is all it takes.
func readID(raw []byte) (ID, error) {
	switch jsontext.TypeOf(raw) {
	case "string":
		text := string(raw)
		v := text[1 : len(text)-1] // no escape: the text itself, no copy
		if bytes.IndexByte(raw, '\\') >= 0 {
			v, _ = jsontext.String(raw)
		}
		return ID{raw: text, key: IDKey{str: true, v: v}}, nil
	case "number":
		for i, c := range raw {
			if !(c >= '0' && c <= '9' || i == 0 && c == '-') {
				return ID{}, errors.New("id must be a string or an integer (no fraction or exponent)")
			}
		}
		text := string(raw)
		if text == "-0" {
			return ID{}, errors.New("id -0 is 0 to some peers: write 0")
		}
		if n, err := strconv.ParseInt(text, 10, 64); err != nil || n > maxSafeID || n < -maxSafeID {
			return ID{}, errors.New("id out of range (integers up to ±9007199254740991, 2^53-1)")
		}
		return ID{raw: text, key: IDKey{v: text}}, nil
	}
	return ID{}, errors.New("id must be a string or an integer")
}

// echoID is a number id that ParseID refused, kept as sent so that the
// refusal can carry it (a client waits for an answer with the id it
// sent). Its key is its text, which no id ParseID accepts has: it is
// never in flight.
func echoID(raw []byte) ID {
	if jsontext.TypeOf(raw) != "number" {
		return ID{}
	}
	text := string(raw)
	return ID{raw: text, key: IDKey{v: text}}
}

// alias is the key of the integer id a JavaScript peer reads a refused
// number id as (29.0 and 2.9e1 as 29, -0 as 0), if it is one ParseID
// accepts: a server that answers the client's 29 with 29.0 is answering
// 29.
func (id ID) alias() (IDKey, bool) {
	if id.key.str || id.raw == "" {
		return IDKey{}, false
	}
	f, err := strconv.ParseFloat(id.raw, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > maxSafeID {
		return IDKey{}, false
	}
	return IDKey{v: strconv.FormatInt(int64(f), 10)}, true
}

// Message is one JSON-RPC message as it arrived. Raw holds the original
// bytes; the other fields are views into it.
type Message struct {
	Raw    []byte
	Kind   Kind
	ID     ID
	Method string
	Params []byte // nil when absent
	Result []byte
	Error  []byte
}

// invalidError says why a well-formed JSON object is not a JSON-RPC
// message. ID is set when the object carried an id: a usable one, or a
// number ParseID refused, as sent, so that the refusal echoes it (its key
// is in flight nowhere). Request says the object has a method: its sender
// waits for an answer.
type invalidError struct {
	ID      ID
	Request bool
	Msg     string
}

func (e *invalidError) Error() string { return e.Msg }

// Parse reads one validated JSON object as a JSON-RPC 2.0 message.
// Member names match exactly; a member JSON-RPC does not define is refused.
func Parse(raw []byte) (*Message, error) {
	m := &Message{Raw: raw}
	var version, idRaw, method []byte
	var bad string
	err := jsontext.EachMember(raw, func(name, value []byte) bool {
		switch string(name) {
		case "jsonrpc":
			version = value
		case "id":
			idRaw = value
		case "method":
			method = value
		case "params":
			m.Params = value
		case "result":
			m.Result = value
		case "error":
			m.Error = value
		default:
			if bad == "" {
				bad = fmt.Sprintf("unknown member %q", name)
			}
		}
		return true
	})
	if err != nil {
		return nil, &invalidError{Msg: "a message must be a JSON object"}
	}
	if idRaw != nil && jsontext.TypeOf(idRaw) != "null" {
		id, err := readID(idRaw)
		if err != nil {
			return nil, &invalidError{ID: echoID(idRaw), Request: method != nil, Msg: err.Error()}
		}
		m.ID = id
	}
	invalid := func(msg string) error { return &invalidError{ID: m.ID, Request: method != nil, Msg: msg} }
	if bad != "" {
		return nil, invalid(bad)
	}
	if string(version) != `"2.0"` { // else decode it: it may hold escapes
		if v, ok := jsontext.String(version); !ok || v != "2.0" {
			return nil, invalid(`"jsonrpc" must be "2.0"`)
		}
	}
	switch {
	case method != nil:
		name, ok := methodName(method)
		if !ok || name == "" {
			return nil, invalid(`"method" must be a non-empty string`)
		}
		m.Method = name
		if m.Result != nil || m.Error != nil {
			return nil, invalid("a request cannot carry a result or an error")
		}
		if m.Params != nil && jsontext.TypeOf(m.Params) != "object" {
			return nil, invalid(`"params" must be an object`)
		}
		if idRaw == nil {
			m.Kind = Notification
		} else if m.ID.IsZero() {
			return nil, invalid("a request id cannot be null")
		} else {
			m.Kind = Request
		}
	case m.Result != nil && m.Error == nil || m.Result == nil && m.Error != nil:
		if idRaw == nil {
			return nil, invalid("a response needs an id")
		}
		if m.Params != nil {
			return nil, invalid("a response cannot carry params")
		}
		if m.Error != nil && jsontext.TypeOf(m.Error) != "object" {
			return nil, invalid(`"error" must be an object`)
		}
		m.Kind = Response
	default:
		return nil, invalid("neither a request nor a response")
	}
	return m, nil
}

// methods are the protocol's method names: reading one of them copies
// nothing (an array of constants: nothing to build when mcpcell starts).
var methods = [...]string{
	"initialize", "ping", "server/discover", "tools/list", "tools/call", "resources/list",
	"resources/templates/list", "resources/read", "resources/subscribe", "resources/unsubscribe",
	"prompts/list", "prompts/get", "completion/complete", "logging/setLevel",
	"sampling/createMessage", "elicitation/create", "roots/list", "tasks/get", "tasks/result",
	"tasks/list", "tasks/cancel", "subscriptions/listen", "notifications/initialized",
	"notifications/cancelled", "notifications/progress", "notifications/message",
	"notifications/resources/updated", "notifications/resources/list_changed",
	"notifications/tools/list_changed", "notifications/prompts/list_changed",
	"notifications/roots/list_changed", "notifications/tasks/status",
	"notifications/elicitation/complete",
}

// knownMethod returns the constant for a name of methods.
func knownMethod(name []byte) (string, bool) {
	for _, m := range methods {
		if string(name) == m {
			return m, true
		}
	}
	return "", false
}

// methodName reads a method's name: a known one without a copy.
func methodName(raw []byte) (string, bool) {
	if len(raw) >= 2 && raw[0] == '"' {
		if name, ok := knownMethod(raw[1 : len(raw)-1]); ok {
			return name, true
		}
	}
	return jsontext.String(raw)
}

// Standard and MCP error codes.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternalError  = -32603
	// CodeResourceNotFound is MCP's code up to 2025-11-25; 2026-07-28 uses
	// CodeInvalidParams.
	CodeResourceNotFound = -32002
	// CodeUserRejected is what a client answers when sampling is refused.
	CodeUserRejected = -1
)

// Error is a JSON-RPC error object mcpcell sends.
type Error struct {
	Code    int
	Message string
	Data    []byte // a JSON value, or nil for none
}

func (e *Error) Error() string { return fmt.Sprintf("%s (%d)", e.Message, e.Code) }

// errorResponse builds the frame answering id with e.
func errorResponse(id ID, e *Error) []byte {
	b := make([]byte, 0, 64+len(e.Message))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id.Raw()...)
	b = append(b, `,"error":{"code":`...)
	b = strconv.AppendInt(b, int64(e.Code), 10)
	b = append(b, `,"message":`...)
	b = append(b, jsontext.Quote(e.Message)...)
	if e.Data != nil {
		b = append(append(b, `,"data":`...), e.Data...)
	}
	return append(b, "}}"...)
}

// ResultResponse builds the frame answering id with the JSON value result.
func ResultResponse(id ID, result []byte) []byte {
	b := make([]byte, 0, 40+len(result))
	b = append(b, `{"jsonrpc":"2.0","id":`...)
	b = append(b, id.Raw()...)
	b = append(b, `,"result":`...)
	b = append(b, result...)
	return append(b, '}')
}

// offset is where inner, a subslice of outer, starts in it.
func offset(outer, inner []byte) int { return cap(outer) - cap(inner) }

// WithResult returns the message's frame with its result replaced.
func (m *Message) WithResult(result []byte) []byte {
	at := offset(m.Raw, m.Result)
	return jsontext.Splice(m.Raw, at, at+len(m.Result), result)
}

// WithParams returns the message's frame with its params replaced.
func (m *Message) WithParams(params []byte) []byte {
	at := offset(m.Raw, m.Params)
	return jsontext.Splice(m.Raw, at, at+len(m.Params), params)
}
