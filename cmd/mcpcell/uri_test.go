package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/profiles"
)

// nodeFileURLToPath runs Node's fileURLToPath on each URI: the path, or
// "" when it throws.
func nodeFileURLToPath(t *testing.T, uris []string) []string {
	t.Helper()
	_, err := exec.LookPath("node")
	need(t, "node on the PATH", err == nil)
	in, _ := json.Marshal(uris)
	cmd := exec.Command("node", "-e", `
const {fileURLToPath} = require("node:url");
const uris = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(uris.map(u => { try { return fileURLToPath(u) } catch { return "" } })));`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	var paths []string
	if err := json.Unmarshal(out, &paths); err != nil || len(paths) != len(uris) {
		t.Fatalf("node's answer: %v (%d paths for %d URIs)", err, len(paths), len(uris))
	}
	return paths
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
		}
	}

	s, p := start(`[resources]
allow = ["file://${PROJECT}/allowed/**"]
`)
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
