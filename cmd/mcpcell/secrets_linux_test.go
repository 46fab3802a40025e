package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpcell/mcpcell/internal/syncbuf"
	"github.com/mcpcell/mcpcell/keystore"
)

// needKeyring skips (in CI: fails) without a Secret Service on a session
// bus, and proves the one there answers.
func needKeyring(t *testing.T) {
	t.Helper()
	bus := os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	need(t, "a Secret Service (gnome-keyring-daemon under dbus-run-session, as .ci/test starts it)", bus != "")
	probe := keystore.Ref{Service: "mcpcell-test", User: "probe"}
	err := keystore.Keyring{}.Set(probe, "probe-value-123")
	if err == nil {
		keystore.Keyring{}.Delete(probe)
	}
	need(t, fmt.Sprintf("a working Secret Service on %s (%v)", bus, err), err == nil)
}

// mcpcellCmd runs the CLI as a process.
func mcpcellCmd(args ...string) *exec.Cmd {
	return exec.Command(os.Args[0], append([]string{"__mcpcell"}, args...)...)
}

// storeSecret puts a fresh item into the keyring through `mcpcell secret
// set`, fed on stdin, and removes it after the test.
func storeSecret(t *testing.T, value string) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "test-" + hex.EncodeToString(b[:])
	cmd := mcpcellCmd("secret", "set", name)
	cmd.Stdin = strings.NewReader(value + "\n")
	if out, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(out), value) {
		t.Fatalf("secret set: %v\n%s", err, out)
	}
	t.Cleanup(func() { mcpcellCmd("secret", "rm", name).Run() })
	return name
}

func TestSecretsEndToEnd(t *testing.T) {
	needKeyring(t)
	value := "ghp_" + strings.Repeat("Zx9", 12)
	item := storeSecret(t, value)
	sum := sha256.Sum256([]byte(value))

	path := writeProfile(t, fmt.Sprintf("[secrets]\nMY_TOKEN = %q\n", item))
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	// The server got the real value...
	if got := resultText(s.call(1, "tools/call", `{"name":"env_hash","arguments":{"name":"MY_TOKEN"}}`)); got != hex.EncodeToString(sum[:]) {
		t.Errorf("the server's MY_TOKEN hashes to %s, want the stored value's", got)
	}
	// ...and what it sends back, plain, JSON-quoted or base64, does not.
	echo := resultText(s.call(2, "tools/call", `{"name":"echo_env","arguments":{"name":"MY_TOKEN"}}`))
	if strings.Contains(echo, "Zx9Zx9") || strings.Count(echo, "[redacted:MY_TOKEN]") != 3 {
		t.Errorf("echo_env reached the client as %q", echo)
	}
	s.call(3, "tools/call", `{"name":"stderr_env","arguments":{"name":"MY_TOKEN"}}`)
	waitFor(t, s, "my token is [redacted:MY_TOKEN], really")
	// A value in a request the client makes reaches the audit log redacted.
	s.call(4, "resources/read", fmt.Sprintf(`{"uri":"file:///x/%s"}`, value))
	s.in.Close()
	s.cmd.Wait()
	logs, _ := filepath.Glob(filepath.Join(filepath.Dir(path)+"-xdg", "state", "mcpcell", "audit", "*.jsonl"))
	audit, _ := os.ReadFile(logs[0])
	for what, text := range map[string]string{"stderr": s.stderr.String(), "audit log": string(audit)} {
		if strings.Contains(text, "Zx9Zx9") {
			t.Errorf("the value is in mcpcell's %s:\n%s", what, text)
		}
	}
	if !strings.Contains(string(audit), "[redacted:MY_TOKEN]") {
		t.Errorf("the audit log shows no redaction:\n%s", audit)
	}
	// check shows the reference, never the value.
	out, _ := mcpcellCmd("check", "--profile", path).CombinedOutput()
	if strings.Contains(string(out), "Zx9Zx9") || !strings.Contains(string(out), item) {
		t.Errorf("check output:\n%s", out)
	}
}

