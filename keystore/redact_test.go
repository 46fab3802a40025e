package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/internal/leaktest"
	"github.com/mcpcell/mcpcell/internal/syncbuf"
)

// awkward is a value with every kind of character an encoder treats in a
// way of its own: a slash, a quote, a backslash, <>&, a space, non-ASCII
// in two and four bytes, and + and / in its base64.
const awkward = `ghp_Zq8/x+Kd"é 9\Lm<T>&w💥Y3pQ`

func redactor(values ...string) *Redactor {
	m := map[string]Secret{}
	for i, v := range values {
		name := string(rune('A' + i))
		m[name] = New(name, v)
	}
	return NewRedactor(m)
}

// jsonBody is s as the inside of a JSON string, escaped as encoders do
// it: JavaScript's minimal escapes, Go's (\u003c for <), Python's
// ensure_ascii (\u00e9), each character as \u (lower or upper hex), or a
// slash as \/.
func jsonBody(s, how string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case how == "all-u" || how == "all-U":
			f := "\\u%04x"
			if how == "all-U" {
				f = "\\u%04X"
			}
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, f, u)
			}
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, "\\u%04x", r)
		case how == "go" && (r == '<' || r == '>' || r == '&'):
			fmt.Fprintf(&b, "\\u%04x", r)
		case how == "python" && r > 0x7e:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, "\\u%04x", u)
			}
		case how == "slash" && r == '/':
			b.WriteString(`\/`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// blob is random bytes with v inside, at offset pre; it fills the rest up
// to n bytes.
func blob(v string, pre, n int) []byte {
	rng := rand.New(rand.NewPCG(uint64(pre), uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	copy(b[pre:], v)
	return b
}

// percentSome encodes every other byte of s as %XX (lower or upper case
// hex), and leaves the rest: a server may encode any bytes it likes.
func percentSome(s string, lower bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i%2 == 0 {
			f := "%%%02X"
			if lower {
				f = "%%%02x"
			}
			fmt.Fprintf(&b, f, s[i])
		} else if c := s[i]; c == '"' || c == '\\' || c == '%' || c < 0x20 || c >= 0x80 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// form is one way a value stands in a frame: body is the inside of a
// JSON string, as written on the wire.
type form struct {
	name string
	body string
}

// attackForms are the forms a hostile server tried (review of ba3479b)
// and their neighbours.
func attackForms(v string) []form {
	plainBody := jsonBody(v, "js")
	fs := []form{
		{"plain", plainBody},
		{"JSON as JavaScript writes it", jsonBody(v, "js")},
		{"JSON as Go writes it", jsonBody(v, "go")},
		{"JSON as Python writes it (ensure_ascii)", jsonBody(v, "python")},
		{"JSON with \\/", jsonBody(v, "slash")},
		{"every character as \\u, lower-case hex", jsonBody(v, "all-u")},
		{"every character as \\u, upper-case hex", jsonBody(v, "all-U")},
		{"one character as \\u", strings.Replace(plainBody, "q", `\u0071`, 1)},
		{"nested JSON: a JSON document in the string, every character \\u", jsonBody(`{"token":"`+jsonBody(v, "all-u")+`"}`, "js")},
		{"nested twice", jsonBody(jsonBody(jsonBody(v, "python"), "js"), "js")},
		{"JavaScript \\x escapes in nested text", jsonBody(jsEscapes(v, "x"), "js")},
		{"JavaScript \\u{…} escapes in nested text", jsonBody(jsEscapes(v, "u{"), "js")},
		{"Python \\U escapes in nested text", jsonBody(jsEscapes(v, "U"), "js")},
		{"lower-case hex", hex.EncodeToString([]byte(v))},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString([]byte(v)))},
		{"mixed-case hex in a longer hex dump", "0a1b2c" + mixCase(hex.EncodeToString([]byte(v))) + "DEADbeef"},
		{"percent-encoded, every byte, upper-case hex", percentAll(v, false)},
		{"percent-encoded, every byte, lower-case hex", percentAll(v, true)},
		{"percent-encoded, some bytes", jsonBody(percentSome(v, false), "js")},
		{"percent-encoded, some bytes, lower-case hex", jsonBody(percentSome(v, true), "js")},
		{"a form field (+ for space)", jsonBody("user=me&token="+url.QueryEscape(v)+"&x=1", "js")},
		{"a URL path", jsonBody("https://example.com/"+url.PathEscape(v)+"/x", "js")},
		{"percent-escapes written as \\u0025", jsonBody(strings.ReplaceAll(percentAll(v, false), "%", `\u0025`), "js")},
		{"percent-escapes, their % as \\u0025 on the wire", strings.ReplaceAll(percentAll(v, false), "%", `\u0025`)},
	}
	for pre := range 3 {
		for _, enc := range []struct {
			name string
			e    *base64.Encoding
		}{{"standard", base64.StdEncoding}, {"standard unpadded", base64.RawStdEncoding}, {"URL-safe", base64.URLEncoding}, {"URL-safe unpadded", base64.RawURLEncoding}} {
			b := enc.e.EncodeToString(blob(v, 5+pre, 5+pre+len(v)+7))
			fs = append(fs, form{fmt.Sprintf("%s base64, the value at an offset of %d mod 3", enc.name, (5+pre)%3), b})
		}
		// The value at the end of the blob, and right at its start.
		end := base64.StdEncoding.EncodeToString(blob(v, 9+pre, 9+pre+len(v)))
		fs = append(fs, form{fmt.Sprintf("base64, the value ending the blob, offset %d mod 3", pre), end})
	}
	fs = append(fs,
		form{"base64 of the value alone", base64.StdEncoding.EncodeToString([]byte(v))},
		form{"base64 of user:value (a Docker auth, an HTTP Basic header)", "Basic " + base64.StdEncoding.EncodeToString([]byte("octocat:"+v))},
		form{"percent-encoded base64 at an offset (a URL query)", jsonBody("https://x.test/?q="+url.QueryEscape(base64.StdEncoding.EncodeToString(blob(v, 4, 4+len(v)+6))), "js")},
		form{"base64 in nested JSON with \\u escapes", jsonBody(`{"auth":"`+jsonBody(base64.StdEncoding.EncodeToString(blob(v, 1, 1+len(v)+5)), "all-u")+`"}`, "js")},
	)
	// One decoder over another, with escapes in every level, so that a
	// cut can fall inside an escape of each (review 2: percent-escapes
	// written as \u escapes came out of the stderr writer half by half).
	fs = append(fs,
		form{"percent-escapes, each character of them as \\u", jsonBody(percentAll(v, false), "all-u")},
		form{"percent-escapes of some bytes, each character as \\x", jsonBody(jsEscapes(percentSome(v, true), "x"), "js")},
		form{"percent-escapes as Python \\U escapes", jsonBody(jsEscapes(percentAll(v, true), "U"), "js")},
		form{"\\u escapes of \\u escapes", jsonBody(jsonBody(v, "all-u"), "all-U")},
		form{"\\u{…} escapes of \\u escapes", jsonBody(jsEscapes(jsonBody(v, "all-U"), "u{"), "js")},
		form{"hex, each digit as \\u", jsonBody(hex.EncodeToString([]byte(v)), "all-u")},
		form{"base64 at an offset, each character as \\x", jsonBody(jsEscapes(base64.StdEncoding.EncodeToString(blob(v, 4, 4+len(v)+5)), "x"), "js")},
	)
	return fs
}

func jsEscapes(s, how string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case how == "x" && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case how == "x":
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		case how == "u{":
			fmt.Fprintf(&b, `\u{%x}`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
	}
	return b.String()
}

func mixCase(s string) string {
	b := []byte(s)
	for i := range b {
		if i%3 == 0 {
			b[i] = bytes.ToUpper(b[i : i+1])[0]
		}
	}
	return string(b)
}

func percentAll(s string, lower bool) string {
	f := "%%%02X"
	if lower {
		f = "%%%02x"
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, f, s[i])
	}
	return b.String()
}

// textOf decodes a frame's result text.
func textOf(t *testing.T, frame []byte) string {
	t.Helper()
	var m struct {
		Result struct{ Content []struct{ Text string } }
	}
	if err := json.Unmarshal(frame, &m); err != nil || len(m.Result.Content) == 0 {
		t.Fatalf("not a tool result: %v: %s", err, frame)
	}
	return m.Result.Content[0].Text
}

// TestRedactFrameForms: each form a hostile server tried, in a tool
// result. The control: a redactor for another value passes the frame
// untouched, and the attacker's reader finds the value in it.
func TestRedactFrameForms(t *testing.T) {
	// The last has no run JSON leaves alone: every string is read.
	for _, v := range []string{awkward, "plain-token-12345", "line one\nline two\tend", `"/"/"/"/"/\\`} {
		r, other := redactor(v), redactor("some-other-value-0000")
		for _, f := range attackForms(v) {
			frame := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"env: X=` + f.body + ` and more"}]}}`)
			if err := jsontext.Validate(frame); err != nil {
				t.Fatalf("%s: fixture is not valid JSON: %v: %s", f.name, err, frame)
			}
			if got := other.Frame(frame); !bytes.Equal(got, frame) || leaktest.Find(got, v) == "" {
				t.Fatalf("%s: control: the form is not readable without redaction: %s", f.name, frame)
			}
			got := r.Frame(frame)
			if err := jsontext.Validate(got); err != nil {
				t.Errorf("%s: redacted frame is invalid: %v: %s", f.name, err, got)
				continue
			}
			if how := leaktest.Find(got, v); how != "" {
				t.Errorf("%s (%q): the value survives (%s): %s", v, f.name, how, got)
			}
			text := textOf(t, got)
			if !strings.Contains(text, "[redacted:A]") || !strings.HasPrefix(text, "env: X=") || !strings.HasSuffix(text, " and more") {
				t.Errorf("%s: text became %q", f.name, text)
			}
		}
	}
}

// The same forms in free text (a stderr line, a note): Text finds them
// without a JSON string around them.
func TestRedactTextForms(t *testing.T) {
	for _, v := range []string{awkward, "plain-token-12345"} {
		r := redactor(v)
		for _, f := range attackForms(v) {
			line := []byte(`level=info msg="got token" token="` + f.body + "\"\n")
			if leaktest.Find(line, v) == "" {
				t.Fatalf("%s: control: the reader cannot find the value in %s", f.name, line)
			}
			got := r.Text(line)
			if how := leaktest.Find(got, v); how != "" || !bytes.Contains(got, []byte("[redacted:A]")) {
				t.Errorf("%s: Text gave %s (%s)", f.name, got, how)
			}
		}
	}
}

