package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/profiles"
)

// nodeFileURLToPath runs Node's fileURLToPath on each URI: the path, or
// "" when it throws.
func nodeFileURLToPath(t *testing.T, uris []string) []string {
	return nodeMap(t, uris, `require("node:url").fileURLToPath(u)`)
}

// nodeMap runs the JavaScript expression expr of u on each URI u in one
// node process: its value, or "" when it throws.
func nodeMap(t *testing.T, uris []string, expr string) []string {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, "node on the PATH", err == nil)
	in, _ := json.Marshal(uris)
	cmd := exec.Command("node", "-e", `
const uris = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(uris.map(u => { try { return `+expr+` } catch { return "" } })));`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var got []string
	if err := json.Unmarshal(out, &got); err != nil || len(got) != len(uris) {
		t.Fatalf("node's answer: %v (%d values for %d URIs)", err, len(got), len(uris))
	}
	return got
}

// TestFileURIsAgreeWithNode: for every file: URI built from the pieces
// below that mcpcell accepts, Node's fileURLToPath names the very path
// mcpcell decided on; the review's URIs are the control: Node reads them
// as /etc/passwd.
func TestFileURIsAgreeWithNode(t *testing.T) {
	control := []string{"file:///allowed/../etc/passwd", "file:///allowed/%2e%2e/etc/passwd", "file:///allowed/.%2E/etc/passwd", "FILE:///allowed/%2E%2e/etc/passwd", "file://localhost/allowed/%2e%2e/etc/passwd", "file:/allowed/%2e%2e/etc/passwd"}
	for i, p := range nodeFileURLToPath(t, control) {
		if p != "/etc/passwd" {
			t.Errorf("control: Node reads %q as %q, not /etc/passwd", control[i], p)
		}
		if got, err := profiles.CanonicalURI(control[i]); err != nil || got != "file:///etc/passwd" {
			t.Errorf("mcpcell reads %q as %q, %v; want file:///etc/passwd", control[i], got, err)
		}
	}

	prefixes := []string{"file:", "file:/", "file://", "file:///", "file://localhost/", "FILE:///", "File://LocalHost/", "file://evil/", "file:////"}
	segments := []string{"allowed", ".", "..", "%2e", "%2E%2e", ".%2E", "%2e.", "%252e", "", "a%20b", "%41", "%2F", "%5C", "%00", "%zz", "%ff", "%C3%A9", "é", "C:", "c|", "a;b", "x?y", "x#y", "a b", "%3F", "%25"}
	var uris []string
	var gen func(uri string, n int)
	gen = func(uri string, n int) {
		uris = append(uris, uri)
		if n == 0 {
			return
		}
		for _, s := range segments {
			sep := "/"
			if strings.HasSuffix(uri, "/") || strings.HasSuffix(uri, ":") {
				sep = ""
			}
			gen(uri+sep+s, n-1)
		}
	}
	for _, p := range prefixes {
		gen(p, 3)
	}
	// And strings of the characters parsers treat apart, at random (the
	// same ones each run).
	rng := rand.New(rand.NewPCG(9, 4))
	alphabet := []rune("/./.%2eEfF5cC0:|a;?#\\ é~xL")
	for range 100000 {
		b := []rune(prefixes[rng.IntN(len(prefixes))])
		for n := rng.IntN(12); n > 0; n-- {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		uris = append(uris, string(b))
	}
	paths := nodeFileURLToPath(t, uris)
	accepted, differ := 0, 0
	for i, uri := range uris {
		canon, err := profiles.CanonicalURI(uri)
		if err != nil {
			continue
		}
		accepted++
		if got := "file://" + paths[i]; paths[i] == "" || got != canon {
			differ++
			if differ <= 20 {
				t.Errorf("%q: mcpcell decides on %q, Node's fileURLToPath reads %q", uri, canon, paths[i])
			}
		}
	}
	t.Logf("%d URIs, %d accepted by mcpcell, %d read otherwise by Node", len(uris), accepted, differ)
	if accepted < 1000 {
		t.Errorf("only %d URIs accepted: the test checks too little", accepted)
	}
}

// TestFileURIResourcesInCell reads file: resources from a Node server in
// a cell (testdata/fileserver.mjs, which uses fileURLToPath) under
// [resources] allow = ["file://${PROJECT}/allowed/**"]. URIs that Node
// resolves outside allowed/ are refused; the control, the same server
// without the [resources] rule, reads the secret for each of them.
// Accepted forms reach the server byte for byte.
func TestFileURIResourcesInCell(t *testing.T) {
	nodeModules(t)
	script, _ := filepath.Abs("testdata/fileserver.mjs")
	start := func(rules string) (*session, string) {
		profile := writeProfile(t, grantRead(filepath.Dir(script))+rules)
		p := filepath.Dir(profile)
		os.MkdirAll(filepath.Join(p, "allowed", "sub"), 0o755)
		os.WriteFile(filepath.Join(p, "allowed", "inside.txt"), []byte("INSIDE"), 0o644)
		os.WriteFile(filepath.Join(p, "secret.txt"), []byte("SECRET"), 0o644)
		os.WriteFile(filepath.Join(p, "allowed", ".env"), []byte("SECRET-ENV"), 0o644)
		// Links in the allowed folder: out of it, and to a denied file.
		os.Symlink("..", filepath.Join(p, "allowed", "up"))
		os.Symlink("../secret.txt", filepath.Join(p, "allowed", "notes.txt"))
		os.Symlink(".env", filepath.Join(p, "allowed", "env-link"))
		s := startSession(t, cellCommand(t, profile, "node", script))
		if r := s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
			t.Fatalf("initialize: %v", r)
		}
		return s, p
	}
	read := func(s *session, id int, uri string) (text string, code int, msg string, sent string) {
		r := s.call(id, "resources/read", fmt.Sprintf(`{"uri":%q}`, uri))
		code, msg = errorOf(r)
		res, _ := r["result"].(map[string]any)
		contents, _ := res["contents"].([]any)
		if len(contents) == 1 {
			c, _ := contents[0].(map[string]any)
			text, _ = c["text"].(string)
			sent, _ = c["uri"].(string)
		}
		return
	}
	outside := func(p string) []string {
		return []string{
			"file://" + p + "/allowed/../secret.txt",
			"file://" + p + "/allowed/%2e%2e/secret.txt",
			"file://" + p + "/allowed/%2E%2E/secret.txt",
			"file://" + p + "/allowed/.%2e/secret.txt",
			"file://" + p + "/allowed/%2e./secret.txt",
			"file://" + p + "/allowed/sub/../../secret.txt",
			"file://" + p + "/allowed/sub/%2e%2e/%2e%2e/secret.txt",
			"file://localhost" + p + "/allowed/%2e%2e/secret.txt",
			"file:" + p + "/allowed/%2e%2e/secret.txt",
			"FILE://" + p + "/allowed/../secret.txt",
			"file://" + p + "/allowed/%2e%2e/s%65cret.txt",
			// Symbolic links in the allowed folder, followed as the
			// server's open follows them.
			"file://" + p + "/allowed/up/secret.txt",
			"file://" + p + "/allowed/notes.txt",
		}
	}

	s, p := start(`[resources]
allow = ["file://${PROJECT}/allowed/**"]
deny = ["file://${PROJECT}/allowed/.env"]
`)
	// A link to a denied file is denied.
	if text, code, _, _ := read(s, 9, "file://"+p+"/allowed/env-link"); code != -32002 || strings.Contains(text, "SECRET") {
		t.Errorf("a link to the denied .env: %d %q", code, text)
	}
	for i, uri := range outside(p) {
		text, code, msg, _ := read(s, 10+i, uri)
		if code != -32002 || msg != "Resource not found: "+uri || strings.Contains(text, "SECRET") {
			t.Errorf("%s: %d %q %q; want -32002 Resource not found", uri, code, msg, text)
		}
	}
	// Read two ways by parsers: refused, with the reason.
	for i, c := range []struct{ uri, why string }{
		{"file://" + p + "/allowed//../secret.txt", "empty segment"},
		{"file://" + p + "/allowed/%252e%252e/secret.txt", "percent-encoded twice"},
		{"file://" + p + "/allowed/x?/../../secret.txt", "query or fragment"},
		{"file://" + p + "/allowed/x#/../../secret.txt", "query or fragment"},
		{"file://" + p + "/allowed/%2F..%2F..%2Fsecret.txt", "encoded /"},
		{"file://" + p + `/allowed/..\..\secret.txt`, "backslash"},
		{"file://" + p + "/allowed/..;x/secret.txt", ";"},
		{"file://evil" + p + "/allowed/inside.txt", "host"},
		{"file://" + p + "/allowed/%zz", "invalid percent-escape"},
		{"file://" + p + "/allowed/%ff", "not UTF-8"},
	} {
		text, code, msg, _ := read(s, 30+i, c.uri)
		if code != -32602 || !strings.Contains(msg, c.why) || strings.Contains(text, "SECRET") {
			t.Errorf("%s: %d %q %q; want -32602 naming %q", c.uri, code, msg, text, c.why)
		}
	}
	// The same file in other forms: read, and the server got the URI as sent.
	for i, uri := range []string{
		"file://" + p + "/allowed/inside.txt",
		"file://localhost" + p + "/allowed/inside.txt",
		"file://LOCALHOST" + p + "/allowed/inside.txt",
		"file:" + p + "/allowed/inside.txt",
		"FILE://" + p + "/allowed/inside.txt",
		"file://" + p + "/allowed/sub/../inside.txt",
		"file://" + p + "/allowed/sub/%2e%2e/%69nside.txt",
		"file://" + p + "/allowed/./inside.txt",
	} {
		text, code, msg, sent := read(s, 50+i, uri)
		if text != "INSIDE" || sent != uri {
			t.Errorf("%s: %q (%d %q), the server got %q; want INSIDE and the URI as sent", uri, text, code, msg, sent)
		}
	}

	// The control: without the rule the server reads the secret for each.
	s, p = start("")
	for i, uri := range outside(p) {
		if text, code, msg, _ := read(s, 10+i, uri); text != "SECRET" {
			t.Errorf("control %s: %q (%d %q); want the server to read SECRET", uri, text, code, msg)
		}
	}
}

