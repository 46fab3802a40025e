package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcell/mcpcell/internal/leaktest"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/keystore"
)

// randomValue is a credential with characters every encoder treats in its
// own way: a quote, a slash, a plus sign, a non-ASCII letter.
func randomValue(prefix string) string {
	return prefix + rand.Text()[:20] + `"é/+` + rand.Text()[:6]
}

// pemValue is a multi-line credential, as a private key or a JSON
// credential file is.
func pemValue() string {
	return "-----BEGIN TEST KEY-----\n" + rand.Text() + rand.Text() + "\n" + rand.Text() + "\n-----END TEST KEY-----"
}

// storeItem puts value into the keyring directly (secret set reads one
// line, and a multi-line value needs more) and removes it after the test.
func storeItem(t *testing.T, value string) string {
	t.Helper()
	name := "test-" + strings.ToLower(rand.Text()[:12])
	if err := keystore.Put(keystore.Keyring{}, name, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keystore.Remove(keystore.Keyring{}, name) })
	return name
}

type leakAttempt struct {
	tag, name, form, via string
	at                   int           // stderr-note: where the form is cut
	wait                 time.Duration // before the attempt
}

// leakRun is what one session of hostile attempts left: each reply the
// client got (by tag), everything the client got, mcpcell's stderr and the
// audit log.
type leakRun struct {
	replies map[string][]byte
	frames  [][]byte
	stderr  string
	audit   string
}

// runLeaks runs every attempt in one session of the fake server under
// profile, then ends the session.
func runLeaks(t *testing.T, profile string, attempts []leakAttempt) leakRun {
	t.Helper()
	s := startSession(t, cellCommand(t, profile, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	run := leakRun{replies: map[string][]byte{}}
	for i, a := range attempts {
		time.Sleep(a.wait)
		args, _ := json.Marshal(map[string]any{"name": a.name, "form": a.form, "via": a.via, "tag": a.tag, "at": a.at})
		s.call(i+1, "tools/call", `{"name":"leak","arguments":`+string(args)+`}`)
		s.mu.Lock()
		run.replies[a.tag] = s.frames[len(s.frames)-1]
		s.mu.Unlock()
	}
	s.in.Close()
	s.cmd.Wait()
	for range s.lines { // what came after the last reply
	}
	s.mu.Lock()
	run.frames = s.frames
	s.mu.Unlock()
	run.stderr = s.stderr.String()
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(profile)+"-xdg", "state", "mcpcell", "audit", "*.jsonl"))
	if len(logs) != 1 {
		t.Fatalf("audit logs: %v", logs)
	}
	audit, _ := os.ReadFile(logs[0])
	run.audit = string(audit)
	return run
}

// out is the part of what a session left that an attempt went to: the
// reply for a frame, the tagged stretch of stderr, or the note line that
// quotes it.
func (r leakRun) out(a leakAttempt) string {
	switch a.via {
	case "result", "key", "duplicate-name":
		return string(r.replies[a.tag])
	case "non-json", "unknown-id":
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.Contains(l, a.tag+"x") {
				return l
			}
		}
		return ""
	}
	m := regexp.MustCompile(`(?s)` + a.tag + `: .*? :end-` + a.tag).FindString(r.stderr)
	return m
}

// noted reports whether a way out is a note of mcpcell's, which quotes
// the first of its kind in a second and counts the rest.
func noted(via string) bool { return via == "non-json" || via == "unknown-id" }