// Where a base64 blob holds the value at an offset, exactly the
// characters that hold a bit of the value go: those that also hold bits of
// its neighbours too, and no other.
func TestRedactBase64Edges(t *testing.T) {
	v := "tok-0123456789abcdef"
	r := redactor(v)
	for pre := 0; pre < 6; pre++ {
		for post := 0; post < 4; post++ {
			b := base64.StdEncoding.EncodeToString(blob(v, pre, pre+len(v)+post))
			first, end := 8*pre/6, (8*(pre+len(v))+5)/6
			want := b[:first] + "[redacted:A]" + b[end:]
			if got := string(r.Text([]byte(b))); got != want {
				t.Errorf("value at %d, %d bytes after it: %s became %s, want %s", pre, post, b, got, want)
			}
		}
	}
}

// A value as a member name, and in a string that also needs redaction
// elsewhere, at every depth.
func TestRedactFrameNamesAndNesting(t *testing.T) {
	v := "plain-token-12345"
	r := redactor(v)
	frame := []byte(`{"jsonrpc":"2.0","id":1,"result":{"structuredContent":{"plain-token-12345":{"a":["x \u0070lain-token-12345 y",{"k":"cGxhaW4tdG9rZW4tMTIzNDU="}]}},"content":[]}}`)
	got := r.Frame(frame)
	if err := jsontext.Validate(got); err != nil || leaktest.Find(got, v) != "" || bytes.Count(got, []byte("[redacted:A]")) != 3 {
		t.Errorf("got %s (%v)", got, err)
	}
}

