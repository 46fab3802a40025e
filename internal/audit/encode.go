package audit

import (
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendRecord appends the JSON of one record without its closing brace:
// the bytes json.Marshal gives for the Record it stands for (FuzzEncoding
// holds the two together), written without reflection or allocation.
func (l *Log) appendRecord(b []byte, seq int64, prev []byte, en *entry) []byte {
	e := &en.e
	red := func(s string) string {
		if l.meta.Redact != nil && s != "" {
			return l.meta.Redact(s)
		}
		return s
	}
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "session", l.meta.Session, false)
	b = appendField(b, "profile", l.meta.Profile, false)
	b = appendField(b, "client", red(en.client), true)
	if e.Dir != 0 {
		b = appendField(b, "dir", e.Dir.String(), true)
	}
	b = appendField(b, "kind", kindName(e.Kind), true)
	b = appendField(b, "method", red(e.Method), true)
	if !e.ID.IsZero() {
		b = appendField(b, "id", red(e.ID.String()), true)
	}
	b = appendField(b, "subject", red(e.Subject), true)
	b = appendField(b, "decision", e.Decision, false)
	b = appendField(b, "rule", red(e.Rule), true)
	b = appendField(b, "args", red(e.Shape), true)
	if e.Duration > 0 {
		if ms := float64(e.Duration.Microseconds()) / 1000; ms != 0 {
			b = append(b, `,"duration_ms":`...)
			b = strconv.AppendFloat(b, ms, 'f', -1, 64) // below 1e21: as encoding/json writes it
		}
	}
	if e.Size != 0 {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, int64(e.Size), 10)
	}
	if e.IsError {
		b = append(b, `,"is_error":true`...)
	}
	if e.Count != 0 {
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, int64(e.Count), 10)
	}
	b = appendField(b, "note", red(e.Note), true)
	b = append(b, `,"prev":"`...)
	return append(append(b, prev...), '"') // hex
}

// appendField appends ,"name":"value", or nothing for an empty value that
// is omitted; the value clipped.
func appendField(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(append(append(b, ',', '"'), name...), '"', ':')
	return appendString(b, clip(value))
}

// MaxField is how many bytes of a string a record keeps. A peer chooses
// most of them (a method, an id, a URI, a note quoting a name): without
// a bound one frame of max_frame bytes made a record as large, and a few
// such records a second rotated the log away.
const MaxField = 1024

// clip cuts s to MaxField bytes at a character's start, and says how long
// it was.
func clip(s string) string {
	if len(s) <= MaxField {
		return s
	}
	return utf8cut.Cut(s, MaxField) + "…[" + strconv.Itoa(len(s)) + " bytes]"
}

const hexDigits = "0123456789abcdef"

// plain holds the ASCII bytes a JSON string carries as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendString appends s as a JSON string the way encoding/json writes
// it: <, > and & escaped, U+2028 and U+2029 escaped, invalid UTF-8 as
// U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(b, s[start:]...), '"')
}