// TestRedactHostileServer: a server that has read the redactor tries to
// get a keyring secret past it in each form (base64 at an offset, hex,
// percent-encoding, \u escapes…) by each way out (the result, a member
// name, stderr in one write, in two around a note of mcpcell's, three
// bytes at a time, a non-JSON line and an unknown id that mcpcell quotes
// in a note, a duplicate member name it quotes in an error). On ba3479b
// most of these leaked. The control: the same values passed in [env], so
// nothing redacts, reach the client or stderr readable by every attempt.
func TestRedactHostileServer(t *testing.T) {
	needKeyring(t)
	values := map[string]string{"MY_TOKEN": randomValue("ghp_"), "MY_KEY": pemValue()}
	items := map[string]string{}
	for name, v := range values {
		items[name] = storeItem(t, v)
	}
	var forms []string
	for f := range leakForms {
		forms = append(forms, f)
	}
	slices.Sort(forms)
	var attempts []leakAttempt
	for _, via := range leakVias {
		for _, f := range forms {
			attempts = append(attempts, leakAttempt{tag: fmt.Sprintf("L%03d", len(attempts)), name: "MY_TOKEN", form: f, via: via})
		}
		for _, f := range []string{"plain", "base64-offset-1"} {
			attempts = append(attempts, leakAttempt{tag: fmt.Sprintf("L%03d", len(attempts)), name: "MY_KEY", form: f, via: via})
		}
	}

	t.Run("redacted", func(t *testing.T) {
		profile := writeProfile(t, fmt.Sprintf("[secrets]\nMY_TOKEN = %q\nMY_KEY = %q\n", items["MY_TOKEN"], items["MY_KEY"]))
		run := runLeaks(t, profile, attempts)
		for name, v := range values {
			for i, f := range run.frames {
				if how := leaktest.Find(f, v); how != "" {
					t.Errorf("%s reached the client in frame %d (%s): %s", name, i, how, f)
				}
			}
			if how := leaktest.Find([]byte(run.stderr), v); how != "" {
				t.Errorf("%s is in mcpcell's stderr (%s)", name, how)
			}
			if how := leaktest.Find([]byte(run.audit), v); how != "" {
				t.Errorf("%s is in the audit log (%s)", name, how)
			}
		}
		shown := map[string]int{}
		for _, a := range attempts {
			// A note may cut the mark short: it is redacted first.
			out := run.out(a)
			if out == "" && noted(a.via) {
				continue // counted, not quoted: one note of a kind a second
			}
			shown[a.via]++
			cut := strings.Contains(out, "[redacted") && strings.Contains(out, "…")
			if !strings.Contains(out, "[redacted:"+a.name+"]") && !cut {
				t.Errorf("%s %s by %s: no redaction where it went: %q", a.name, a.form, a.via, out)
			}
		}
		for _, via := range leakVias {
			if shown[via] == 0 {
				t.Errorf("no attempt by %s was quoted at all, so the test proves nothing for it", via)
			}
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", run.stderr)
		}
	})

	t.Run("control", func(t *testing.T) {
		profile := writeProfile(t, fmt.Sprintf("[env]\nset = { MY_TOKEN = %q, MY_KEY = %q }\n", values["MY_TOKEN"], values["MY_KEY"]))
		run := runLeaks(t, profile, attempts)
		for _, a := range attempts {
			if run.out(a) == "" && noted(a.via) {
				continue // counted, not quoted (see above)
			}
			if leaktest.Find([]byte(run.out(a)), values[a.name]) == "" {
				t.Errorf("%s %s by %s: the attempt is not readable without redaction: %q", a.name, a.form, a.via, run.out(a))
			}
		}
	})
}