// Escapes inside escapes are decoded four levels below the frame's own
// JSON string (the README's promise); a fifth is a documented limit.
func TestRedactNestingDepth(t *testing.T) {
	v := "plain-token-12345"
	r := redactor(v)
	body := jsonBody(v, "all-u")
	for level := 1; level <= 6; level++ { // 1: the frame's string holds the \u escapes
		frame := []byte(`{"jsonrpc":"2.0","id":1,"result":{"text":"` + body + `"}}`)
		got := r.Frame(frame)
		if redacted := leaktest.Find(got, v) == "" && bytes.Contains(got, []byte("[redacted:A]")); redacted != (level <= 5) {
			t.Errorf("\\u escapes %d levels deep: redacted %v: %s", level, redacted, got)
		}
		body = jsonBody(body, "js")
	}
}

// A string strict JSON refuses (a frame that was not validated after
// all) is decoded as far as it can be, a backslash that begins no escape
// kept as itself: searched raw instead, its outer level of escapes stays
// undecoded and a value escaped the deepest levels Frame reads leaks.
// Found by a differential review of issue 12's move to internal/jsontext.
func TestRedactFrameUnvalidatedString(t *testing.T) {
	v := "plain-token-12345"
	r := redactor(v)
	deep := jsonBody(v, "all-u") // level 1
	for range 4 {
		deep = jsonBody(deep, "js") // levels 2 to 5: 16 backslashes before each u
	}
	for _, c := range []struct{ name, frame, want string }{
		{"five levels after a bad escape", `{"a":"\q` + deep + `"}`, `{"a":"\\q[redacted:A]"}`},
		{"a lone surrogate", `{"a":"\ud800` + deep + `"}`, ""},
		{"a JavaScript escape", `{"a":"\x41\'` + deep + `"}`, `{"a":"A'[redacted:A]"}`},
		{"NUL escape", `{"a":"\b\0\u0070lain-token-12345"}`, `{"a":"\b\\0[redacted:A]"}`},
	} {
		if jsontext.Validate([]byte(c.frame)) == nil {
			t.Fatalf("%s: %s is valid JSON; the case needs a string strict JSON refuses", c.name, c.frame)
		}
		got := string(r.Frame([]byte(c.frame)))
		if leaktest.Find([]byte(got), v) != "" || !strings.Contains(got, "[redacted:A]") {
			t.Errorf("%s: %s: not redacted: %s", c.name, c.frame, got)
		}
		if c.want != "" && got != c.want {
			t.Errorf("%s: %s: got %s, want %s", c.name, c.frame, got, c.want)
		}
	}
}