// The real server-everything's get-env reaches the client redacted.
func TestSecretsServerEverything(t *testing.T) {
	needKeyring(t)
	nm := nodeModules(t)
	value := "sk-" + strings.Repeat("Qq7", 10)
	item := storeSecret(t, value)
	profile := writeProfile(t, grantRead(nm)+fmt.Sprintf("[secrets]\nAPI_KEY = %q\n", item))
	ctx, sess, _ := connectSDK(t, cellCommand(t, profile, "node", filepath.Join(nm, "@modelcontextprotocol/server-everything/dist/index.js"), "stdio"), nil, "")
	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "get-env", Arguments: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	env := textOf(res)
	if strings.Contains(env, "Qq7Qq7") || !strings.Contains(env, "[redacted:API_KEY]") {
		t.Errorf("get-env through mcpcell:\n%s", env)
	}
}

// The keyring stays out of the cell: a server under the default profile
// that knows the bus address cannot read an item that mcpcell, outside the
// cell, resolves.
func TestKeyringOutOfCell(t *testing.T) {
	needKeyring(t)
	value := "xoxb-" + strings.Repeat("k3y", 8)
	item := storeSecret(t, value)
	path := writeProfile(t, fmt.Sprintf("[secrets]\nSLACK = %q\n[env]\nset = { DBUS_SESSION_BUS_ADDRESS = %q }\n", item, os.Getenv("DBUS_SESSION_BUS_ADDRESS")))
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	sum := sha256.Sum256([]byte(value))
	if got := resultText(s.call(1, "tools/call", `{"name":"env_hash","arguments":{"name":"SLACK"}}`)); got != hex.EncodeToString(sum[:]) {
		t.Errorf("mcpcell did not resolve the item for the server")
	}
	got := resultText(s.call(2, "tools/call", fmt.Sprintf(`{"name":"keyring_get","arguments":{"item":%q}}`, item)))
	if !strings.HasPrefix(got, "denied") {
		t.Errorf("inside the cell the keyring answered: %s", got)
	}
	// The control: the same call outside the cell works.
	v, err := keystore.Keyring{}.Get(keystore.Ref{Service: keystore.Service, User: item})
	if err != nil || v != value {
		t.Errorf("outside the cell: %v", err)
	}
	t.Logf("inside the cell: %s", got)
}

func TestSecretFailures(t *testing.T) {
	needKeyring(t)
	// A missing item names the secret and the fix; the server never starts.
	path := writeProfile(t, "[secrets]\nTOKEN = \"no-such-item-4711\"\n")
	out, err := cellCommand(t, path, os.Args[0], "__fakeserver").CombinedOutput()
	if err == nil || !strings.Contains(string(out), `mcpcell: error: secret no-such-item-4711 is not in the keyring (service mcpcell)`) || !strings.Contains(string(out), "mcpcell: hint: mcpcell secret set no-such-item-4711") || strings.Contains(string(out), "fakeserver: pid") {
		t.Errorf("missing secret: %v\n%s", err, out)
	}
	// A value too short to redact is refused, by set and by run.
	cmd := mcpcellCmd("secret", "set", "short-one")
	cmd.Stdin = strings.NewReader("abc\n")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "shorter than 8 bytes") {
		t.Errorf("secret set of a short value: %v\n%s", err, out)
	}
	cmd = mcpcellCmd("secret", "set", "empty-one")
	cmd.Stdin = strings.NewReader("\n")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "empty") {
		t.Errorf("secret set of an empty value: %v\n%s", err, out)
	}
	short := keystore.Ref{Service: keystore.Service, User: "short-planted"}
	keystore.Keyring{}.Set(short, "12345")
	defer keystore.Keyring{}.Delete(short)
	path = writeProfile(t, "[secrets]\nTOKEN = \"short-planted\"\n")
	if out, err := cellCommand(t, path, os.Args[0], "__fakeserver").CombinedOutput(); err == nil || !strings.Contains(string(out), "shorter than 8 bytes, too short to redact") {
		t.Errorf("run with a short secret: %v\n%s", err, out)
	}
	// ls shows names only; rm takes them out.
	item := storeSecret(t, "a-long-enough-value")
	out, _ = mcpcellCmd("secret", "ls").CombinedOutput()
	if !strings.Contains(string(out), item) || strings.Contains(string(out), "a-long-enough-value") {
		t.Errorf("secret ls:\n%s", out)
	}
	out, err = mcpcellCmd("secret", "check", "--profile", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "TOKEN") {
		t.Errorf("secret check with a bad item: %v\n%s", err, out)
	}
	mcpcellCmd("secret", "rm", item).Run()
	out, _ = mcpcellCmd("secret", "ls").CombinedOutput()
	if strings.Contains(string(out), item) {
		t.Errorf("after rm, ls still shows %s", item)
	}
}

