package egress

import (
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func stubPlan(t testing.TB) *Plan {
	p, err := NewPlan(rules(t, "api.example.test:443", "*.cdn.example.test:443", "localhost:5432", "10.0.0.5:5432"), []byte("nameserver 10.255.255.53"), []byte(thisHosts))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dnsQuery(t testing.TB, name string, typ dnsmessage.Type) []byte {
	q := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 0x1234, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}},
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAnswerDNS reads the stub's replies with an independent parser.
func TestAnswerDNS(t *testing.T) {
	p := stubPlan(t)
	for _, tc := range []struct {
		name    string
		typ     dnsmessage.Type
		rcode   dnsmessage.RCode
		answers []string
		refused string
	}{
		{"api.example.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.77.0.1"}, ""},
		{"API.Example.TEST.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.77.0.1"}, ""},
		{"api.example.test.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, nil, ""},
		{"api.example.test.", dnsmessage.TypeTXT, dnsmessage.RCodeSuccess, nil, ""},
		{"x.cdn.example.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.77.0.2"}, ""},
		{"localhost.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, []string{"127.0.0.1"}, ""},
		{"localhost.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, []string{"::1"}, ""},
		{"cdn.example.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil, "cdn.example.test"},
		{"a.b.cdn.example.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil, "a.b.cdn.example.test"},
		{"*.cdn.example.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil, `\042.cdn.example.test`},
		// A name the server chose reaches the audit log and the terminal
		// that shows it: no escape sequence, no line break, no NUL.
		{"a\nB\x1b[31m.x\r\x00y.evil.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil, `a\010b\027\09131m.x\013\000y.evil`},
		{"c2VjcmV0.exfil.example.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil, "c2vjcmv0.exfil.example"},
		{"10.0.0.5.", dnsmessage.TypeA, dnsmessage.RCodeNameError, nil, "10.0.0.5"},
		{".", dnsmessage.TypeNS, dnsmessage.RCodeNameError, nil, ""},
	} {
		reply, refused := p.answerDNS(dnsQuery(t, tc.name, tc.typ))
		var m dnsmessage.Message
		if err := m.Unpack(reply); err != nil {
			t.Errorf("%s %v: the reply does not parse: %v", tc.name, tc.typ, err)
			continue
		}
		var got []string
		for _, a := range m.Answers {
			switch b := a.Body.(type) {
			case *dnsmessage.AResource:
				got = append(got, netip.AddrFrom4(b.A).String())
			case *dnsmessage.AAAAResource:
				got = append(got, netip.AddrFrom16(b.AAAA).String())
			}
			if a.Header.Name.String() != tc.name {
				t.Errorf("%s: an answer for %s", tc.name, a.Header.Name)
			}
		}
		if m.Header.ID != 0x1234 || !m.Header.Response || !m.Header.RecursionDesired || m.Header.RCode != tc.rcode || !slices.Equal(got, tc.answers) || refused != tc.refused || len(m.Questions) != 1 || m.Questions[0].Name.String() != tc.name {
			t.Errorf("%s %v: got %v %v %q, refused %q; want %v %q, refused %q", tc.name, tc.typ, m.Header, m.Questions, got, refused, tc.rcode, tc.answers, tc.refused)
		}
	}
}

func TestAnswerDNSMalformed(t *testing.T) {
	p := stubPlan(t)
	good := dnsQuery(t, "api.example.test.", dnsmessage.TypeA)
	response := append([]byte(nil), good...)
	response[2] |= 0x80
	twoQuestions := append([]byte(nil), good...)
	twoQuestions[5] = 2
	pointer := append(append([]byte(nil), good[:12]...), 0xc0, 12, 0, 1, 0, 1)
	opcode := append([]byte(nil), good...)
	opcode[2] |= 2 << 3 // STATUS
	for _, tc := range []struct {
		name  string
		in    []byte
		rcode int // -1: no reply
	}{
		{"empty", nil, -1},
		{"short header", good[:11], -1},
		{"a response", response, -1},
		{"two questions", twoQuestions, 1},
		{"truncated name", good[:20], 1},
		{"no type", good[:len(good)-3], 1},
		{"a compression pointer", pointer, 1},
		{"another opcode", opcode, 4},
	} {
		reply, refused := p.answerDNS(tc.in)
		switch {
		case tc.rcode < 0 && reply != nil:
			t.Errorf("%s: a reply %x, want none", tc.name, reply)
		case tc.rcode >= 0 && (len(reply) < 12 || int(reply[3]&0xf) != tc.rcode || reply[2]&0x80 == 0):
			t.Errorf("%s: reply %x, want rcode %d", tc.name, reply, tc.rcode)
		case refused != "":
			t.Errorf("%s: refused %q recorded", tc.name, refused)
		}
	}
}

// FuzzParseQuery checks the stub's parser against dnsmessage: what it
// reads as a query, dnsmessage reads the same, and its reply to a
// message dnsmessage can read, dnsmessage can read too.
func FuzzParseQuery(f *testing.F) {
	f.Add(dnsQuery(f, "api.example.test.", dnsmessage.TypeA))
	f.Add(dnsQuery(f, "x.cdn.example.test.", dnsmessage.TypeAAAA))
	f.Add(dnsQuery(f, "localhost.", dnsmessage.TypeA))
	p := stubPlan(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		q, err := parseQuery(in)
		reply, _ := p.answerDNS(in)
		var asked dnsmessage.Message
		if reply != nil && asked.Unpack(in) == nil {
			var m dnsmessage.Message
			if err := m.Unpack(reply); err != nil {
				t.Fatalf("the reply to %x does not parse: %v", in, err)
			}
		}
		if err != nil || !q.valid {
			return // a label no rule can name: NXDOMAIN, whatever its bytes
		}
		var parser dnsmessage.Parser
		h, err := parser.Start(in)
		if err != nil {
			t.Fatalf("parseQuery read %x, dnsmessage not: %v", in, err)
		}
		ref, err := parser.Question()
		if err != nil {
			t.Fatalf("parseQuery read %x, dnsmessage not its question: %v", in, err)
		}
		if h.ID != q.id || uint16(ref.Type) != q.qtype || uint16(ref.Class) != q.qclass {
			t.Fatalf("header or question differ: %+v %+v / %+v", h, ref, q)
		}
		if want := ref.Name.String(); !equalFold(want, q.name+".") && !(q.name == "" && want == ".") {
			t.Fatalf("name: dnsmessage %q, parseQuery %q", want, q.name)
		}
	})
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