func TestRedactUntouched(t *testing.T) {
	r := redactor(awkward, "plain-token-12345")
	for _, frame := range [][]byte{
		[]byte(`{"jsonrpc":"2.0","id":1,"result":{"text":"nothing here \u003c"}}`),
		[]byte(`{"jsonrpc":"2.0","id":1,"result":{"text":"50% of %41%42 \\u0041 plain-token-1234 cGxhaW4tdG9rZW4tMTIz"}}`),
	} {
		if got := r.Frame(frame); &got[0] != &frame[0] {
			t.Errorf("a frame without secrets was copied: %s", got)
		}
	}
	var nilR *Redactor
	frame := []byte(`{"a":"plain-token-12345"}`)
	if got := nilR.Frame(frame); string(got) != string(frame) || nilR.String("x") != "x" {
		t.Errorf("nil redactor changed a frame")
	}
	// Percent signs, backslashes and hex that are no secret stay as they
	// are in text.
	text := `50% done, %zz, \q \u00e9 \\ 0123456789abcdef` + "\n"
	if got := string(r.Text([]byte(text))); got != text {
		t.Errorf("Text changed %q to %q", text, got)
	}
}

// write sends chunks to a redacting writer one by one and returns what
// came out.
func write(r *Redactor, chunks ...string) string {
	var out bytes.Buffer
	w := r.Writer(&out)
	for _, c := range chunks {
		w.Write([]byte(c))
	}
	w.Close()
	return out.String()
}