// A reference to an item another tool keeps: { service, user }.
func TestSecretOfAnotherTool(t *testing.T) {
	needKeyring(t)
	ref := keystore.Ref{Service: "gh:github.com", User: "octocat"}
	value := "gho_" + strings.Repeat("other", 6)
	if err := (keystore.Keyring{}).Set(ref, value); err != nil {
		t.Fatal(err)
	}
	defer keystore.Keyring{}.Delete(ref)
	path := writeProfile(t, "[secrets]\nGH = { service = \"gh:github.com\", user = \"octocat\" }\n")
	s := startSession(t, cellCommand(t, path, os.Args[0], "__fakeserver"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`)
	sum := sha256.Sum256([]byte(value))
	if got := resultText(s.call(1, "tools/call", `{"name":"env_hash","arguments":{"name":"GH"}}`)); got != hex.EncodeToString(sum[:]) {
		t.Errorf("GH did not come from gh:github.com/octocat")
	}
}

// Each way the keyring can be out of reach gets its own message and fix,
// against real parts: no bus at all, and a bus without a Secret Service (a
// private dbus-daemon that can activate nothing; the system one would try
// gnome-keyring for two minutes). A locked collection needs an unlock
// prompt nobody can answer, which only times out: keystore's TestClassify
// holds its message.
func TestKeyringUnavailable(t *testing.T) {
	daemon, err := exec.LookPath("dbus-daemon")
	need(t, "dbus-daemon (package dbus)", err == nil)
	conf := filepath.Join(t.TempDir(), "bus.conf")
	os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+filepath.Dir(conf)+`</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o644)
	bus := exec.Command(daemon, "--config-file="+conf, "--nofork", "--print-address=1")
	out, _ := bus.StdoutPipe()
	if err := bus.Start(); err != nil {
		t.Fatal(err)
	}
	defer bus.Process.Kill()
	buf := make([]byte, 512)
	n, _ := out.Read(buf)
	address := strings.TrimSpace(string(buf[:n]))

	path := writeProfile(t, "[secrets]\nTOKEN = \"whatever-item\"\n")
	for _, c := range []struct {
		name, bus, error, hint string
	}{
		{"no bus", "unix:path=/nonexistent/bus", "no D-Bus session bus, so no keyring", "dbus-run-session"},
		{"no Secret Service", address, "no Secret Service on the session bus", "gnome-keyring-daemon --start"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := cellCommand(t, path, os.Args[0], "__fakeserver")
			cmd.Env = append(cmd.Env, "DBUS_SESSION_BUS_ADDRESS="+c.bus)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "mcpcell: error: "+c.error) || !strings.Contains(string(out), "mcpcell: hint: ") || !strings.Contains(string(out), c.hint) || strings.Contains(string(out), "fakeserver: pid") {
				t.Errorf("got %v:\n%s", err, out)
			}
		})
	}
}

// secret set on a terminal reads without echo: the value typed never
// shows on the terminal, and reaches the keyring.
func TestSecretSetOnTerminal(t *testing.T) {
	needKeyring(t)
	script, err := exec.LookPath("script")
	need(t, "script (util-linux), for a pseudo-terminal", err == nil)
	var b [6]byte
	rand.Read(b[:])
	name := "tty-" + hex.EncodeToString(b[:])
	defer mcpcellCmd("secret", "rm", name).Run()
	value := "typed-on-a-terminal-0123"
	cmd := exec.Command(script, "-q", "-e", "-c", os.Args[0]+" __mcpcell secret set "+name, "/dev/null")
	in, _ := cmd.StdinPipe()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Type only once the prompt is up (and echo off): what a person does.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(out.String(), "(not echoed)"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt: %q", out.String())
		}
	}
	time.Sleep(200 * time.Millisecond)
	io.WriteString(in, value+"\r")
	err = cmd.Wait()
	if err != nil || strings.Contains(out.String(), value) {
		t.Fatalf("secret set on a terminal: %v\n%q", err, out.String())
	}
	if got, err := (keystore.Keyring{}).Get(keystore.Ref{Service: keystore.Service, User: name}); err != nil || got != value {
		t.Errorf("keyring holds %q, %v", got, err)
	}
}
