package profiles

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

func TestCanonicalURI(t *testing.T) {
	for _, c := range []struct {
		uri, want string // want "" when refused
		why       string // part of the refusal
	}{
		// The review's findings: each resolves to /etc/passwd for Node.
		{"file:///allowed/../etc/passwd", "file:///etc/passwd", ""},
		{"file:///allowed/%2e%2e/etc/passwd", "file:///etc/passwd", ""},
		{"file:///allowed/%2E%2E/etc/passwd", "file:///etc/passwd", ""},
		{"file:///allowed/.%2E/etc/passwd", "file:///etc/passwd", ""},
		{"file:///allowed/%2e./etc/passwd", "file:///etc/passwd", ""},
		{"file:///allowed/x/%2e/../../etc/passwd", "file:///etc/passwd", ""},
		{"file:///../../etc/passwd", "file:///etc/passwd", ""},
		// Forms of the same path.
		{"file://localhost/allowed/x", "file:///allowed/x", ""},
		{"file://LocalHost/allowed/x", "file:///allowed/x", ""},
		{"file:/allowed/x", "file:///allowed/x", ""},
		{"FILE:///allowed/x", "file:///allowed/x", ""},
		{"File://localhost/allowed/x", "file:///allowed/x", ""},
		{"file:///allowed/%78", "file:///allowed/x", ""},
		{"file:///allowed/a%20b", "file:///allowed/a b", ""},
		{"file:///allowed/a b", "file:///allowed/a b", ""},
		{"file:///allowed/%C3%A9", "file:///allowed/é", ""},
		{"file:///allowed/%c3%a9", "file:///allowed/é", ""},
		{"file:///allowed/é", "file:///allowed/é", ""},
		{"file:///allowed/%3F%23%3B", "file:///allowed/?#;", ""},
		{"file:///allowed/100%25", "file:///allowed/100%", ""},
		{"file:///allowed/.", "file:///allowed/", ""},
		{"file:///allowed/x/..", "file:///allowed/", ""},
		{"file:///allowed/x/", "file:///allowed/x/", ""},
		{"file:///allowed/...", "file:///allowed/...", ""},
		{"file:///allowed/.x", "file:///allowed/.x", ""},
		{"file:///", "file:///", ""},
		{"file:/", "file:///", ""},
		{"file:///%2e%2e/", "file:///", ""},
		// Read two ways by servers, so refused.
		{"file:///allowed/%2Fetc", "", "encoded /"},
		{"file:///allowed/%2fetc", "", "encoded /"},
		{"file:///allowed/%2e%2e%2fetc", "", "encoded /"},
		{"file:///allowed/%5Cetc", "", `encoded \`},
		{"file:///allowed/x%00", "", "encoded NUL"},
		{`file:///allowed\..\etc`, "", "backslash"},
		{"file:///allowed/%252e%252e/etc", "", "percent-encoded twice"},
		{"file:///allowed/%2525", "", "percent-encoded twice"},
		{"file:///allowed/%zz", "", "invalid percent-escape"},
		{"file:///allowed/%2", "", "invalid percent-escape"},
		{"file:///allowed/%", "", "invalid percent-escape"},
		{"file:///allowed/%ff", "", "not UTF-8"},
		{"file:///allowed/%C3", "", "not UTF-8"},
		{"file://evil/allowed/x", "", `host "evil"`},
		{"file://127.0.0.1/allowed/x", "", "host"},
		{"file://local%68ost/allowed/x", "", "host"},
		{"file://localhost:80/allowed/x", "", "host"},
		{"file://user@localhost/allowed/x", "", "host"},
		{"file://localhost.", "", "host"},
		{"file://localhost", "", "no path"},
		{"file://", "", "no path"},
		{"file:", "", "relative"},
		{"file:allowed/x", "", "relative"},
		{"file:../etc/passwd", "", "relative"},
		{"file:///allowed//../etc", "", "empty segment"},
		{"file:////etc/passwd", "", "empty segment"},
		{"file://localhost//etc/passwd", "", "empty segment"},
		{"file:///allowed/x?/../../etc", "", "query"},
		{"file:///allowed/x#/../../etc", "", "fragment"},
		{"file:///allowed/..;x/etc", "", ";"},
		{"file:///C:/../etc", "", "drive"},
		{"file:///c|/x", "", "drive"},
		{"file:///allowed/C:/../../etc", "", "drive"},
		{"file:///C%3A/x", "", "drive"},
		{"file:///C%7C/x", "", "drive"},
		{"file:///C:allowed/..", "", "drive"}, // Node keeps C:allowed: /C:allowed/
		{"file:/c:x/../../etc", "", "drive"},
		{"file:///allowed/.\t./etc", "", "control"},
		{"file:///allowed/.\n./etc", "", "control"},
		{"file:///allowed/\x7f", "", "control"},
		{" file:///etc/passwd", "", "space"},
		{"file:///etc/passwd ", "", "space"},
		{"", "", "no scheme"},
		{"/etc/passwd", "", "no scheme"},
		{"C:/etc/passwd", "", "one-letter scheme"},
		// Other schemes: as written, but for the scheme's case and
		// escapes of unreserved characters.
		{"test://static/resource/1", "test://static/resource/1", ""},
		{"TEST://static/resource/1", "test://static/resource/1", ""},
		{"db://public/%75sers", "db://public/users", ""},
		{"db://public/a%2cb", "db://public/a%2Cb", ""},
		{"db://public/a%20b", "db://public/a%20b", ""},
		{"db://public/a?x=../y", "db://public/a?x=../y", ""},
		{"urn:isbn:0451450523", "urn:isbn:0451450523", ""},
		{"db://public/../secret", "", ". or .."},
		{"db://public/%2e%2e/secret", "", ". or .."},
		{"db://public/.%2E/secret", "", ". or .."},
		{"db://public/./x", "", ". or .."},
		{"db://public/x/..", "", ". or .."},
		{"db://../x", "", "empty label"},
		{"db://public/a%2Fb", "", "encoded /"},
		{"db://public/a%5cb", "", `encoded \`},
		{"db://public/a%00", "", "encoded NUL"},
		{"db://public/a%zz", "", "invalid percent-escape"},
		{`db://public\..\secret`, "", "backslash"},
		{"db://public/\tx", "", "control"},
		{"1db://x", "", "no scheme"},
		// Special schemes as WHATWG URL parsers read them (the review:
		// the TypeScript SDK looks up new URL(uri).href).
		{"https://example.com/secret", "https://example.com/secret", ""},
		{"HTTPS://EXAMPLE.COM/secret", "https://example.com/secret", ""},
		{"https://Example.Com/Secret", "https://example.com/Secret", ""},
		{"https://example.com:443/secret", "https://example.com/secret", ""},
		{"https://example.com:0443/secret", "https://example.com/secret", ""},
		{"https://example.com:/secret", "https://example.com/secret", ""},
		{"https://example.com:8443/secret", "https://example.com:8443/secret", ""},
		{"https://example.com:08443/secret", "https://example.com:8443/secret", ""},
		{"http://example.com:80/", "http://example.com/", ""},
		{"http://example.com:443/", "http://example.com:443/", ""},
		{"ws://example.com:80/x", "ws://example.com/x", ""},
		{"wss://example.com:443/x", "wss://example.com/x", ""},
		{"ftp://example.com:21/x", "ftp://example.com/x", ""},
		{"https://example.com", "https://example.com/", ""},
		{"https://example.com?q=1", "https://example.com/?q=1", ""},
		{"https://127.0.0.1/x", "https://127.0.0.1/x", ""},
		{"https://[0:0::1]/x", "https://[::1]/x", ""},
		{"https://[::1]:443/x", "https://[::1]/x", ""},
		{"https://[1:0:0:2:0:0:0:3]/", "https://[1:0:0:2::3]/", ""},
		{"https://[FE80:0:0:0:0:0:0:1]/", "https://[fe80::1]/", ""},
		{"https://ex_ample.com/x", "https://ex_ample.com/x", ""},
		{"https://example.com/a/%7e%41", "https://example.com/a/~A", ""},
		{"https://example.com/a b", "https://example.com/a%20b", ""},
		{"https://example.com/{id}", "https://example.com/{id}", ""},
		{"https://example.com/%7Bid%7D", "https://example.com/{id}", ""},
		{"https://example.com/a^b|c`d", "https://example.com/a%5Eb%7Cc%60d", ""},
		{"https://example.com/?a'b c", "https://example.com/?a%27b%20c", ""},
		{"https://example.com/?a%27b", "https://example.com/?a%27b", ""},
		{"https:example.com/secret", "", "no // after https:"},
		{"https:/example.com/secret", "", "no // after https:"},
		{"https:///example.com/secret", "", "no host"},
		{"https://user@example.com/secret", "", "user name or password"},
		{"https://example.com@evil.com/", "", "user name or password"},
		{"https://:443/x", "", "no host"},
		{"https://example.com./secret", "", "empty label"},
		{"https://.example.com/secret", "", "empty label"},
		{"https://example..com/secret", "", "empty label"},
		{"https://ex%61mple.com/secret", "", "percent-escape in its host"},
		{"https://exämple.com/secret", "", "not ASCII"},
		{"https://xn--exmple-cua.com/secret", "", "IDNA"},
		{"https://XN--exmple-cua.com/secret", "", "IDNA"},
		{"https://a*b.com/", "", "character hosts do not hold"},
		{"https://0x7f.1/", "", "a number in another form"},
		{"https://2130706433/", "", "a number in another form"},
		{"https://017.0.0.1/", "", "a number in another form"},
		{"https://127.1/", "", "a number in another form"},
		{"https://127.0.0.0x1/", "", "a number in another form"},
		{"https://1.2.3.256/", "", "a number in another form"},
		{"https://a.1/", "", "a number in another form"},
		{"https://0x/", "", "a number in another form"},
		{"https://[::ffff:1.2.3.4]/", "", "IPv4 part"},
		{"https://[fe80::1%25eth0]/", "", "zone"},
		{"https://[::1/", "", "unclosed ["},
		{"https://[::1]x/", "", "after its IPv6"},
		{"https://example.com:65536/", "", "beyond 65535"},
		{"https://example.com:99999999999999999999/", "", "beyond 65535"},
		{"https://example.com:8o/", "", "not a number"},
		{"https://example.com:1:2/", "", "not a number"},
		{"https://example.com/secret#x", "", "fragment"},
		{"https://example.com/secret#", "", "fragment"},
		{"https://example.com/secret?", "", "empty query"},
		{"https://example.com/a/./secret", "", ". or .."},
		{"https://example.com/a/%2E%2e/secret", "", ". or .."},
		// Other schemes: the same, without default ports or numeric hosts.
		{"demo://x/café", "demo://x/caf%C3%A9", ""},
		{"demo://x/caf%c3%a9", "demo://x/caf%C3%A9", ""},
		{"demo://X/a", "demo://x/a", ""},
		{"repo://FiloSottile/age/contents/README.md", "repo://filosottile/age/contents/README.md", ""},
		{"demo://x:080/a", "demo://x:80/a", ""},
		{"demo://x:/a", "demo://x/a", ""},
		{"demo://1/x", "demo://1/x", ""},
		{"demo://x", "demo://x", ""},
		{"demo:/x", "demo:///x", ""},
		{"demo:///x", "demo:///x", ""},
		{"urn:a b", "urn:a%20b", ""},
		{"demo://resource/dynamic/text/{resourceId}", "demo://resource/dynamic/text/{resourceId}", ""},
		{"demo://x/a?'b", "demo://x/a?'b", ""},
		{"demo://x:99999/a", "", "beyond 65535"},
		{"demo://:80/a", "", "port but no host"},
		{"demo://u@x/a", "", "user name or password"},
		{"demo://x%41/a", "", "percent-escape in its host"},
		{"demo://{table}", "", "character hosts do not hold"},
		{"demo://café/a", "", "not ASCII"},
		{"demo://x/a#b", "", "fragment"},
		{"demo://x/a?", "", "empty query"},
	} {
		got, err := CanonicalURI(c.uri)
		switch {
		case c.want != "" && (err != nil || got != c.want):
			t.Errorf("CanonicalURI(%q) = %q, %v; want %q", c.uri, got, err, c.want)
		case c.want == "" && err == nil:
			t.Errorf("CanonicalURI(%q) = %q; want it refused (%s)", c.uri, got, c.why)
		case c.want == "" && !strings.Contains(err.Error(), c.why):
			t.Errorf("CanonicalURI(%q): %v; want the reason to say %q", c.uri, err, c.why)
		}
		var ue *URIError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("CanonicalURI(%q): %T, want *URIError", c.uri, err)
		}
	}
}

// hasFileScheme reports whether s is a file: URI to a server: the scheme
// in any case.
func hasFileScheme(s string) bool {
	return len(s) >= 5 && strings.EqualFold(s[:5], "file:")
}

// encodePath writes a decoded path as a file: URI's path again.
func encodePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%' || c == '?' || c == '#' || c == ';' || c == ' ' || c < 0x20 || c == 0x7f:
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzCanonicalURI: the canonicaliser never panics, a refusal is a
// URIError, and what it accepts is read alike elsewhere: for a file: URI,
// Go's own net/url parser and path.Clean name the same file, and the
// canonical form written as a URI again reads the same (idempotence).
func FuzzCanonicalURI(f *testing.F) {
	for _, s := range []string{
		"file:///allowed/../etc/passwd", "file:///allowed/%2e%2e/etc/passwd", "file://localhost/a/b",
		"file:/a/.%2E/b", "FILE:///a/%C3%A9", "file:///a/%252e", "file:///a//../b", "file:///C:/../x",
		"file:///a/x/..", "file:///a/%3F", "test://static/resource/1", "db://x/%2e%2e/y", "db://x/%41?q#f",
		"file:///a/%25", "file://evil/x", "file:///a b/c",
		"HTTPS://EXAMPLE.COM:0443/secret", "https:example.com/x", "demo://x/café?a'b", "https://[0:0::1]:8080/",
		"https://0x7f.1/", "demo:/x", "https://example.com./x", "https://example.com/{id}?q=%7b'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		canon, err := CanonicalURI(uri)
		if err != nil {
			var ue *URIError
			if !errors.As(err, &ue) {
				t.Fatalf("CanonicalURI(%q): %T %v, want a *URIError", uri, err, err)
			}
			return
		}
		if !hasFileScheme(uri) {
			if again, err := CanonicalURI(canon); err != nil || again != canon {
				t.Fatalf("CanonicalURI(%q) = %q, and again %q, %v", uri, canon, again, err)
			}
			return
		}
		p, ok := strings.CutPrefix(canon, "file://")
		if !ok || !strings.HasPrefix(p, "/") || strings.Contains(p, "\x00") {
			t.Fatalf("CanonicalURI(%q) = %q, not file:// and an absolute path", uri, canon)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("CanonicalURI(%q) = %q keeps a dot segment", uri, canon)
			}
		}
		// Go's parser, then path.Clean, names the same file.
		u, err := url.Parse(uri)
		if err == nil && u.Opaque == "" && u.RawQuery == "" && u.Fragment == "" {
			if got, want := path.Clean(u.Path), path.Clean(p); got != want {
				t.Fatalf("%q: mcpcell reads %q, Go's url.Parse and path.Clean %q", uri, want, got)
			}
		}
		if again, err := CanonicalURI("file://" + encodePath(p)); err != nil || again != canon {
			t.Fatalf("CanonicalURI(%q) = %q; written as a URI again it reads %q, %v", uri, canon, again, err)
		}
	})
}