// TestRedactStderrNoteBetweenHalves is review 2's attack on the stderr
// holdback. The server writes the first part of a stacked form of a
// keyring secret to stderr (percent-escapes written as \u escapes, \u
// escapes of \u escapes, percent-escapes as \x escapes), cut inside an
// escape a third of the way in or halfway, then a non-JSON line on stdout,
// so that mcpcell writes a note on stderr, then the rest. Before the fix
// the first part (the value's first bytes) came out at once, before the
// note, and the rest after it: the client's log held the value in two
// pieces. Each attempt waits for a new window of notes, so that each gets
// its note at once. The control: the same value in [env], so nothing
// redacts: the note lands between the parts, and the attacker's reader
// finds the value.
func TestRedactStderrNoteBetweenHalves(t *testing.T) {
	needKeyring(t)
	value := randomValue("ghp_")
	item := storeItem(t, value)
	var attempts []leakAttempt
	for _, f := range []string{"percent-in-json-u", "json-u-in-json-u", "percent-in-x"} {
		text, _ := leakForms[f](value)
		// Where the holdback failed: inside an outer escape (4 or 6
		// bytes) that follows the start of an escape of the level below
		// (%6, \u0); 36 bytes are whole escapes of both levels in each
		// form, 17 and 29 past them such places in all three.
		for _, at := range []int{len(text)/3/36*36 + 17, len(text)/2/36*36 + 29} {
			attempts = append(attempts, leakAttempt{tag: fmt.Sprintf("N%03d", len(attempts)), name: "MY_TOKEN", form: f, via: "stderr-note", at: at, wait: jsonrpc.RepeatWindow + 100*time.Millisecond})
		}
	}
	attempts[0].wait = 0
	const note = "mcpcell: the server wrote a non-JSON line on stdout"
	for _, secret := range []bool{true, false} {
		t.Run(map[bool]string{true: "redacted", false: "control"}[secret], func(t *testing.T) {
			t.Parallel() // sessions of their own
			text := fmt.Sprintf("[secrets]\nMY_TOKEN = %q\n", item)
			if !secret {
				text = fmt.Sprintf("[env]\nset = { MY_TOKEN = %q }\n", value)
			}
			run := runLeaks(t, writeProfile(t, text), attempts)
			for _, a := range attempts {
				out := run.out(a)
				// The note came between the parts, or the attempt proves
				// nothing (a machine so loaded that the pauses were not
				// enough).
				if !strings.Contains(out, note) {
					t.Errorf("%s cut at %d: mcpcell's note is not between the parts: %q", a.form, a.at, out)
				}
				how := leaktest.Find([]byte(out), value)
				switch {
				case secret && (how != "" || !strings.Contains(out, "[redacted:MY_TOKEN]")):
					t.Errorf("%s cut at %d: the value leaks around the note (%s): %q", a.form, a.at, how, out)
				case !secret && how == "":
					t.Errorf("control: %s cut at %d: the reader does not find the value: %q", a.form, a.at, out)
				}
			}
			if how := leaktest.Find([]byte(run.stderr), value); secret && how != "" {
				t.Errorf("the value is in mcpcell's stderr (%s)", how)
			}
		})
	}
}

// TestNumericSecretRefused: a secret of digits (a card number, a PIN)
// could come back from the server as a JSON number, which redaction does
// not read, in spellings it could not list: so `secret set` refuses it,
// and so does run for an item another tool stored, before the server
// starts; neither prints the value. The control: the same value given
// to the server in [env], which is not redacted, reaches the client as
// the numbers 4111…, 4111….0 and 4.111…e15.
func TestNumericSecretRefused(t *testing.T) {
	needKeyring(t)
	value := "4111" + fmt.Sprint(100000000000+mrand.Int64N(900000000000))
	name := "test-pin-" + strings.ToLower(rand.Text()[:8])
	t.Cleanup(func() { keystore.Remove(keystore.Keyring{}, name) }) // should set store it after all
	cmd := mcpcellCmd("secret", "set", name)
	cmd.Stdin = strings.NewReader(value + "\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mcpcell: error: refusing a secret that is a number") || !strings.Contains(string(out), "mcpcell: hint: a number cannot be redacted") || strings.Contains(string(out), value) {
		t.Errorf("secret set of a number: %v\n%s", err, out)
	}
	if ls, _ := mcpcellCmd("secret", "ls").CombinedOutput(); strings.Contains(string(ls), name) {
		t.Errorf("secret ls lists the refused item:\n%s", ls)
	}
	if _, err := (keystore.Keyring{}).Get(keystore.Ref{Service: keystore.Service, User: name}); err == nil {
		t.Errorf("the refused value is in the keyring")
	}

	ref := keystore.Ref{Service: "other-tool", User: name}
	if err := (keystore.Keyring{}).Set(ref, value); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keystore.Keyring{}.Delete(ref) })
	profile := writeProfile(t, fmt.Sprintf("[secrets]\nMY_PIN = { service = %q, user = %q }\n", ref.Service, ref.User))
	out, err = cellCommand(t, profile, os.Args[0], "__fakeserver").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "MY_PIN is a number") || !strings.Contains(string(out), "mcpcell: hint: a number cannot be redacted") || strings.Contains(string(out), "fakeserver: pid") || strings.Contains(string(out), value) {
		t.Errorf("run with a number in the keyring: %v\n%s", err, out)
	}
	if out, err := mcpcellCmd("secret", "check", "--profile", profile).CombinedOutput(); err == nil || !strings.Contains(string(out), "is a number") || strings.Contains(string(out), value) {
		t.Errorf("secret check with a number: %v\n%s", err, out)
	}

	run := runLeaks(t, writeProfile(t, fmt.Sprintf("[env]\nset = { MY_PIN = %q }\n", value)), []leakAttempt{{tag: "N", name: "MY_PIN", form: "plain", via: "json-number"}})
	got := string(run.replies["N"])
	for _, n := range []string{value, value + ".0", value[:1] + "." + value[1:] + "e15"} {
		if !strings.Contains(got, ":"+n) {
			t.Errorf("control: the number %s did not reach the client: %s", n, got)
		}
	}
}