// nodeHref runs new URL(u).href of Node's WHATWG parser on each URI: the
// href, or "" when it throws. The TypeScript SDK looks a resource up by
// that href.
func nodeHref(t *testing.T, uris []string) []string {
	return nodeMap(t, uris, `new URL(u).href`)
}

// otherURIs are URIs of other schemes than file:, built from the pieces
// parsers read apart.
func otherURIs() []string {
	var uris []string
	schemes := []string{"https", "HTTPS", "http", "ws", "wss", "ftp", "demo", "Demo", "urn"}
	seps := []string{":", ":/", "://", ":///"}
	hosts := []string{"example.com", "EXAMPLE.com", "example.com.", "example.com:443", "example.com:0443", "example.com:80", "example.com:", "example.com:8080",
		"example.com:65536", "127.0.0.1", "0x7f.1", "127.1", "2130706433", "[::1]", "[0:0::1]", "[::FFFF:1.2.3.4]", "[1:0:0:2:0:0:0:3]",
		"user@example.com", "ex%61mple.com", "exämple.com", "xn--exmple-cua.com", "a_b", "", ":", "x", "X", "1"}
	paths := []string{"", "/", "/secret", "/Secret", "/a b", "/café", "/caf%C3%A9", "/caf%c3%a9", "/%7e", "/{id}", "/%7Bid%7D", "/a^b",
		"/a|b", "/a`b", `/a"b`, "/a<b>", "/.", "/..", "/%2e", "/a/../b", "/02", "/%2F", "/a'b", "/%41%2c"}
	queries := []string{"", "?", "?q", "?a'b", "?a b", "?%27", "?é", "?{x}|^`", "#", "#x", "?q#x"}
	for _, s := range schemes {
		for _, sep := range seps {
			for _, h := range hosts {
				for _, p := range paths {
					for _, q := range queries {
						uris = append(uris, s+sep+h+p+q)
					}
				}
			}
		}
	}
	// And strings of the characters parsers treat apart, at random (the
	// same ones each run).
	rng := rand.New(rand.NewPCG(5, 7))
	alphabet := []rune("/.%2eE7bBcC0:@[]|^`{}' é?#xX")
	for range 50000 {
		b := []rune(schemes[rng.IntN(len(schemes))] + seps[rng.IntN(len(seps))])
		for n := rng.IntN(14); n > 0; n-- {
			b = append(b, alphabet[rng.IntN(len(alphabet))])
		}
		uris = append(uris, string(b))
	}
	return uris
}

