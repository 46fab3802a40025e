package profiles

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/keystore"
)

// BenchmarkFramePath is the per-frame work of a tool result on its way to
// the client: strict decoding, the policy's reply decision, and redaction
// with five secrets (none of them in the frame, the common case).
func BenchmarkFramePath(b *testing.B) {
	pol := testPolicy(b, "[tools]\ndeny = [\"secret_*\"]\n")
	secrets := map[string]keystore.Secret{}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("S%d", i)
		secrets[name] = keystore.New(name, fmt.Sprintf("token-%d-0123456789abcdefghij", i))
	}
	red := keystore.NewRedactor(secrets)
	call := &jsonrpc.Call{Method: "tools/call", Subject: "echo"}
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		text := strings.Repeat("lorem ipsum dolor sit amet ", size/27+1)[:size]
		frame := []byte(`{"jsonrpc":"2.0","id":42,"result":{"content":[{"type":"text","text":"` + text + `"}],"isError":false}}`)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if err := jsontext.Validate(frame); err != nil {
					b.Fatal(err)
				}
				m, err := jsonrpc.Parse(frame)
				if err != nil {
					b.Fatal(err)
				}
				v := pol.Reply(jsonrpc.Down, call, m)
				out := v.Frame
				if out == nil {
					out = m.Raw
				}
				red.Frame(out)
			}
		})
	}
}
