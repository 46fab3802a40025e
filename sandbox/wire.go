package sandbox

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"syscall"
)

// The spec and the helper's reports cross their pipes in a small binary
// form rather than JSON: the helper's start is on the path of every
// server's start, and decoding with encoding/json cost it a millisecond
// of reflection there. Strings and lists carry their lengths as uvarints.

// specVersion changes with the layout, so that a helper of another build
// refuses the spec rather than misreading it.
const specVersion = 4

type wbuf []byte

func (b *wbuf) uint(v uint64) { *b = binary.AppendUvarint(*b, v) }
func (b *wbuf) int(v int)     { *b = binary.AppendVarint(*b, int64(v)) }
func (b *wbuf) str(s string)  { b.uint(uint64(len(s))); *b = append(*b, s...) }
func (b *wbuf) bool(v bool) {
	if v {
		*b = append(*b, 1)
	} else {
		*b = append(*b, 0)
	}
}
func (b *wbuf) strs(l []string) {
	b.uint(uint64(len(l)))
	for _, s := range l {
		b.str(s)
	}
}
func (b *wbuf) ports(l []uint16) {
	b.uint(uint64(len(l)))
	for _, p := range l {
		b.uint(uint64(p))
	}
}

// rbuf reads what wbuf wrote; the first error sticks and every read after
// it gives zero values.
type rbuf struct {
	b   []byte
	err error
}

var errTruncated = errors.New("truncated or malformed")

func (r *rbuf) uint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads what binary.AppendVarint wrote: a zig-zag uvarint.
func (r *rbuf) int() int {
	u := r.uint()
	return int(int64(u>>1) ^ -int64(u&1))
}

func (r *rbuf) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errTruncated
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *rbuf) bool() bool { return r.byte() == 1 }

func (r *rbuf) str() string {
	n := r.uint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errTruncated
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// count reads a list's length, bounded by what is left (each element
// takes a byte at least).
func (r *rbuf) count() int {
	n := r.uint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errTruncated
		return 0
	}
	return int(n)
}

func (r *rbuf) strs() []string {
	var l []string
	for n := r.count(); n > 0 && r.err == nil; n-- {
		l = append(l, r.str())
	}
	return l
}

func (r *rbuf) ports() []uint16 {
	var l []uint16
	for n := r.count(); n > 0 && r.err == nil; n-- {
		p := r.uint()
		if p > 0xffff {
			r.err = errTruncated
		}
		l = append(l, uint16(p))
	}
	return l
}

// encodeSpec is the spec as the helper reads it.
func encodeSpec(s *Spec) []byte {
	b := wbuf{specVersion}
	b.strs(s.Command)
	b.str(s.Path)
	b.str(s.Dir)
	b.strs(s.Env)
	b.uint(uint64(len(s.Rules)))
	for _, r := range s.Rules {
		b.str(r.Path)
		b = append(b, byte(r.Access))
		b.bool(r.Dir)
	}
	b.ports(s.Net.ConnectTCP)
	b.ports(s.Net.BindTCP)
	b.bool(s.Net.UDP)
	b.bool(s.Net.Unix)
	b.bool(s.BestEffort)
	b.int(s.Parent)
	b.int(s.PretendABI)
	b.bool(s.PretendNoSeccomp)
	b = append(b, byte(s.Unhardened))
	b.bool(s.tryOnly)
	b.bool(s.Net.Egress != nil)
	if e := s.Net.Egress; e != nil {
		b.uint(uint64(len(e.Addrs)))
		for _, a := range e.Addrs {
			b.str(string(a.AsSlice()))
		}
		b.uint(uint64(len(e.Listen)))
		for _, l := range e.Listen {
			b.str(string(l.Addr.Addr().AsSlice()))
			b.uint(uint64(l.Addr.Port()))
			b.bool(l.UDP)
		}
		b.uint(s.hostNet)
	}
	return b
}