// A value split across writes, at every point, in every form; and byte by
// byte. The control: redacting each write alone (no carried tail) lets
// the halves through.
func TestRedactWriterSplits(t *testing.T) {
	for _, v := range []string{awkward, "plain-token-12345"} {
		r := redactor(v)
		for _, f := range attackForms(v) {
			text := "token: " + f.body + " :end\n"
			for k := 1; k < len(text); k++ {
				got := write(r, text[:k], text[k:])
				if how := leaktest.Find([]byte(got), v); how != "" || !strings.Contains(got, "[redacted:A]") || !strings.HasSuffix(got, " :end\n") {
					t.Errorf("%s split at %d: %q (%s)", f.name, k, got, how)
					break
				}
			}
			bytewise := strings.Split(text, "")
			if got := write(r, bytewise...); leaktest.Find([]byte(got), v) != "" || !strings.Contains(got, "[redacted:A]") {
				t.Errorf("%s byte by byte: %q", f.name, got)
			}
		}
	}
	r := redactor("plain-token-12345")
	half := "token: plain-tok"
	if got := string(r.Text([]byte(half))) + string(r.Text([]byte("en-12345\n"))); leaktest.Find([]byte(got), "plain-token-12345") == "" {
		t.Errorf("control: redacting each write alone should leak the halves, got %q", got)
	}
}

// A value with a line break in it (a PEM key, a JSON credential file)
// written line by line, and a value after a line longer than any buffer.
func TestRedactWriterLines(t *testing.T) {
	pem := "-----BEGIN KEY-----\nMIIBVgIBADANBgkqhkiG\n9w0BAQEFAASCAUAwggE8\n-----END KEY-----"
	r := redactor(pem, "plain-token-12345")
	chunks := strings.SplitAfter("key:\n"+pem+"\nnext\n", "\n")
	if got := write(r, chunks...); strings.Contains(got, "MIIBVgIBADANBgkqhkiG") || !strings.Contains(got, "[redacted:A]") {
		t.Errorf("a value across lines: %q", got)
	}
	long := strings.Repeat("x", 200<<10) + "plain-tok"
	got := write(r, "error: token plain-", "token-12345 failed\n", long, "en-12345 end\n", "tail plain-token-12345")
	if strings.Contains(got, "plain-token-12345") || strings.Count(got, "[redacted:B]") != 3 || len(got) < 200<<10 {
		t.Errorf("writer output leaks or lost redactions: %d redactions, leak=%v", strings.Count(got, "[redacted:B]"), strings.Contains(got, "plain-token-12345"))
	}
}

// Only what could begin a value waits: text that cannot goes on at once,
// so a server's last line is not held until the session ends.
func TestRedactWriterHoldsOnlyPrefixes(t *testing.T) {
	r := redactor("plain-token-12345", awkward)
	var out bytes.Buffer
	w := r.Writer(&out)
	step := func(in, want string) {
		t.Helper()
		w.Write([]byte(in))
		if out.String() != want {
			t.Errorf("after writing %q: out %q, want %q", in, out.String(), want)
		}
	}
	step("server ready\n", "server ready\n")
	step("token=plain-to", "server ready\ntoken=")
	step("ast\n", "server ready\ntoken=plain-toast\n")
	step(`escaped \u00`, "server ready\ntoken=plain-toast\nescaped ")
	// 70 begins the value's hex, % a percent-escape.
	step(`41 and 70%`, "server ready\ntoken=plain-toast\nescaped \\u0041 and ")
	step(`20 `, "server ready\ntoken=plain-toast\nescaped \\u0041 and 70%20 ")
	step("cGxhaW4tdG9r", "server ready\ntoken=plain-toast\nescaped \\u0041 and 70%20 ")
	w.Close()
	if got := out.String(); got != "server ready\ntoken=plain-toast\nescaped \\u0041 and 70%20 cGxhaW4tdG9r" {
		t.Errorf("after Close: %q", got)
	}
	// After Close, a write goes through whole, redacted.
	w.Write([]byte("late plain-token-12345\n"))
	if !strings.HasSuffix(out.String(), "late [redacted:A]\n") {
		t.Errorf("a write after Close: %q", out.String())
	}
}