// TestOtherURIsAgreeWithNode: for every URI of another scheme than file:
// built from the pieces below that mcpcell accepts, mcpcell's canonical
// form is the canonical form of the href Node's WHATWG parser makes of
// it: every spelling a WHATWG server takes for one URL has one canonical
// form, so a deny glob that names it names them all. The review's
// spellings are the control: Node takes each for the denied URL.
func TestOtherURIsAgreeWithNode(t *testing.T) {
	control := map[string]string{
		"HTTPS://EXAMPLE.COM/secret":     "https://example.com/secret",
		"https://example.com:443/secret": "https://example.com/secret",
		"https:example.com/secret":       "https://example.com/secret",
		"demo://x/café":                  "demo://x/caf%C3%A9",
	}
	var uris []string
	for u := range control {
		uris = append(uris, u)
	}
	for i, h := range nodeHref(t, uris) {
		if h != control[uris[i]] {
			t.Errorf("control: Node reads %q as %q, not %q", uris[i], h, control[uris[i]])
		}
		if c, err := profiles.CanonicalURI(uris[i]); err == nil && c != control[uris[i]] {
			t.Errorf("mcpcell reads %q as %q; want %q or a refusal", uris[i], c, control[uris[i]])
		}
	}

	uris = append(uris, otherURIs()...)
	hrefs := nodeHref(t, uris)
	accepted, thrown, differ := 0, 0, 0
	for i, uri := range uris {
		canon, err := profiles.CanonicalURI(uri)
		if err != nil {
			continue
		}
		accepted++
		if hrefs[i] == "" {
			thrown++
			if thrown <= 20 {
				t.Errorf("%q: mcpcell decides on %q; Node refuses it", uri, canon)
			}
			continue
		}
		if again, err := profiles.CanonicalURI(hrefs[i]); err != nil || again != canon {
			differ++
			if differ <= 20 {
				t.Errorf("%q: mcpcell decides on %q; Node reads it as %q, which mcpcell reads as %q, %v", uri, canon, hrefs[i], again, err)
			}
		}
	}
	t.Logf("%d URIs, %d accepted by mcpcell, %d that Node refuses, %d read otherwise by Node", len(uris), accepted, thrown, differ)
	if accepted < 5000 {
		t.Errorf("only %d URIs accepted: the test checks too little", accepted)
	}
}

