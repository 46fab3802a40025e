package keystore

import (
	"bytes"
	"sort"
)

// A span of the text to replace.
type span struct {
	lo, hi int
	repl   []byte
}

// find lists the spans of b that hold a form of a value, in order and
// without overlaps. For a stream (stream set), hold is where the part
// begins that could be the start of a form whose rest is still to come;
// it is len(b) when there is none.
func (r *Redactor) find(b []byte, stream bool) (spans []span, hold int) {
	views := []*view{{dec: b, cut: len(b), pend: len(b)}}
	// Escapes inside escapes (a JSON document in a JSON string in the
	// frame) are decoded too, a few levels deep; percent-escapes at each.
	var inner *view
	for level := 0; level <= maxNesting; level++ {
		dec := b
		if inner != nil {
			dec = inner.dec
		}
		if bytes.IndexByte(dec, '%') >= 0 {
			if p := unpercent(dec, inner); p != nil {
				views = append(views, p)
			}
		}
		if level == maxNesting || bytes.IndexByte(dec, '\\') < 0 {
			break
		}
		if inner = unescape(dec, inner); inner == nil {
			break
		}
		views = append(views, inner)
	}
	pend := len(b)
	for _, v := range views {
		pend = min(pend, v.pend)
	}
	hold = len(b)
	if stream {
		hold = pend
	}
	for _, v := range views {
		r.hits(v.dec, false, func(k, s, e int) {
			n := &r.needles[k]
			if n.left && s > 0 && isBase64(v.dec[s-1]) {
				s--
			}
			if n.right && e < len(v.dec) && isBase64(v.dec[e]) {
				e++
			}
			lo, hi := v.raw(s, e)
			spans = append(spans, span{lo, hi, n.repl})
			// A form at the very end may go on (a longer form, the
			// base64 character after it): it waits for what follows.
			if stream && hi >= pend {
				hold = min(hold, lo)
			}
		})
		if !stream {
			continue
		}
		// The longest end of the decoded text that begins a form. A
		// base64 form takes the character before it along, so a last
		// base64 character waits too.
		done := v.before(pend)
		for k := range r.needles {
			n := &r.needles[k]
			if n.left && done > 0 && isBase64(v.dec[done-1]) {
				lo, _ := v.raw(done-1, done)
				hold = min(hold, lo)
			}
			for l := min(len(n.b)-1, done); l > 0; l-- {
				s := done - l
				if equal(v.dec[s:done], n.b[:l], n.fold) {
					if n.left && s > 0 {
						s--
					}
					lo, _ := v.raw(s, s+1)
					hold = min(hold, lo)
					break
				}
			}
		}
	}
	if stream {
		// The held part must begin where each view's decoding begins
		// anew, or a decoding of the held part alone would differ from
		// the stream's; and no span may cross it.
		for moved := true; moved; {
			moved = false
			for _, v := range views[1:] {
				if h := v.escapeStart(hold); h < hold {
					hold, moved = h, true
				}
			}
			for _, s := range spans {
				if s.lo < hold && hold < s.hi {
					hold, moved = s.lo, true
				}
			}
		}
	}
	return merge(spans), hold
}

// merge sorts spans and joins those that overlap; the longer one names
// the joined span.
func merge(spans []span) []span {
	if len(spans) < 2 {
		return spans
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].lo != spans[j].lo {
			return spans[i].lo < spans[j].lo
		}
		return spans[i].hi > spans[j].hi
	})
	out := spans[:1]
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		if s.lo >= last.hi {
			out = append(out, s)
			continue
		}
		if s.hi > last.hi {
			if s.hi-s.lo > last.hi-last.lo {
				last.repl = s.repl
			}
			last.hi = s.hi
		}
	}
	return out
}

// apply replaces each span of b.
func apply(b []byte, spans []span) []byte {
	out := make([]byte, 0, len(b))
	last := 0
	for _, s := range spans {
		out = append(out, b[last:s.lo]...)
		out = append(out, s.repl...)
		last = s.hi
	}
	return append(out, b[last:]...)
}