// compileProfile loads and compiles a profile text.
func compileProfile(t *testing.T, text string) (*Profile, *Policy, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "p.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(Options{Profile: path, Getenv: env(nil)})
	if err != nil {
		return nil, nil, err
	}
	pol, err := Compile(p)
	return p, pol, err
}

func message(t *testing.T, pol *Policy, dir jsonrpc.Direction, frame string) jsonrpc.Verdict {
	t.Helper()
	return pol.Message(dir, parseFrame(t, frame))
}

// parseFrame decodes a frame as the interposer does before it asks the
// policy.
func parseFrame(t *testing.T, frame string) *jsonrpc.Message {
	t.Helper()
	if err := jsontext.Validate([]byte(frame)); err != nil {
		t.Fatalf("%s: %v", frame, err)
	}
	m, err := jsonrpc.Parse([]byte(frame))
	if err != nil {
		t.Fatalf("%s: %v", frame, err)
	}
	return m
}

// Every place a URI reaches a decision sees its canonical form, and the
// frame forwarded is the one the client sent.
func TestResourceURIsCanonical(t *testing.T) {
	_, pol, err := compileProfile(t, "[resources]\nallow = [\"file:///allowed/**\", \"test://static/**\"]\ndeny = [\"file:///allowed/secret/**\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}`
	requests := []string{
		`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":%s,` + meta + `}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":%s,` + meta + `}}`,
		`{"jsonrpc":"2.0","id":1,"method":"resources/unsubscribe","params":{"uri":%s,` + meta + `}}`,
		`{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":["file:///allowed/a",%s]},` + meta + `}}`,
		`{"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":%s},"argument":{"name":"a","value":""},` + meta + `}}`,
	}
	for _, c := range []struct {
		uri  string
		code int // 0: allowed
	}{
		{"file:///allowed/a", 0},
		{"file://localhost/allowed/a", 0},
		{"FILE:///allowed/a", 0},
		{"file:/allowed/a", 0},
		{"file:///allowed/x/../a", 0},
		{"file:///allowed/%61", 0},
		{"file:///allowed/{name}", 0},
		{"TEST://static/1", 0},
		// Outside once resolved: not found, as a hidden resource.
		{"file:///allowed/../etc/passwd", jsonrpc.CodeResourceNotFound},
		{"file:///allowed/%2e%2e/etc/passwd", jsonrpc.CodeResourceNotFound},
		{"file:///allowed/.%2E/etc/passwd", jsonrpc.CodeResourceNotFound},
		{"file://localhost/allowed/%2E%2E/etc/passwd", jsonrpc.CodeResourceNotFound},
		{"file:/allowed/%2e%2e/etc/passwd", jsonrpc.CodeResourceNotFound},
		{"FILE:///etc/passwd", jsonrpc.CodeResourceNotFound},
		{"file:///allowed/%73ecret/key", jsonrpc.CodeResourceNotFound},
		{"file:///allowed/x/../secret/key", jsonrpc.CodeResourceNotFound},
		// Read two ways: refused, with the reason.
		{"file:///allowed/%2Fetc/passwd", jsonrpc.CodeInvalidParams},
		{"file:///allowed/%252e%252e/etc/passwd", jsonrpc.CodeInvalidParams},
		{"file:///allowed//../etc/passwd", jsonrpc.CodeInvalidParams},
		{"file:///allowed/x?/../../etc/passwd", jsonrpc.CodeInvalidParams},
		{"file:///allowed/..;/etc/passwd", jsonrpc.CodeInvalidParams},
		{"file://evil/allowed/a", jsonrpc.CodeInvalidParams},
		{`file:///allowed/..\..\etc\passwd`, jsonrpc.CodeInvalidParams},
		{"test://static/../secret", jsonrpc.CodeInvalidParams},
		{"test://static/%2e%2e/secret", jsonrpc.CodeInvalidParams},
	} {
		for _, r := range requests {
			frame := fmt.Sprintf(r, jsontext.Quote(c.uri))
			v := message(t, pol, jsonrpc.Up, frame)
			method := strings.SplitN(strings.SplitN(frame, `"method":"`, 2)[1], `"`, 2)[0]
			switch {
			case c.code == 0 && (v.Action != jsonrpc.Forward || v.Frame != nil):
				t.Errorf("%s %q: %+v, want it forwarded as sent", method, c.uri, v)
			case c.code != 0 && (v.Action != jsonrpc.Refuse || v.Err.Code != c.code):
				t.Errorf("%s %q: %+v, want refused with %d", method, c.uri, v, c.code)
			case c.code == jsonrpc.CodeInvalidParams && !strings.Contains(v.Err.Message, "mcpcell: URI "):
				t.Errorf("%s %q: %q, want the reason", method, c.uri, v.Err.Message)
			}
		}
		// From the server: an update on a URI the client could not read is
		// dropped.
		v := message(t, pol, jsonrpc.Down, fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":%s}}`, jsontext.Quote(c.uri)))
		if (v.Action == jsonrpc.Forward) != (c.code == 0) {
			t.Errorf("resources/updated %q: %v", c.uri, v.Action)
		}
	}
	// Lists show only what the client could read.
	list := func(method, field, key string, uris ...string) string {
		var entries []string
		for _, u := range uris {
			entries = append(entries, fmt.Sprintf(`{%q:%s,"name":"n"}`, key, jsontext.Quote(u)))
		}
		frame := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"result":{%q:[%s]}}`, field, strings.Join(entries, ","))
		m, err := jsonrpc.Parse([]byte(frame))
		if err != nil {
			t.Fatal(err)
		}
		v := pol.Reply(jsonrpc.Down, &jsonrpc.Call{Method: method}, m)
		if v.Frame == nil {
			return frame
		}
		return string(v.Frame)
	}
	got := list("resources/list", "resources", "uri", "file:///allowed/a", "file:///allowed/%2e%2e/etc/passwd", "file:///allowed/../etc/shadow", "FILE:///allowed/b", "file:///allowed/%2F", "file:///allowed/secret/../secret/k")
	if strings.Contains(got, "etc") || strings.Contains(got, "%2F") || strings.Contains(got, "secret") || !strings.Contains(got, "file:///allowed/a") || !strings.Contains(got, "FILE:///allowed/b") {
		t.Errorf("resources/list: %s", got)
	}
	got = list("resources/templates/list", "resourceTemplates", "uriTemplate", "file:///allowed/{name}", "file:///allowed/%2e%2e/{name}", "file:///allowed/../{name}")
	if strings.Contains(got, "..") || strings.Contains(got, "%2e") || !strings.Contains(got, "file:///allowed/{name}") {
		t.Errorf("resources/templates/list: %s", got)
	}
}

// A resource glob that no canonical URI can match is an error, not a
// rule that silently allows nothing.
func TestResourceGlobErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"[resources]\nallow = [\"file:///p/../q/**\"]\n", `p.toml:2: resources.allow: glob "file:///p/../q/**" can never match`},
		{"[resources]\ndeny = [\"file:///p/%2e%2e/**\"]\n", `resources.deny: glob "file:///p/%2e%2e/**" can never match`},
		{"[resources]\ndeny = [\"FILE:///p/**\"]\n", `can never match`},
		{"[resources]\nallow = [\"file://localhost/p/**\"]\n", `can never match`},
		{"[resources]\nallow = [\"file:///p//q\"]\n", `can never match`},
		{"[resources]\nallow = [\"db://x/./y\"]\n", `can never match`},
		// Written otherwise than the canonical form of other schemes: a
		// deny that matched nothing would deny nothing.
		{"[resources]\ndeny = [\"https://EXAMPLE.com/secret\"]\n", `can never match: URIs are compared in their canonical form, here https://example.com/secret`},
		{"[resources]\ndeny = [\"https://example.com:443/secret\"]\n", `here https://example.com/secret`},
		{"[resources]\ndeny = [\"https://example.com\"]\n", `here https://example.com/`},
		{"[resources]\ndeny = [\"https:example.com/secret\"]\n", `the URI has no // after https:`},
		{"[resources]\ndeny = [\"https://example.com./secret\"]\n", `empty label`},
		{"[resources]\ndeny = [\"https://0x7f.1/secret\"]\n", `a number in another form`},
		{"[resources]\ndeny = [\"demo://x/café\"]\n", `here demo://x/caf%C3%A9`},
		{"[resources]\ndeny = [\"demo://x/café/**\"]\n", `non-ASCII characters are compared as escapes`},
		{"[resources]\ndeny = [\"demo://x/a b*\"]\n", `' ' is compared as the escape %20`},
		{"[resources]\ndeny = [\"demo://x/a#*\"]\n", `fragment`},
		{"[resources]\ndeny = [\"demo://x/%7Bid%7D*\"]\n", `escapes of letters, digits, -._~ and { } are compared decoded`},
		{"[resources]\ndeny = [\"https://Example.com/**\"]\n", `here https://example.com`},
		{"[resources]\ndeny = [\"https://*.Example.com/**\"]\n", `hosts are compared in lower case`},
		{"[resources]\ndeny = [\"https://example.com:0443/**\"]\n", `here https://example.com`},
		{"[resources]\ndeny = [\"https:example.com/**\"]\n", `https: URIs are compared as https://HOST/PATH`},
		{"[resources]\ndeny = [\"https://u@example.com/**\"]\n", `user name or password`},
	} {
		_, _, err := compileProfile(t, c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s\nerr = %v\nwant %q", c.text, err, c.want)
		}
	}
	for _, g := range []string{"file:///p/**", "file:///p q/*.txt", "test://static/**", "*", "file:///**", "db://x/%2C*",
		"https://example.com/secret", "https://example.com/**", "https://*.example.com/**", "https://example.com/secret?**",
		"https://example.com:8443/**", "https://[::1]/**", "demo://x/caf%C3%A9", "demo://resource/dynamic/text/{resourceId}",
		"repo://filosottile/**", "https://example.com/?a%27b", "demo:///x", "urn:isbn:*"} {
		if _, _, err := compileProfile(t, fmt.Sprintf("[resources]\nallow = [%q]\n", g)); err != nil {
			t.Errorf("glob %q: %v", g, err)
		}
	}
}

// The review's spellings of denied URIs of other schemes are denied (or
// refused) in every place a URI is decided; a deny also holds for the
// URI with a query, which servers that look resources up by path read as
// the denied one. The control: without the deny each goes on.
func TestOtherURIsDenied(t *testing.T) {
	deny := "[resources]\ndeny = [\"https://example.com/secret\", \"demo://x/caf%C3%A9\", \"repo://owner/private/**\"]\n"
	_, pol, err := compileProfile(t, deny)
	if err != nil {
		t.Fatal(err)
	}
	_, open, err := compileProfile(t, "")
	if err != nil {
		t.Fatal(err)
	}
	read := func(pol *Policy, uri string) jsonrpc.Verdict {
		return message(t, pol, jsonrpc.Up, fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":%s}}`, jsontext.Quote(uri)))
	}
	for _, c := range []struct {
		uri  string
		code int
	}{
		{"https://example.com/secret", jsonrpc.CodeResourceNotFound},
		{"HTTPS://EXAMPLE.COM/secret", jsonrpc.CodeResourceNotFound},
		{"https://example.com:443/secret", jsonrpc.CodeResourceNotFound},
		{"https://example.com:0443/secret", jsonrpc.CodeResourceNotFound},
		{"https://example.com:/secret", jsonrpc.CodeResourceNotFound},
		{"https://example.com/%73ecret", jsonrpc.CodeResourceNotFound},
		{"https://example.com/secret?x=1", jsonrpc.CodeResourceNotFound},
		{"https://example.com/secret?x=1&y=%2e", jsonrpc.CodeResourceNotFound},
		{"demo://x/café", jsonrpc.CodeResourceNotFound},
		{"DEMO://X/caf%c3%a9", jsonrpc.CodeResourceNotFound},
		{"demo://x/caf%C3%A9?v=2", jsonrpc.CodeResourceNotFound},
		{"repo://Owner/private/README.md", jsonrpc.CodeResourceNotFound},
		{"repo://OWNER/private/a b", jsonrpc.CodeResourceNotFound},
		{"https:example.com/secret", jsonrpc.CodeInvalidParams},
		{"https:/example.com/secret", jsonrpc.CodeInvalidParams},
		{"https://example.com./secret", jsonrpc.CodeInvalidParams},
		{"https://ex%61mple.com/secret", jsonrpc.CodeInvalidParams},
		{"https://user@example.com/secret", jsonrpc.CodeInvalidParams},
		{"https://example.com/secret#x", jsonrpc.CodeInvalidParams},
		{"https://example.com/secret?", jsonrpc.CodeInvalidParams},
		{"https://example.com/public/../secret", jsonrpc.CodeInvalidParams},
	} {
		if v := read(pol, c.uri); v.Action != jsonrpc.Refuse || v.Err.Code != c.code {
			t.Errorf("%s: %+v, want refused with %d", c.uri, v, c.code)
		}
		if v := read(open, c.uri); c.code == jsonrpc.CodeResourceNotFound && v.Action != jsonrpc.Forward {
			t.Errorf("control %s: %+v, want it forwarded without the deny", c.uri, v)
		}
	}
	for _, uri := range []string{"https://example.com/public", "https://example.com/secret2", "https://example.com/secret/x", "demo://x/cafe", "repo://owner/public/x", "https://example.com/?q=secret"} {
		if v := read(pol, uri); v.Action != jsonrpc.Forward {
			t.Errorf("%s: %+v, want it forwarded", uri, v)
		}
	}
}

// A deny glob that names some of what a listed template serves is noted,
// once a session: the server reads the template's values its own way, so
// the deny cannot name every spelling. A deny that covers the template,
// or misses it, is not noted.
func TestTemplatedDenyNote(t *testing.T) {
	_, pol, err := compileProfile(t, "[resources]\ndeny = [\"demo://resource/dynamic/text/2\", \"demo://resource/static/**\", \"https://example.com/secret\", \"file:///p/secret.txt\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	reply := func(templates ...string) jsonrpc.Verdict {
		var entries []string
		for _, u := range templates {
			entries = append(entries, fmt.Sprintf(`{"uriTemplate":%s,"name":"t"}`, jsontext.Quote(u)))
		}
		m, err := jsonrpc.Parse([]byte(`{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[` + strings.Join(entries, ",") + `]}}`))
		if err != nil {
			t.Fatal(err)
		}
		return pol.Reply(jsonrpc.Down, &jsonrpc.Call{Method: "resources/templates/list"}, m)
	}
	v := reply("demo://resource/dynamic/text/{resourceId}", "demo://resource/static/{id}", "https://example.com/{path}", "file:///p/{name}", "db://{table}")
	for _, want := range []string{`resources.deny "demo://resource/dynamic/text/2" (`, `template "demo://resource/dynamic/text/{resourceId}"`, `"https://example.com/secret"`, `"file:///p/secret.txt"`, "allow only what the client needs"} {
		if !strings.Contains(v.Note, want) {
			t.Errorf("note %q; want it to say %q", v.Note, want)
		}
	}
	if strings.Contains(v.Note, "static") {
		t.Errorf("note %q names the deny that covers its template", v.Note)
	}
	if v := reply("demo://resource/dynamic/text/{resourceId}"); v.Note != "" {
		t.Errorf("listed again: note %q, want it once a session", v.Note)
	}
	// The control: without deny globs nothing is noted.
	_, open, _ := compileProfile(t, "")
	m, _ := jsonrpc.Parse([]byte(`{"jsonrpc":"2.0","id":1,"result":{"resourceTemplates":[{"uriTemplate":"demo://resource/dynamic/text/{resourceId}","name":"t"}]}}`))
	if v := open.Reply(jsonrpc.Down, &jsonrpc.Call{Method: "resources/templates/list"}, m); v.Note != "" {
		t.Errorf("no deny: note %q", v.Note)
	}
}
