package egress

import (
	"encoding/binary"
	"errors"
	"io"
)

// maxHello bounds the bytes read for a ClientHello: Go's, with a
// post-quantum key share, is 1.5 KiB and Chrome's padded one 2 KiB.
const maxHello = 16 << 10

var (
	errNotTLS   = errors.New("the first bytes are not a TLS ClientHello")
	errBadHello = errors.New("a malformed TLS ClientHello")
	errBigHello = errors.New("a TLS ClientHello over 16 KiB")
)

// readHello reads TLS records from r until it holds the whole
// ClientHello, which may span records as records may span reads, and
// returns its server_name ("" when it has none) and every byte it read,
// to be sent upstream first. It never reads past the hello's last record.
func readHello(r io.Reader) (name string, raw []byte, err error) {
	var hs []byte // handshake bytes, reassembled from the records
	for {
		var hdr [5]byte
		got, err := io.ReadFull(r, hdr[:])
		raw = append(raw, hdr[:got]...)
		if err != nil {
			return "", raw, err
		}
		if hdr[0] != 22 || hdr[1] != 3 {
			return "", raw, errNotTLS
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if n == 0 {
			return "", raw, errBadHello
		}
		if len(raw)+n > maxHello {
			return "", raw, errBigHello
		}
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if got, err := io.ReadFull(r, raw[start:]); err != nil {
			return "", raw[:start+got], err
		}
		hs = append(hs, raw[start:]...)
		if len(hs) < 4 {
			continue
		}
		if hs[0] != 1 {
			return "", raw, errNotTLS // another handshake message first
		}
		l := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
		if l > maxHello {
			return "", raw, errBigHello
		}
		if len(hs) >= 4+l {
			name, err := helloName(hs[4 : 4+l])
			return name, raw, err
		}
	}
}

// helloName finds server_name (extension 0, name type host_name) in the
// body of a ClientHello (RFC 8446 4.1.2, RFC 6066 3).
func helloName(b []byte) (string, error) {
	c := cursor(b)
	if !c.skip(2+32) || !c.skipVec(1) || !c.skipVec(2) || !c.skipVec(1) {
		return "", errBadHello
	}
	if len(c) == 0 {
		return "", nil // no extensions
	}
	exts, ok := c.vec(2)
	if !ok || len(c) != 0 {
		return "", errBadHello
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		body, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return "", errBadHello
		}
		if typ != 0 {
			continue
		}
		list, ok := body.vec(2)
		if !ok || len(body) != 0 {
			return "", errBadHello
		}
		for len(list) > 0 {
			t, ok1 := list.u8()
			host, ok2 := list.vec(2)
			if !ok1 || !ok2 {
				return "", errBadHello
			}
			if t == 0 {
				if len(host) == 0 {
					return "", errBadHello
				}
				return string(host), nil
			}
		}
		return "", nil
	}
	return "", nil
}

// cursor reads a TLS presentation-language message front to back.
type cursor []byte

func (c *cursor) skip(n int) bool {
	if n > len(*c) {
		return false
	}
	*c = (*c)[n:]
	return true
}

func (c *cursor) u8() (byte, bool) {
	if len(*c) < 1 {
		return 0, false
	}
	v := (*c)[0]
	*c = (*c)[1:]
	return v, true
}

func (c *cursor) u16() (uint16, bool) {
	if len(*c) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*c)
	*c = (*c)[2:]
	return v, true
}

// vec reads a vector with a lenBytes-byte length.
func (c *cursor) vec(lenBytes int) (cursor, bool) {
	if len(*c) < lenBytes {
		return nil, false
	}
	n := 0
	for _, b := range (*c)[:lenBytes] {
		n = n<<8 | int(b)
	}
	*c = (*c)[lenBytes:]
	if n > len(*c) {
		return nil, false
	}
	v := (*c)[:n]
	*c = (*c)[n:]
	return v, true
}

func (c *cursor) skipVec(lenBytes int) bool {
	_, ok := c.vec(lenBytes)
	return ok
}
