package profiles

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// BenchmarkListingDeny is the policy's work on a 1 MiB tools/list page
// against five deny globs (one with a ? after a *, which is tried at every
// position of a key), for names of ASCII letters, of U+FDFA (whose key is
// 18 characters) and of Hangul syllables (hundreds of keys under one
// initial consonant), short (under maxKeyed) and long (past it).
func BenchmarkListingDeny(b *testing.B) {
	pol := testPolicy(b, "[tools]\ndeny = [\"internal_*\", \"*secret*\", \"*_admin\", \"debug?\", \"debug_*_?\"]\n")
	const page = 1 << 20
	for _, c := range []struct{ name, prefix, unit string }{
		{"ascii", "t", "a"}, {"fdfa", "t", "\ufdfa"}, {"hangul", "debug_", "_\uce20"},
	} {
		for _, size := range []int{1000, 256 << 10} {
			var b2 strings.Builder
			b2.WriteString(`{"jsonrpc":"2.0","id":2,"result":{"tools":[`)
			for i := 0; b2.Len() < page; i++ {
				if i > 0 {
					b2.WriteByte(',')
				}
				name := fmt.Sprint(c.prefix, i)
				name += strings.Repeat(c.unit, (size-len(name))/len(c.unit))
				fmt.Fprintf(&b2, `{"name":%q,"inputSchema":{"type":"object"}}`, name)
			}
			b2.WriteString(`]}}`)
			frame := []byte(b2.String())
			m, err := jsonrpc.Parse(frame)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/%dB", c.name, size), func(b *testing.B) {
				b.SetBytes(int64(len(frame)))
				b.ReportAllocs()
				for b.Loop() {
					pol.Reply(jsonrpc.Down, listCall(pol), m)
				}
			})
		}
	}
}
