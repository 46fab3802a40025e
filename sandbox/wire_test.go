package sandbox

import (
	"errors"
	"io"
	"net/netip"
	"reflect"
	"syscall"
	"testing"
)

func TestSpecWire(t *testing.T) {
	s := &Spec{
		Command: []string{"node", "server.js", "a b\nc", ""}, Path: "/usr/bin/node", Dir: "/home/me/proj",
		Env:        []string{"PATH=/usr/bin", "TOKEN=x\x00y"},
		Rules:      []PathRule{{Path: "/usr/lib", Access: Read | Exec, Dir: true}, {Path: "/dev/null", Access: Write}},
		Net:        Net{ConnectTCP: []uint16{443, 65535}, BindTCP: []uint16{0}, UDP: true, Unix: true},
		BestEffort: true, Parent: 4242, PretendABI: -1, PretendNoSeccomp: true, Unhardened: KeepCapabilities | NoReaper,
	}
	got, err := decodeSpec(encodeSpec(s))
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %+v, %v\nwant %+v", got, err, s)
	}
	withEgress := *s
	withEgress.hostNet = 4026531840
	withEgress.tryOnly = true
	withEgress.Net.Egress = &Egress{
		Addrs:  []netip.Addr{netip.MustParseAddr("10.255.255.53"), netip.MustParseAddr("fdcc::53")},
		Listen: []Listen{{Addr: netip.MustParseAddrPort("127.0.0.1:3128")}, {Addr: netip.MustParseAddrPort("[fdcc::53]:53"), UDP: true}},
	}
	got, err = decodeSpec(encodeSpec(&withEgress))
	if err != nil || !reflect.DeepEqual(got, &withEgress) {
		t.Fatalf("round trip: %+v, %v\nwant %+v", got, err, &withEgress)
	}
	if _, err := decodeSpec(nil); !errors.Is(err, io.EOF) {
		t.Errorf("no spec: %v, want EOF (a prepared helper that was not used)", err)
	}
	full := encodeSpec(&withEgress)
	for i := 1; i < len(full); i++ {
		if _, err := decodeSpec(full[:i]); err == nil {
			t.Fatalf("a spec cut at %d of %d bytes was read", i, len(full))
		}
	}
	if _, err := decodeSpec(append(full, 0)); err == nil {
		t.Error("trailing bytes were accepted")
	}
	other := append([]byte{specVersion + 1}, full[1:]...)
	if _, err := decodeSpec(other); err == nil {
		t.Error("a spec of another version was read")
	}
}

func TestReports(t *testing.T) {
	ok := encodeReport(report{SetupMicros: 519, ABI: 7})
	bad := encodeReport(report{Error: "enforcing the Landlock ruleset: EPERM"})
	lo := encodeReport(report{NamespaceStep: "bringing lo up: RTM_NEWLINK", Errno: syscall.EPERM})
	for _, c := range []struct {
		data []byte
		want report
	}{
		{nil, report{}},
		{ok, report{SetupMicros: 519, ABI: 7}},
		{bad, report{Error: "enforcing the Landlock ruleset: EPERM"}},
		{append(append([]byte{}, ok...), bad...), report{Error: "enforcing the Landlock ruleset: EPERM"}}, // exec failed after set-up
		{append(append([]byte{}, bad...), ok...), report{Error: "enforcing the Landlock ruleset: EPERM"}},
		{ok[:1], report{Error: "the cell helper's report cannot be read"}},
		{append(encodeReport(report{Sockets: 3}), ok...), report{SetupMicros: 519, ABI: 7}}, // the sockets came first
		{append(append([]byte{}, ok...), lo...), report{Error: "bringing lo up: RTM_NEWLINK: operation not permitted", NamespaceStep: "bringing lo up: RTM_NEWLINK", Errno: syscall.EPERM}},
	} {
		if got := readReports(c.data); got != c.want {
			t.Errorf("readReports(%q) = %+v, want %+v", c.data, got, c.want)
		}
	}
}

func FuzzSpecWire(f *testing.F) {
	f.Add(encodeSpec(&Spec{Command: []string{"x"}, Rules: []PathRule{{Path: "/", Access: Read}}}))
	f.Add([]byte{specVersion, 200, 200, 200, 200, 200, 200, 200, 200, 200, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSpec(data)
		if err != nil {
			return
		}
		again, err := decodeSpec(encodeSpec(s))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%+v does not survive a round trip: %+v, %v", s, again, err)
		}
		readReports(data)
	})
}