// addr reads an address that wbuf wrote as its 4 or 16 bytes.
func (r *rbuf) addr() netip.Addr {
	a, ok := netip.AddrFromSlice([]byte(r.str()))
	if !ok && r.err == nil {
		r.err = errTruncated
	}
	return a
}

// decodeSpec reads a whole spec; io.EOF means there was none at all.
func decodeSpec(data []byte) (*Spec, error) {
	if len(data) == 0 {
		return nil, io.EOF
	}
	if data[0] != specVersion {
		return nil, errors.New("the spec comes from another build of mcpcell")
	}
	r := &rbuf{b: data[1:]}
	s := &Spec{}
	s.Command = r.strs()
	s.Path = r.str()
	s.Dir = r.str()
	s.Env = r.strs()
	for n := r.count(); n > 0 && r.err == nil; n-- {
		s.Rules = append(s.Rules, PathRule{Path: r.str(), Access: Access(r.byte()), Dir: r.bool()})
	}
	s.Net.ConnectTCP = r.ports()
	s.Net.BindTCP = r.ports()
	s.Net.UDP = r.bool()
	s.Net.Unix = r.bool()
	s.BestEffort = r.bool()
	s.Parent = r.int()
	s.PretendABI = r.int()
	s.PretendNoSeccomp = r.bool()
	s.Unhardened = Unhardened(r.byte())
	s.tryOnly = r.bool()
	if r.bool() {
		e := &Egress{}
		for n := r.count(); n > 0 && r.err == nil; n-- {
			e.Addrs = append(e.Addrs, r.addr())
		}
		for n := r.count(); n > 0 && r.err == nil; n-- {
			a := r.addr()
			p := r.uint()
			if p > 0xffff {
				r.err = errTruncated
			}
			e.Listen = append(e.Listen, Listen{Addr: netip.AddrPortFrom(a, uint16(p)), UDP: r.bool()})
		}
		s.hostNet = r.uint()
		s.Net.Egress = e
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// A report is one of: 'o', setup µs, ABI (the cell is set up; the server
// is exec'd next); 'e', a message (the helper failed); 'n', a step and an
// errno (the network namespace could not be set up); 'l', a count (the
// message carries that many sockets, Egress.Listen in order: see
// readStatus).

func encodeReport(r report) []byte {
	switch {
	case r.NamespaceStep != "":
		b := wbuf{'n'}
		b.str(r.NamespaceStep)
		b.uint(uint64(r.Errno))
		return b
	case r.Error != "":
		b := wbuf{'e'}
		b.str(r.Error)
		return b
	case r.Sockets > 0:
		b := wbuf{'l'}
		b.uint(uint64(r.Sockets))
		return b
	}
	b := wbuf{'o'}
	b.uint(uint64(max(r.SetupMicros, 0)))
	b.uint(uint64(max(r.ABI, 0)))
	return b
}

// readReports reads reports until the data ends and returns the first
// error, or else the first report that is not a count of sockets.
func readReports(data []byte) report {
	r := &rbuf{b: data}
	var first report
	for seen := false; len(r.b) > 0 && r.err == nil; {
		var rep report
		switch r.byte() {
		case 'e':
			rep.Error = r.str()
		case 'n':
			rep.NamespaceStep = r.str()
			if e := r.uint(); e <= 0xffff {
				rep.Errno = syscall.Errno(e)
			} else {
				r.err = errTruncated
			}
			rep.Error = rep.NamespaceStep + ": " + rep.Errno.Error()
		case 'o':
			rep.SetupMicros, rep.ABI = int64(r.uint()), int(r.uint())
		case 'l':
			r.uint() // the sockets themselves came with it
			continue
		default:
			r.err = errTruncated
		}
		if r.err != nil {
			rep = report{Error: "the cell helper's report cannot be read"}
		}
		if !seen || first.Error == "" && rep.Error != "" {
			first, seen = rep, true
		}
	}
	return first
}
