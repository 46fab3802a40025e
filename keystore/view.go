package keystore

import "sort"

// A view is a text decoded one way: escapes become what they stand for;
// everything else stays. toks maps the decoded bytes back.
type view struct {
	dec   []byte
	toks  []tok
	inner *view // the view this one decodes further; nil: the text
	// cut: where dec stops being decided (an escape the end of the text
	// cuts short here or in a view below begins there); len(dec) when
	// all of it is. dec[cut:] is the source's rest, as it is.
	cut  int
	pend int // cut, in the text; len(text) when nothing is cut
}

// tok is n escapes in a row, each w bytes of the source (the text, or
// inner's decoding) decoded to d bytes: dec[dec+j*d:][:d] came from
// source[src+j*w:][:w]. A run of like escapes takes one tok, so a text
// made of escapes costs no more than its own size.
type tok struct{ dec, src, n, w, d int32 }

// escape records that the source's [at, at+w) decoded to the last d
// bytes of dec.
func (v *view) escape(at, w, d int) {
	if k := len(v.toks) - 1; k >= 0 {
		t := &v.toks[k]
		if int(t.w) == w && int(t.d) == d && int(t.src+t.n*t.w) == at && int(t.dec+t.n*t.d) == len(v.dec)-d {
			t.n++
			return
		}
	}
	if len(v.toks) == cap(v.toks) {
		// Doubling: append's growth for large slices (1.25x) would
		// allocate some five times the final size for a text of escapes.
		toks := make([]tok, len(v.toks), 2*cap(v.toks)+16)
		copy(toks, v.toks)
		v.toks = toks
	}
	v.toks = append(v.toks, tok{dec: int32(len(v.dec) - d), src: int32(at), n: 1, w: int32(w), d: int32(d)})
}

// src maps dec[i] to the bytes of the source it came from.
func (v *view) src(i int) (int, int) {
	k := sort.Search(len(v.toks), func(k int) bool { return int(v.toks[k].dec) > i }) - 1
	if k < 0 {
		return i, i + 1
	}
	t := v.toks[k]
	dec, src, n, w, d := int(t.dec), int(t.src), int(t.n), int(t.w), int(t.d)
	if i < dec+n*d {
		at := src + (i-dec)/d*w
		return at, at + w
	}
	at := src + n*w + i - (dec + n*d)
	return at, at + 1
}

// raw maps dec[s:e] to the text.
func (v *view) raw(s, e int) (int, int) {
	lo, _ := v.src(s)
	_, hi := v.src(e - 1)
	if v.inner != nil {
		return v.inner.raw(lo, hi)
	}
	return lo, hi
}

// before counts the decoded bytes that come entirely from text before at.
func (v *view) before(at int) int {
	return sort.Search(len(v.dec), func(i int) bool {
		_, hi := v.raw(i, i+1)
		return hi > at
	})
}

// escapeStart moves at back to the start of the escape of this view (in
// the text) that holds it, if any.
func (v *view) escapeStart(at int) int {
	text := func(lo, hi int) (int, int) {
		if v.inner != nil {
			return v.inner.raw(lo, hi)
		}
		return lo, hi
	}
	for _, t := range v.toks {
		src, n, w := int(t.src), int(t.n), int(t.w)
		lo, hi := text(src, src+n*w)
		if lo >= at {
			break
		}
		if at >= hi {
			continue
		}
		// The last escape of the run that starts at or before at.
		j := sort.Search(n, func(j int) bool {
			lo, _ := text(src+j*w, src+(j+1)*w)
			return lo > at
		}) - 1
		if lo, hi := text(src+j*w, src+(j+1)*w); lo < at && at < hi {
			return lo
		}
		return at
	}
	return at
}

// newView starts a view decoding b; end is where the decided part of b
// ends (all of the text; inner's cut).
func newView(b []byte, inner *view) (*view, int) {
	end := len(b)
	if inner != nil {
		end = inner.cut
	}
	return &view{inner: inner, dec: make([]byte, 0, len(b))}, end
}

// finish appends the source's undecided rest, b[at:], as it is, and sets
// where the view is cut: at own (an escape this view's decoding cut
// short, or -1) or the inner view's cut. It returns nil when the view
// decodes nothing and cuts nothing of its own: it would only repeat its
// source.
func (v *view) finish(b []byte, at, own int) *view {
	if len(v.toks) == 0 && own < 0 {
		return nil
	}
	v.cut = len(v.dec)
	v.dec = append(v.dec, b[at:]...)
	switch {
	case v.inner == nil:
		v.pend = at
	case own >= 0:
		v.pend, _ = v.inner.raw(own, own+1)
		v.pend = min(v.pend, v.inner.pend)
	default:
		v.pend = v.inner.pend
	}
	return v
}
