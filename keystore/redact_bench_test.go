package keystore

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

func fiveSecrets() map[string]Secret {
	m := map[string]Secret{}
	for i, v := range []string{"ghp_0123456789abcdefghijABCDEFGHIJ0123", "sk-proj-abcdefghijklmnopqrstuvwxyz012345", "xoxb-1234567890-0987654321-abcdefghijkl", "AKIAIOSFODNN7EXAMPLE", "glpat-abcdefghij0123456789"} {
		name := fmt.Sprintf("S%d", i)
		m[name] = New(name, v)
	}
	return m
}

// frame1MiB is a tool result of about 1 MiB: many text items, with the
// secrets in some of them when leak is set, and with escapes (\n, \",
// \u00e9 as Python writes it) and percent signs in them when escaped is
// set.
func frame1MiB(leak, escaped bool) []byte {
	var b strings.Builder
	b.WriteString(`{"jsonrpc":"2.0","id":7,"result":{"content":[`)
	line := strings.Repeat("lorem ipsum dolor sit amet, consectetur adipiscing elit ", 16)
	if escaped {
		line = strings.Repeat(`caf\u00e9 \"lorem\" 50% ipsum\ndolor sit amet, consectetur elit `, 16)
	}
	for i := 0; b.Len() < 1<<20; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		text := line
		if leak && i%50 == 0 {
			text = "env: TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ0123 KEY=AKIAIOSFODNN7EXAMPLE " + line
		}
		if escaped {
			fmt.Fprintf(&b, `{"type":"text","text":"%s"}`, text)
		} else {
			fmt.Fprintf(&b, `{"type":"text","text":%q}`, text)
		}
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

func BenchmarkRedactFrame1MiB(b *testing.B) {
	r := NewRedactor(fiveSecrets())
	for _, c := range []struct {
		name          string
		leak, escaped bool
	}{{"no-secret-in-frame", false, false}, {"secrets-in-frame", true, false}, {"escaped-text-no-secret", false, true}} {
		frame := frame1MiB(c.leak, c.escaped)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				r.Frame(frame)
			}
		})
	}
}

// BenchmarkRedactWriter is a server's stderr of about 1 MiB (log lines,
// some with escapes and percent signs, some with a secret) in the 4 KiB
// writes a pipe gives.
func BenchmarkRedactWriter(b *testing.B) {
	r := NewRedactor(fiveSecrets())
	for _, c := range []struct {
		name string
		line string
	}{
		{"plain-log", "2026-01-01T00:00:00Z info handled request in 12ms path=/v1/items count=42\n"},
		{"escaped-log", `2026-01-01T00:00:00Z warn {"msg":"caf\u00e9 \"quoted\" 50% done\n","url":"https://x.test/a%20b"}` + "\n"},
		{"secrets-in-log", "2026-01-01T00:00:00Z debug env TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ0123 ok\n"},
	} {
		text := []byte(strings.Repeat(c.line, (1<<20)/len(c.line)))
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				w := r.Writer(io.Discard)
				for rest := text; len(rest) > 0; {
					n := min(len(rest), 4096)
					w.Write(rest[:n])
					rest = rest[n:]
				}
				w.Close()
			}
		})
	}
}
