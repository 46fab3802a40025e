package jsonrpc

import (
	"bytes"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// sketch is what a lenient reading finds in a frame that is refused
// (strict decoding fails, or it is over the size bound, or it holds a
// stray carriage return): enough to answer it in its own id space. A
// sender waits for an answer to the id it wrote wherever it wrote it:
// the TypeScript SDK writes {result, jsonrpc, id} and {method, params,
// jsonrpc, id}, the id after the part that may be refused.
type sketch struct {
	// ID is the top-level "id", the last of several as most parsers take
	// it; zero when absent or unusable (not a string or a number as JSON
	// writes it, or longer than idKeep). A number ParseID refuses is kept
	// as sent (see echoID), so that the refusal carries it.
	ID ID
	// HasID says an "id" member was there, usable or not.
	HasID bool
	// Method says a top-level "method" member was there: a request (with
	// an id) or a notification (without).
	Method bool
	// Reply says a top-level "result" or "error" member was there.
	Reply bool
	// Batch says the frame is an array; Elements are its elements in
	// order, as far as they could be read.
	Batch    bool
	Elements []sketch
	// Cut counts the elements past the first BatchKeep: read, but not
	// kept, so that a frame of a million tiny elements (or one that never
	// ends) costs a bounded sketch.
	Cut int
	// Start and End are where an element lies in its frame; End is 0
	// when the element did not end.
	Start, End int
	// Whole says the frame is one object or array that ends where its
	// brackets say, with nothing but white space after it: its elements
	// can be told apart as any JSON parser tells them apart.
	Whole bool
}

// Kind is what the sketched message is to its receiver: a Request has a
// method and an id, a Notification a method and no id, a Response a
// result or an error and no method; 0 when it is none of them.
func (s *sketch) Kind() Kind {
	switch {
	case s.Method && s.HasID:
		return Request
	case s.Method:
		return Notification
	case s.Reply:
		return Response
	}
	return 0
}

// sketchOf reads a frame that may be invalid or cut short leniently: the
// members of the top-level object (or of each object of a top-level
// array), skipping values by their nesting, aware of strings. It never
// fails; what it cannot read is left out.
func sketchOf(b []byte) sketch {
	var l lenient
	l.feed(b)
	return l.sketch()
}

// BatchKeep bounds the elements of a batch a lenient reading keeps, and
// the elements of a batch mcpcell takes at all: a 2025-03-26 client
// batches a handful of calls.
const BatchKeep = 1000

// idKeep bounds an id a lenient reading keeps; a longer one is not
// echoed.
const idKeep = 4096

// nameKeep bounds a member name a lenient reading keeps: longer than
// any escaped spelling of the names it looks for.
const nameKeep = 64

type lenientState uint8

const (
	lsTop       lenientState = iota // before the frame's value
	lsName                          // in a message: a member name, or its end
	lsColon                         // after a member name
	lsValue                         // after the colon
	lsScalar                        // in a number or literal at the level read
	lsAfter                         // after a member's value: a comma, or the end
	lsElem                          // in a batch: an element, or the end
	lsElemAfter                     // in a batch, after an element
	lsTrail                         // after the frame's value
	lsStop                          // nothing more to find
)

// field is the member whose value is being read.
type field uint8

const (
	fieldOther field = iota
	fieldID
	fieldMethod
	fieldReply
)

// lenient is sketchOf's reader. It takes a frame in pieces (feed), so
// that a frame over the size bound is read as it streams past, in
// constant memory.
type lenient struct {
	sk      sketch
	msg     *sketch // the message being read: &sk, or an element of sk
	elem    *sketch // the batch element being read: in sk.Elements, or spare
	spare   sketch  // an element past BatchKeep
	state   lenientState
	pos     int // offset of the byte being read
	depth   int // containers open
	msgAt   int // depth of the message's members (1, or 2 in a batch); 0 outside a message
	inStr   bool
	esc     bool
	strName bool   // the string being read is a member name
	keep    bool   // the string or scalar being read is kept in buf
	buf     []byte // the member name, or the id's value, being read
	long    bool   // buf would have gone past its bound
	field   field
	trailOK bool
	bent    bool // white space JSON does not allow between elements or after the frame
}

// level is the depth at which l follows the structure: a message's
// members, or a batch's elements.
func (l *lenient) level() int {
	if l.msgAt > 0 {
		return l.msgAt
	}
	if l.sk.Batch {
		return 1
	}
	return 0
}

func (l *lenient) sketch() sketch {
	sk := l.sk
	sk.Whole = l.state == lsTrail && l.trailOK && !l.bent && sk.Cut == 0
	return sk
}

// isSpace is white space to a lenient reading: any control character
// too (a form feed where a peer's reader ended a line, say).
func isSpace(c byte) bool { return c <= ' ' }

func jsonSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (l *lenient) feed(b []byte) {
	base := l.pos
	for i := 0; i < len(b) && l.state != lsStop; {
		if l.inStr {
			i = l.string(b, i)
			if !l.inStr {
				l.pos = base + i // after the closing quote
				l.stringEnd()
			}
			continue
		}
		l.pos = base + i
		c := b[i]
		i++
		if l.depth > l.level() {
			// Inside a value below the level followed: only its nesting counts.
			switch c {
			case '"':
				l.inStr, l.keep, l.strName = true, false, false
			case '{', '[':
				l.depth++
			case '}', ']':
				l.depth--
				if l.depth == l.level() {
					l.pos++ // after the bracket
					l.valueEnd()
				}
			}
			continue
		}
		l.structural(c)
	}
	l.pos = base + len(b)
}

// string reads string content from b[i:], up to and including its
// closing quote, and returns where it stopped.
func (l *lenient) string(b []byte, i int) int {
	for i < len(b) {
		if l.esc {
			l.esc = false
			l.add(b[i])
			i++
			continue
		}
		if !l.keep {
			// Skip to the next quote or backslash.
			q := bytes.IndexByte(b[i:], '"')
			if q < 0 {
				q = len(b) - i
			}
			if e := bytes.IndexByte(b[i:i+q], '\\'); e >= 0 {
				q = e
			}
			if i += q; i == len(b) {
				return i
			}
		}
		c := b[i]
		i++
		switch c {
		case '\\':
			l.esc = true
			l.add(c)
		case '"':
			l.inStr = false
			if !l.strName {
				l.add(c)
			}
			return i
		default:
			l.add(c)
		}
	}
	return i
}

func (l *lenient) add(c byte) {
	if !l.keep {
		return
	}
	max := idKeep
	if l.strName {
		max = nameKeep
	}
	if len(l.buf) >= max {
		l.long = true
		return
	}
	l.buf = append(l.buf, c)
}

// startKeep begins keeping what is read next in buf.
func (l *lenient) startKeep() {
	l.keep, l.long, l.buf = true, false, l.buf[:0]
}

func (l *lenient) stringEnd() {
	if l.depth > l.level() {
		return // a string inside a nested value
	}
	if l.strName {
		l.strName, l.keep = false, false
		l.field = fieldOther
		if !l.long {
			l.field = fieldOf(l.buf)
		}
		l.state = lsColon
		return
	}
	l.valueEnd()
}

// fieldOf says which member a raw (still escaped) name is.
func fieldOf(raw []byte) field {
	name := string(raw)
	if bytes.IndexByte(raw, '\\') >= 0 {
		var ok bool
		if name, ok = jsontext.String([]byte(`"` + name + `"`)); !ok {
			return fieldOther
		}
	}
	switch name {
	case "id":
		return fieldID
	case "method":
		return fieldMethod
	case "result", "error":
		return fieldReply
	}
	return fieldOther
}

// structural reads one byte outside strings at the level followed.
func (l *lenient) structural(c byte) {
	if isSpace(c) && !jsonSpace(c) && l.msgAt == 0 {
		l.bent = true
	}
	switch l.state {
	case lsTop:
		switch {
		case isSpace(c):
		case c == '{':
			l.depth, l.msgAt, l.msg, l.state = 1, 1, &l.sk, lsName
		case c == '[':
			l.depth, l.sk.Batch, l.state = 1, true, lsElem
		default:
			l.state = lsStop // not an object or an array: nothing to find
		}
	case lsTrail:
		if !isSpace(c) {
			l.trailOK = false
			l.stop()
		}
	case lsName:
		switch {
		case isSpace(c):
		case c == '"':
			l.inStr, l.strName = true, true
			l.startKeep()
		case c == '}':
			l.messageEnd()
		default:
			l.stop()
		}
	case lsColon:
		switch {
		case isSpace(c):
		case c == ':':
			l.state = lsValue
		default:
			l.stop()
		}
	case lsValue:
		if isSpace(c) {
			return
		}
		l.keep = false
		if l.field == fieldID {
			l.startKeep()
		}
		switch c {
		case '"':
			l.inStr, l.strName = true, false
			l.add(c)
		case '{', '[':
			l.keep, l.long = false, true // an id that is a container is unusable
			l.depth++
		case '}', ']', ',', ':':
			l.stop()
		default:
			l.add(c)
			l.state = lsScalar
		}
	case lsScalar:
		if isSpace(c) || c == ',' || c == '}' || c == ']' || c == '"' || c == '{' || c == '[' {
			l.valueEnd()
			l.structural(c)
			return
		}
		l.add(c)
	case lsAfter:
		switch {
		case isSpace(c):
		case c == ',':
			l.state = lsName
		case c == '}':
			l.messageEnd()
		default:
			l.stop()
		}
	case lsElem:
		switch {
		case isSpace(c):
		case c == ']' && len(l.sk.Elements) == 0:
			l.depth = 0
			l.top()
		case c == ',' || c == ']' || c == '}' || c == ':':
			l.stop() // no element where one must be
		default:
			if len(l.sk.Elements) < BatchKeep {
				l.sk.Elements = append(l.sk.Elements, sketch{Start: l.pos})
				l.elem = &l.sk.Elements[len(l.sk.Elements)-1]
			} else {
				l.spare = sketch{Start: l.pos}
				l.elem = &l.spare
				l.sk.Cut++
			}
			l.keep = false
			switch c {
			case '{':
				l.depth, l.msgAt = 2, 2
				l.msg = l.elem
				l.state = lsName
			case '[':
				l.depth = 2
				l.state = lsElemAfter // once the nested array closes
			case '"':
				l.inStr, l.keep, l.strName = true, false, false
			default:
				l.state = lsScalar
			}
		}
	case lsElemAfter:
		switch {
		case isSpace(c):
		case c == ',':
			l.state = lsElem
		case c == ']':
			l.depth = 0
			l.top()
		default:
			l.stop()
		}
	}
}

// valueEnd ends a value at the level followed: a member's value in a
// message, or an element of a batch.
func (l *lenient) valueEnd() {
	if l.msgAt == 0 { // an element that is not an object
		l.elem.End = l.pos
		l.state = lsElemAfter
		return
	}
	switch l.field {
	case fieldID:
		l.msg.HasID = true
		l.msg.ID = ID{}
		if !l.long {
			l.msg.ID = idOf(l.buf)
		}
	case fieldMethod:
		l.msg.Method = true
	case fieldReply:
		l.msg.Reply = true
	}
	l.keep, l.field = false, fieldOther
	l.state = lsAfter
}

// messageEnd ends a message object at its closing brace.
func (l *lenient) messageEnd() {
	l.depth--
	if l.sk.Batch {
		l.msg.End = l.pos + 1
		l.msgAt, l.msg = 0, nil
		l.state = lsElemAfter
		return
	}
	l.top()
}

// top ends the frame's value.
func (l *lenient) top() {
	l.msgAt, l.msg = 0, nil
	l.state, l.trailOK = lsTrail, true
}

// stop gives up: the structure is broken here.
func (l *lenient) stop() { l.state = lsStop }

// idOf reads a recovered id value: a string or number as JSON writes it.
func idOf(raw []byte) ID {
	if jsontext.Validate(raw) != nil {
		return ID{}
	}
	switch jsontext.TypeOf(raw) {
	case "string", "number":
		if id, err := ParseID(raw); err == nil {
			return id
		}
		return echoID(raw)
	}
	return ID{}
}
