package egress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// The DNS stub answers from the plan alone (RFC 1035, by hand): a name a
// rule covers gets its host's addresses, every other name NXDOMAIN, and
// nothing is ever forwarded, so a query's name reaches no resolver.

const (
	typeA    = 1
	typeAAAA = 28
	classIN  = 1

	rcodeFormErr  = 1
	rcodeNXDomain = 3
	rcodeNotImp   = 4

	// dnsTTL is short: the addresses are the plan's, fixed for a cell's
	// life, but a resolver need not keep them past it.
	dnsTTL = 30
	// maxAnswers bounds an answer well under 512 bytes.
	maxAnswers = 8
)

var (
	errNoHeader = errors.New("a DNS message shorter than its header")
	errFormat   = errors.New("a malformed DNS query")
)

// query is the one question of a DNS query.
type query struct {
	id       uint16
	flags    uint16
	question []byte // as received, echoed in the answer (case kept: 0x20)
	name     string // lower case, dotted, no trailing dot
	valid    bool   // every label is one a rule could name
	qtype    uint16
	qclass   uint16
}

// parseQuery reads a query: errNoHeader (answer nothing) or errFormat
// (answer FORMERR) when it is not one. Additional records (EDNS) are
// ignored; the answer carries none.
func parseQuery(b []byte) (query, error) {
	if len(b) < 12 {
		return query{}, errNoHeader
	}
	q := query{id: binary.BigEndian.Uint16(b), flags: binary.BigEndian.Uint16(b[2:])}
	if q.flags&0x8000 != 0 {
		return q, errNoHeader // a response: never answer one
	}
	if binary.BigEndian.Uint16(b[4:]) != 1 || binary.BigEndian.Uint16(b[6:]) != 0 || binary.BigEndian.Uint16(b[8:]) != 0 {
		return q, errFormat
	}
	var name strings.Builder
	q.valid = true
	i := 12
	for {
		if i >= len(b) {
			return q, errFormat
		}
		l := int(b[i])
		i++
		if l == 0 {
			break
		}
		if l > 63 || i+l > len(b) { // compression pointers (0xc0) are > 63
			return q, errFormat
		}
		if name.Len() > 0 {
			name.WriteByte('.')
		}
		label := strings.ToLower(string(b[i : i+l]))
		if checkLabel(label) != nil {
			q.valid = false
			label = presentLabel(label)
		}
		name.WriteString(label)
		if i+l-12 > 254 { // the name's text past 253 bytes, as RFC 1035 bounds it
			return q, errFormat
		}
		i += l
	}
	if i+4 > len(b) {
		return q, errFormat
	}
	q.qtype = binary.BigEndian.Uint16(b[i:])
	q.qclass = binary.BigEndian.Uint16(b[i+2:])
	q.question = b[12 : i+4]
	q.name = name.String()
	return q, nil
}

// answerDNS is the stub's reply to the message b, nil for none; refused
// is the name when the reply is NXDOMAIN, for the audit.
func (p *Plan) answerDNS(b []byte) (reply []byte, refused string) {
	q, err := parseQuery(b)
	switch {
	case errors.Is(err, errNoHeader):
		return nil, ""
	case err != nil:
		return dnsHeader(q, rcodeFormErr, nil, 0), ""
	case q.flags>>11&0xf != 0:
		return dnsHeader(q, rcodeNotImp, q.question, 0), ""
	}
	host := -1
	if q.valid {
		host = p.hostOf(q.name)
	}
	if host < 0 {
		return dnsHeader(q, rcodeNXDomain, q.question, 0), q.name
	}
	var addrs [][]byte
	for _, a := range p.Hosts[host].Addrs {
		switch {
		case q.qclass != classIN:
		case q.qtype == typeA && a.Is4():
			v := a.As4()
			addrs = append(addrs, v[:])
		case q.qtype == typeAAAA && a.Is6():
			v := a.As16()
			addrs = append(addrs, v[:])
		}
	}
	addrs = addrs[:min(len(addrs), maxAnswers)]
	out := dnsHeader(q, 0, q.question, len(addrs))
	for _, a := range addrs {
		out = append(out, 0xc0, 12) // the question's name
		out = binary.BigEndian.AppendUint16(out, q.qtype)
		out = binary.BigEndian.AppendUint16(out, classIN)
		out = binary.BigEndian.AppendUint32(out, dnsTTL)
		out = binary.BigEndian.AppendUint16(out, uint16(len(a)))
		out = append(out, a...)
	}
	return out, ""
}

// dnsHeader starts a reply to q: authoritative, recursion available
// (the stub is the cell's whole DNS), RD copied.
func dnsHeader(q query, rcode uint16, question []byte, answers int) []byte {
	out := make([]byte, 12, 12+len(question)+answers*28)
	binary.BigEndian.PutUint16(out, q.id)
	binary.BigEndian.PutUint16(out[2:], 0x8000|0x0400|q.flags&0x7900|0x0080|rcode)
	if question != nil {
		binary.BigEndian.PutUint16(out[4:], 1)
	}
	binary.BigEndian.PutUint16(out[6:], uint16(answers))
	return append(out, question...)
}

// presentLabel writes a label no rule could name in DNS's presentation
// format: a byte other than a letter, digit, hyphen or underscore as
// \DDD. The name goes into the audit log, and a query's bytes are the
// server's: an escape or a line break there would forge what a terminal
// shows of the log.
func presentLabel(label string) string {
	var b strings.Builder
	for _, c := range []byte(label) {
		if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "\\%03d", c)
	}
	return b.String()
}