// Real servers, accidental leaks: server-everything's get-env returns its
// environment as JSON text (a value's quote and backslash escaped twice
// in the frame), and server-filesystem reads project files that hold the
// value as credential files do: a Docker auth (base64 of user:value, the
// value at an offset of 8), a .git-credentials URL (percent-encoded), a
// JSON file written by Python (non-ASCII as \u), a hex dump. On ba3479b
// every one of these reached the client. The control: without the
// secret, each file shows the value to the attacker's reader.
func TestRedactRealServers(t *testing.T) {
	needKeyring(t)
	nm := nodeModules(t)
	value := `sk-` + rand.Text()[:16] + `"\é/` + rand.Text()[:8]
	item := storeItem(t, value)
	py, _ := json.Marshal(value) // then ensure_ascii, as Python writes it
	files := map[string]string{
		"docker-config.json": `{"auths":{"ghcr.io":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("octocat:"+value)) + `"}}}`,
		".git-credentials":   "https://octocat:" + url.QueryEscape(value) + "@github.com\n",
		"creds.json":         `{"token": ` + strings.ReplaceAll(string(py), "é", `\u00e9`) + "}\n",
		"token.hex":          hex.EncodeToString([]byte(value)) + "\n",
	}
	for _, secret := range []bool{true, false} {
		name := map[bool]string{true: "redacted", false: "control"}[secret]
		t.Run(name, func(t *testing.T) {
			text := grantRead(nm)
			if secret {
				text += fmt.Sprintf("[secrets]\nAPI_KEY = %q\n", item)
			} else {
				text += fmt.Sprintf("[env]\nset = { API_KEY = %q }\n", value)
			}
			profile := writeProfile(t, text)
			project := filepath.Dir(profile)
			for f, content := range files {
				os.WriteFile(filepath.Join(project, f), []byte(content), 0o600)
			}
			outputs := map[string]string{}
			ctx, sess, stderr := connectSDK(t, cellCommand(t, profile, "node", filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js"), "stdio"), nil, "")
			res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "get-env", Arguments: map[string]any{}})
			if err != nil {
				t.Fatal(err)
			}
			outputs["get-env"] = textOf(res)
			ctx, fs, fsErr := connectSDK(t, cellCommand(t, profile, "node", filepath.Join(nm, "@modelcontextprotocol/server-filesystem/dist/index.js"), project), nil, "")
			for f := range files {
				res, err := fs.CallTool(ctx, &mcp.CallToolParams{Name: "read_text_file", Arguments: map[string]any{"path": filepath.Join(project, f)}})
				if err != nil || res.IsError {
					t.Fatalf("read_text_file %s: %v %s", f, err, textOf(res))
				}
				outputs[f] = textOf(res)
			}
			for what, out := range outputs {
				how := leaktest.Find([]byte(out), value)
				switch {
				case secret && (how != "" || !strings.Contains(out, "[redacted:API_KEY]")):
					t.Errorf("%s reached the client (%s):\n%s", what, how, out)
				case !secret && how == "":
					t.Errorf("control: %s does not show the value:\n%s", what, out)
				}
			}
			for _, e := range []string{stderr.String(), fsErr.String()} {
				if how := leaktest.Find([]byte(e), value); how != "" {
					t.Errorf("the value is in mcpcell's stderr (%s)", how)
				}
			}
		})
	}
}