// The writer is written from several goroutines at once (the server's
// stderr, the two pumps' notes, mcpcell's own messages): with -race this
// shows it is safe, and no value is torn by another writer's bytes.
func TestRedactWriterConcurrent(t *testing.T) {
	r := redactor("plain-token-12345")
	var out syncbuf.Buffer
	w := r.Writer(&out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(w, "goroutine %d line %d: plain-token-12345\n", g, i)
			}
		})
	}
	wg.Wait()
	w.Close()
	if got := out.String(); strings.Contains(got, "plain-tok") || strings.Count(got, "[redacted:A]") != 8*200 {
		t.Errorf("%d redactions, leak %v", strings.Count(got, "[redacted:A]"), strings.Contains(got, "plain-tok"))
	}
}

// FuzzRedactFrame: a redacted frame is valid JSON and holds no raw value;
// and a form of the value put into it does not come out.
func FuzzRedactFrame(f *testing.F) {
	f.Add([]byte(`{"a":"plain-token-12345","b":["x plain-token-12345 y",1]}`), "plain-token-12345", uint8(0))
	f.Add([]byte(`{"k\"plain-token-12345":"\\plain-token-12345"}`), "plain-token-12345", uint8(5))
	f.Add([]byte(`{"a":"\\nfoo-bar-baz"}`), "\nfoo-bar-baz", uint8(9))
	f.Add([]byte(`{"a":"\u0070lain-token-12345 %70lain-token-12345"}`), "plain-token-12345", uint8(20))
	f.Fuzz(func(t *testing.T, frame []byte, secret string, which uint8) {
		if len(secret) < MinLength || !utf8Valid(secret) || jsontext.Validate(frame) != nil {
			return
		}
		r := NewRedactor(map[string]Secret{"S": New("S", secret)})
		fs := attackForms(secret)
		pieces := leaktest.Find(frame, secret) != ""
		frame = []byte(`{"x":"` + fs[int(which)%len(fs)].body + `","y":` + string(frame) + `}`)
		got := r.Frame(frame)
		if err := jsontext.Validate(got); err != nil {
			t.Fatalf("redacting %q from %s gave invalid JSON: %v: %s", secret, frame, err, got)
		}
		var v any
		json.Unmarshal(got, &v)
		b, _ := json.Marshal(v)
		if containsDecoded(v, secret) {
			t.Fatalf("the value %q survives in %s", secret, b)
		}
		if how := leaktest.Find(got, secret); how != "" && !pieces {
			t.Fatalf("the value %q survives in %s (%s)", secret, got, how)
		}
	})
}