// TestOtherURIsAgreeWithPython: what mcpcell accepts, Python's urlsplit
// (an RFC 3986 reader, as many servers' are) reads with the host, port,
// path and query mcpcell decided on: the refusals cover what it reads
// apart from WHATWG parsers (https:host, fragments, user names, …).
func TestOtherURIsAgreeWithPython(t *testing.T) {
	_, err := os.Stat("/usr/bin/python3")
	need(t, "/usr/bin/python3", err == nil)
	uris := otherURIs()
	in, _ := json.Marshal(uris)
	cmd := exec.Command("/usr/bin/python3", "-c", `
import json, sys
from urllib.parse import urlsplit, unquote_to_bytes as unquote
out = []
for u in json.load(sys.stdin):
    try:
        s = urlsplit(u)
        out.append([s.hostname or "", s.port if s.port is not None else -1, unquote(s.path).hex(), unquote(s.query).hex(), s.fragment])
    except Exception:
        out.append(None)
json.dump(out, sys.stdout)`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var reads [][]any
	if err := json.Unmarshal(out, &reads); err != nil || len(reads) != len(uris) {
		t.Fatalf("python's answer: %v (%d for %d URIs)", err, len(reads), len(uris))
	}
	defaults := map[string]float64{"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
	accepted, differ := 0, 0
	for i, uri := range uris {
		canon, err := profiles.CanonicalURI(uri)
		if err != nil {
			continue
		}
		accepted++
		u, err := url.Parse(canon)
		if err != nil {
			t.Fatalf("%q: the canonical form %q is no RFC 3986 URI: %v", uri, canon, err)
		}
		port := defaults[u.Scheme]
		if p := u.Port(); p != "" {
			n, _ := strconv.Atoi(p)
			port = float64(n)
		}
		path := u.Opaque
		if path == "" {
			path = u.EscapedPath()
		}
		path, _ = url.PathUnescape(path)
		if path == "" && port != 0 {
			path = "/" // a special scheme's empty path
		}
		query, _ := url.PathUnescape(u.RawQuery)
		want := []any{strings.ToLower(u.Hostname()), port, hex.EncodeToString([]byte(path)), hex.EncodeToString([]byte(query)), ""}
		got := reads[i]
		// One IPv6 address, however written.
		ip := func(h any) any {
			if a, err := netip.ParseAddr(fmt.Sprint(h)); err == nil {
				return a.String()
			}
			return h
		}
		want[0] = ip(want[0])
		if got != nil {
			got[0] = ip(got[0])
			if p, _ := got[1].(float64); p == -1 {
				got[1] = defaults[u.Scheme]
			}
			if got[2] == "" && port != 0 {
				got[2] = "2f" // a special scheme's empty path is /
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			differ++
			if differ <= 20 {
				t.Errorf("%q: mcpcell decides on %q (host, port, path, query, fragment %v); Python's urlsplit reads %v", uri, canon, want, got)
			}
		}
	}
	t.Logf("%d URIs, %d accepted by mcpcell, %d read otherwise by Python", len(uris), accepted, differ)
}

// TestOtherURIResourcesSDKServer: the real TypeScript SDK server reads
// the review's spellings of denied URIs, and their neighbours, as the
// denied resources (the control: the server without mcpcell); under
// [resources] deny each is refused, and allowed resources are read.
func TestOtherURIResourcesSDKServer(t *testing.T) {
	nm := nodeModules(t)
	script, _ := filepath.Abs("testdata/sdkserver.mjs")
	start := func(rules string) *session {
		cmd := exec.Command("node", script) // the control: no mcpcell
		if rules != "" {
			cmd = cellCommand(t, writeProfile(t, grantRead(filepath.Dir(script), nm)+rules), "node", script)
		}
		s := startSession(t, cmd)
		if r := s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
			t.Fatalf("initialize: %v\n%s", r, s.stderr.String())
		}
		return s
	}
	read := func(s *session, id int, uri string) (text string, code int, msg string) {
		r := s.call(id, "resources/read", fmt.Sprintf(`{"uri":%q}`, uri))
		code, msg = errorOf(r)
		res, _ := r["result"].(map[string]any)
		if contents, _ := res["contents"].([]any); len(contents) == 1 {
			c, _ := contents[0].(map[string]any)
			text, _ = c["text"].(string)
		}
		return
	}
	// Each spelling and the resource the SDK serves for it.
	denied := map[string]string{
		"https://example.com/secret":               "https://example.com/secret",
		"HTTPS://EXAMPLE.COM/secret":               "https://example.com/secret",
		"https://Example.com:443/secret":           "https://example.com/secret",
		"https://example.com:0443/secret":          "https://example.com/secret",
		"https://example.com:/secret":              "https://example.com/secret",
		"https:example.com/secret":                 "https://example.com/secret",
		"https:/example.com/secret":                "https://example.com/secret",
		"https:///example.com/secret":              "https://example.com/secret",
		"https://example.com/%73ecret":             "", // the SDK keeps the escape: no resource
		"https://example.com/secret?x=1":           "", // the SDK keeps the query
		"demo://x/caf%C3%A9":                       "demo://x/caf%C3%A9",
		"demo://x/café":                            "demo://x/caf%C3%A9",
		"DEMO://x/caf%C3%A9":                       "demo://x/caf%C3%A9",
		"demo://x/caf%c3%a9":                       "",
		"demo://x/caf%C3%A9?":                      "",
		"https://example.com/secret#x":             "", // the SDK keeps the fragment
		"https://user@example.com/secret":          "",
		"https://example.com./secret":              "",
		"https://ex%61mple.com/secret":             "https://example.com/secret",
		"https://EXAMPLE.COM:443/secret?":          "",
		"https://example.com/public/../secret":     "https://example.com/secret",
		"https://example.com/public/%2e%2e/secret": "https://example.com/secret",
	}
	s := start("")
	id := 10
	for uri, want := range denied {
		id++
		text, code, msg := read(s, id, uri)
		switch {
		case want != "" && text != "CONTENT OF "+want:
			t.Errorf("control %s: %q (%d %q); want the SDK to serve %s", uri, text, code, msg, want)
		case want == "" && text != "":
			t.Errorf("control %s: %q; the test expected no resource", uri, text)
		}
	}

	s = start("[resources]\ndeny = [\"https://example.com/secret\", \"demo://x/caf%C3%A9\"]\n")
	for uri := range denied {
		id++
		text, code, msg := read(s, id, uri)
		if text != "" || code != -32002 && code != -32602 || !strings.HasPrefix(msg, "Resource not found: ") && !strings.HasPrefix(msg, "mcpcell: URI ") {
			t.Errorf("%s under deny: %q (%d %q); want it refused", uri, text, code, msg)
		}
	}
	for _, c := range []struct{ uri, want string }{
		{"demo://x/public", "demo://x/public"},
		{"DEMO://x/public", "demo://x/public"},
		{"https://example.com/public", "https://example.com/public"},
		{"HTTPS://EXAMPLE.COM:443/public", "https://example.com/public"},
	} {
		id++
		if text, code, msg := read(s, id, c.uri); text != "CONTENT OF "+c.want {
			t.Errorf("%s under deny: %q (%d %q); want %s served", c.uri, text, code, msg, c.want)
		}
	}
}

// TestTemplatedDenyServerEverything: server-everything serves
// demo://resource/dynamic/text/{resourceId} and reads the value as a
// number, so 02, 2.0 and 0x2 are resource 2 too. No canonical form can
// know that; the deny stops its own spelling, and mcpcell notes, when
// the template is listed, that the deny cannot name every spelling.
func TestTemplatedDenyServerEverything(t *testing.T) {
	nm := nodeModules(t)
	profile := writeProfile(t, grantRead(nm)+"[resources]\ndeny = [\"demo://resource/dynamic/text/2\"]\n")
	s := startSession(t, cellCommand(t, profile, "node", filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js"), "stdio"))
	if r := s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
		t.Fatalf("initialize: %v", r)
	}
	if r := s.call(1, "resources/templates/list", `{}`); r["result"] == nil {
		t.Fatalf("resources/templates/list: %v", r)
	}
	text := func(r map[string]any) string {
		res, _ := r["result"].(map[string]any)
		contents, _ := res["contents"].([]any)
		if len(contents) != 1 {
			return ""
		}
		c, _ := contents[0].(map[string]any)
		t, _ := c["text"].(string)
		return t
	}
	if code, _ := errorOf(s.call(2, "resources/read", `{"uri":"demo://resource/dynamic/text/2"}`)); code != -32002 {
		t.Errorf("the denied spelling: code %d, want -32002", code)
	}
	// The limit the note is about: another spelling reaches resource 2.
	if got := text(s.call(3, "resources/read", `{"uri":"demo://resource/dynamic/text/02"}`)); !strings.HasPrefix(got, "Resource 2:") {
		t.Errorf("02: %q; the test expected server-everything to serve resource 2 (the limit the note names)", got)
	}
	noted := func() bool {
		e := s.stderr.String()
		return strings.Contains(e, `mcpcell: note: resources.deny "demo://resource/dynamic/text/2" (`) && strings.Contains(e, `template "demo://resource/dynamic/text/{resourceId}"`)
	}
	// stderr is copied from a pipe: give it a moment.
	for deadline := time.Now().Add(10 * time.Second); !noted() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if !noted() {
		t.Errorf("no note on stderr:\n%s", s.stderr.String())
	}
}