// FuzzRedactWriter: however a text is cut into writes, the writer gives
// what Text gives for the whole; and a form of the value put into the
// text anywhere does not come out.
func FuzzRedactWriter(f *testing.F) {
	f.Add("a plain-token-12345 b \\u0070lain-token-12345 %70lain", "plain-token-12345", uint64(1), uint8(0))
	f.Add("x\\\\u0070lain-token-12345\\", "plain-token-12345", uint64(7), uint8(3))
	f.Add("cGxhaW4tdG9rZW4tMTIzNDU= 706c61696e2d746f6b656e2d3132333435", "plain-token-12345", uint64(3), uint8(9))
	f.Add(`\u0025\u0037\u0030\u0025\u0036\u0043 \\u0070lain`, "plain-token-12345", uint64(5), uint8(52))
	f.Add(`\x25\x37\x30%6`, "plain-token-12345", uint64(2), uint8(55))
	f.Fuzz(func(t *testing.T, text, secret string, seed uint64, which uint8) {
		if len(secret) < MinLength || !utf8Valid(secret) {
			return
		}
		r := NewRedactor(map[string]Secret{"S": New("S", secret)})
		rng := rand.New(rand.NewPCG(seed, 0))
		fs := attackForms(secret)
		// Pieces of the value in the text itself (which the insertion
		// may cut in two) are not the inserted form.
		at := rng.IntN(len(text) + 1)
		pieces := leaktest.Find([]byte(text[:at]+"  "+text[at:]), secret) != ""
		text = text[:at] + " " + fs[int(which)%len(fs)].body + " " + text[at:]
		var chunks []string
		for rest := text; rest != ""; {
			n := min(len(rest), 1+rng.IntN(8))
			chunks, rest = append(chunks, rest[:n]), rest[n:]
		}
		got := write(r, chunks...)
		if whole := string(r.Text([]byte(text))); got != whole {
			t.Fatalf("chunks %q gave %q; the whole text gives %q", chunks, got, whole)
		}
		if how := leaktest.Find([]byte(got), secret); how != "" && !pieces {
			t.Fatalf("the value %q survives in %q (%s)", secret, got, how)
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func containsDecoded(v any, secret string) bool {
	switch v := v.(type) {
	case string:
		return strings.Contains(v, secret)
	case []any:
		for _, e := range v {
			if containsDecoded(e, secret) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if strings.Contains(k, secret) || containsDecoded(e, secret) {
				return true
			}
		}
	}
	return false
}

// A layer of a stacked form: how it writes text, and how deep the
// redactor's decoding goes for it.
type layer struct {
	name string
	enc  func(string) string
}

// stackedForms builds, for v, what the redactor promises to read with
// one decoder over another: the value, its hex, its base64 at an offset,
// its percent-escapes (of some bytes or all), or a form field, under up
// to four levels of backslash escapes of each style a program writes.
func stackedForms(v string) []form {
	under := []layer{
		{"the value", func(s string) string { return s }},
		{"hex", func(s string) string { return hex.EncodeToString([]byte(s)) }},
		{"HEX", func(s string) string { return strings.ToUpper(hex.EncodeToString([]byte(s))) }},
		{"base64 at offset 1", func(s string) string { return base64.StdEncoding.EncodeToString(blob(s, 1, 1+len(s)+4)) }},
		{"URL-safe base64 at offset 2", func(s string) string { return base64.RawURLEncoding.EncodeToString(blob(s, 2, 2+len(s)+3)) }},
		{"percent-escapes", func(s string) string { return percentAll(s, false) }},
		{"percent-escapes of some bytes", func(s string) string { return percentSome(s, true) }},
		{"a form field", url.QueryEscape},
		{"percent-escaped base64", func(s string) string {
			return url.QueryEscape(base64.StdEncoding.EncodeToString(blob(s, 2, 2+len(s)+5)))
		}},
	}
	full := []layer{
		{`\u`, func(s string) string { return jsonBody(s, "all-u") }},
		{`\U (upper-case hex)`, func(s string) string { return jsonBody(s, "all-U") }},
		{`\x`, func(s string) string { return jsEscapes(s, "x") }},
		{`\u{…}`, func(s string) string { return jsEscapes(s, "u{") }},
		{`Python \U`, func(s string) string { return jsEscapes(s, "U") }},
	}
	some := []layer{
		{"JSON", func(s string) string { return jsonBody(s, "js") }},
		{"Python JSON", func(s string) string { return jsonBody(s, "python") }},
	}
	var fs []form
	add := func(name, body string) { fs = append(fs, form{name, body}) }
	for i, u := range under {
		b := u.enc(v)
		add(u.name, b)
		// Two levels, of every style over every other for the value,
		// its base64 and its percent-escapes.
		for _, l1 := range append(full, some...) {
			add(u.name+" in "+l1.name, l1.enc(b))
			if i != 0 && i != 3 && i != 5 && i != 6 {
				continue
			}
			for _, l2 := range append(full, some...) {
				add(u.name+" in "+l1.name+" in "+l2.name, l2.enc(l1.enc(b)))
			}
		}
		// Four: escapes of every character, in JSON in JSON in JSON (a
		// document in a string, three deep).
		for _, l1 := range full {
			s := l1.enc(b)
			name := u.name + " in " + l1.name
			for _, l := range []layer{some[0], some[1], some[0]} {
				s, name = l.enc(s), name+" in "+l.name
				add(name, s)
			}
		}
	}
	return fs
}

// cuts are the places a test splits text of n bytes at: every place in
// a short text; in a long one, two runs of consecutive places (near the
// start of the form, and in its middle), so that a cut falls at every
// offset into an escape of each level, and some more at random. middle
// says which are in the middle.
func cuts(n, formAt, formLen int, rng *rand.Rand) (ks []int, middle func(int) bool) {
	if n <= 300 {
		for k := 1; k < n; k++ {
			ks = append(ks, k)
		}
		return ks, func(int) bool { return true }
	}
	mid := formAt + formLen/2
	for k := formAt + 1; k < formAt+30; k++ {
		ks = append(ks, k)
	}
	for k := mid; k < mid+60 && k < n; k++ {
		ks = append(ks, k)
	}
	for range 10 {
		ks = append(ks, 1+rng.IntN(n-1))
	}
	return ks, func(k int) bool { return k >= mid && k < mid+60 }
}

// TestRedactWriterStacked: every stacking of decoders the redactor
// reads, cut in two at many places. What the writer lets out after the
// first piece begins what Text gives for the whole (it cannot be taken
// back), and after the rest is all of it. And as run wires it: the
// server's writer feeds mcpcell's, which writes a note of its own between
// the halves (review 2: percent-escapes written as \u escapes came out
// half before the note, half after). The control: the attacker's reader
// finds the value in each form as written, and not in what Text gives.
func TestRedactWriterStacked(t *testing.T) {
	const note = "mcpcell: the server wrote a non-JSON line\n"
	for _, v := range []string{"plain-token-12345", `tok/"é+ x\y💥-9876`} {
		r := redactor(v)
		rng := rand.New(rand.NewPCG(1, uint64(len(v))))
		for i, f := range stackedForms(v) {
			if raceDetector && i%8 != 0 {
				continue
			}
			text := "log: " + f.body + " :end\n"
			if leaktest.Find([]byte(text), v) == "" {
				t.Fatalf("control: the reader cannot find %q in %s: %s", v, f.name, text)
			}
			whole := string(r.Text([]byte(text)))
			if leaktest.Find([]byte(whole), v) != "" || !strings.Contains(whole, "[redacted:A]") {
				t.Errorf("%s: Text gave %q", f.name, whole)
				continue
			}
			ks, middle := cuts(len(text), len("log: "), len(f.body), rng)
			for _, k := range ks {
				var out bytes.Buffer
				w := r.Writer(&out)
				w.Write([]byte(text[:k]))
				if !strings.HasPrefix(whole, out.String()) {
					t.Errorf("%s cut at %d: after the first piece the writer let out %q (%s)", f.name, k, out.String(), leaktest.Find(out.Bytes(), v))
					break
				}
				w.Write([]byte(text[k:]))
				w.Close()
				if out.String() != whole {
					t.Errorf("%s cut at %d: the writer gave %q, Text %q", f.name, k, out.String(), whole)
					break
				}
				if !middle(k) {
					continue
				}
				// Without the note, the same as the whole: the note
				// flushed nothing the server's writer held.
				out.Reset()
				mcpcell := r.Writer(&out)
				server := r.Writer(mcpcell)
				server.Write([]byte(text[:k]))
				mcpcell.Write([]byte(note))
				server.Write([]byte(text[k:]))
				server.Close()
				mcpcell.Close()
				if got := out.String(); strings.Replace(got, note, "", 1) != whole {
					t.Errorf("%s cut at %d, a note between the halves: %q (%s)", f.name, k, got, leaktest.Find(out.Bytes(), v))
					break
				}
			}
		}
	}
}

// A server that sends the start of a long form a byte at a time does not
// have mcpcell read all it holds once per byte: past a bound, what is
// held is read again only once as much has come, so the bytes read stay
// in proportion to the text. The output is the same.
func TestRedactWriterReadsHeldOnce(t *testing.T) {
	v := strings.Repeat("long-secret-", 30)
	r := redactor(v)
	text := "log: " + jsonBody(jsonBody(v, "all-u"), "all-u") + " :end\n"
	var out bytes.Buffer
	w := r.Writer(&out)
	for i := range len(text) - 8 {
		w.Write([]byte{text[i]})
	}
	w.Write([]byte(text[len(text)-8:]))
	w.Close()
	if got, want := out.String(), string(r.Text([]byte(text))); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	searched := w.(*streamWriter).searched
	if bound := rereadAfter*rereadAfter/2 + 4*len(text); searched > bound {
		t.Errorf("writing %d bytes one by one, the writer searched %d bytes, more than %d", len(text), searched, bound)
	}
}
