package clientconf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func parse(t *testing.T, c Client, path, text string) *File {
	t.Helper()
	f, err := Parse(c, path, []byte(text), nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func none(string) bool { return false }

// Credentials by form: each value, and what of it is the secret.
func TestSecretSpans(t *testing.T) {
	for _, c := range []struct{ value, masked string }{
		// The review's: a password in a URL, a webhook URL.
		{"postgres://admin:ENVURLpassw0rd-0004@db.internal/prod", "postgres://admin:****@db.internal/prod"},
		{"https://hooks.slack.com/services/T0000/B0000/WEBHOOK0005secret", "https://hooks.slack.com/****"},
		// Neighbours: other schemes and forms of a password in a URL.
		{"redis://:hunter2hunter@localhost:6379", "redis://:****@localhost:6379"},
		{"mongodb+srv://u:p%40ss@cluster0.x.mongodb.net/db?retryWrites=true", "mongodb+srv://u:****@cluster0.x.mongodb.net/db?retryWrites=true"},
		{"amqp://guest:s3cr3tpw@mq:5672/", "amqp://guest:****@mq:5672/"},
		{"postgres://u:p@ss@host/db", "postgres://u:****@host/db"},
		{"postgres://${USER}:hunter22@h/db", "postgres://${USER}:****@h/db"},
		{"user:pw123456@tcp(127.0.0.1:3306)/db", "user:****@tcp(127.0.0.1:3306)/db"},
		{"https://x-access-token:ghs_abcdefgh@github.com/x", "https://x-access-token:****"}, // a credential-named user: all after it
		{"https://ghp_abcdefghijklmnopqrstuvwxyz@github.com/org/repo.git", "https://****@github.com/org/repo.git"},
		{"https://abcdef0123456789abcdef0123456789@o123.ingest.sentry.io/123", "https://****@o123.ingest.sentry.io/123"},
		// Webhooks and tokens in a URL's path or query.
		{"https://discord.com/api/webhooks/123456/abcdefABCDEF-token", "https://discord.com/****"},
		{"https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456", "https://acme.webhook.office.com/****"},
		{"https://api.telegram.org/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ/sendMessage", "https://api.telegram.org/****"},
		{"https://chat.example.com/hooks/abcdefghijklmnopqrstuvwxyz", "https://chat.example.com/****"},
		{"https://example.com/api?api_key=abc123456&x=1", "https://example.com/api?api_key=****&x=1"},
		{"https://x.logic.azure.com/workflows/a/triggers/manual/paths/invoke?api-version=1&sig=ABCDEFGHIJKL", "https://x.logic.azure.com/workflows/a/triggers/manual/paths/invoke?api-version=1&sig=****"},
		{"https://s3.amazonaws.com/b/k?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=abcdef0123", "https://s3.amazonaws.com/b/k?X-Amz-Credential=****&X-Amz-Signature=****"},
		// Tokens by prefix, whole or inside a string.
		{"ghp_abcdefghijklmnop", "****"},
		{"sk-proj-ARGSKEY0003abcdefghijkl", "****"},
		{"xoxb-1234567890-abcdefghij", "****"},
		{"AKIAIOSFODNN7EXAMPLE", "****"},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", "****"},
		{"--token=ghp_abcdefghijklmnopqrstuvwxyz", "--token=****"},
		{"use ghp_abcdefghijklmnopqrstuvwxyz here", "use **** here"},
		// Named values: headers, connection strings, embedded JSON.
		{"Authorization: Bearer abcdefghijkl", "Authorization: Bearer ****"},
		{"X-Api-Key: abcdefgh1234", "X-Api-Key: ****"},
		{"--api-key=abcdefgh1234", "--api-key=****"},
		{"GITHUB_TOKEN=abcdefgh1234", "GITHUB_TOKEN=****"},
		{"Server=db;Database=x;User Id=sa;Password=Secr3t!;", "Server=db;Database=x;User Id=sa;Password=****;"},
		{"host=localhost password=secret123 dbname=x", "host=localhost password=**** dbname=x"},
		{`{"apiKey":"abcd1234efgh"}`, `{"apiKey":"****"}`},
		{"-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----", "****"},
		// None: references, names, paths, plain URLs, image digests.
		{"postgres://u:${PW}@h/db", ""},
		{"Authorization: Bearer ${TOKEN}", ""},
		{"Authorization:${AUTH_HEADER}", ""},
		{"TOKEN=${X} --verbose", ""},
		{"https://${GITHUB_PERSONAL_ACCESS_TOKEN}@github.com/x", ""},
		{"postgres://postgres@localhost/db", ""},
		{"https://user@example.com/", ""},
		{"ghcr.io/github/github-mcp-server:v1@sha256:abcdef", ""},
		{"redis:7@sha256:abcdef", ""},
		{"Tr0ub4dor$Horse-0006", ""}, // a credential by its name only
		{"@modelcontextprotocol/server-github", ""},
		{"https://api.github.com", ""},
		{"https://mcp.example.com/sse", ""},
		{"https://github.com/org/repo/settings/hooks/12345", ""},
		{"sk-learn", ""},
		{"task-runner-abcdefghijklmnopqrst", ""},
		{"KEYBOARD=us", ""},
		{"--token-file=/run/secrets/token", ""},
		{"description: the GitHub token", ""},
		{"- Fixed token: refresh on expiry", ""},
		{"password: required", ""},
		{"file:///a/b", ""},
		{"8080", ""},
	} {
		got := ""
		if sp := secretSpans(c.value); sp != nil {
			got = masked(c.value, sp)
		}
		if got != c.masked {
			t.Errorf("secretSpans(%q) masks it as %q, want %q", c.value, got, c.masked)
		}
	}
}

func TestArgCredentials(t *testing.T) {
	args := []string{"-y", "some-mcp", "--api-key", "sk-proj-abcdefghijklmnop", "--password", "hunter2", "--token", "${T}", "--token-file", "/run/tok",
		"postgresql://admin:pw-0002@db/prod", "-e", "API_KEY=abcdefgh", "-e", "GITHUB_TOKEN", "--header", "Authorization: Bearer ${AUTH}", "--port", "8080", "--pat", "--verbose"}
	var got []string
	for _, c := range argCredentials(args) {
		got = append(got, fmt.Sprintf("%d %q after %q %q", c.Index, c.Masked, c.After, c.Parts))
	}
	want := []string{
		`3 "****" after "--api-key" ["sk-proj-abcdefghijklmnop"]`,
		`5 "****" after "--password" ["hunter2"]`,
		`10 "postgresql://admin:****@db/prod" after "" ["pw-0002"]`,
		`12 "API_KEY=****" after "" ["abcdefgh"]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("argCredentials:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Only braced references are references, and only for the clients that
// fill them in; credentials by form move like those by name; nothing
// that holds a credential goes into [env] set.
func TestClassify(t *testing.T) {
	for _, c := range []struct {
		client     Client
		key, value string
		want       envKind
	}{
		// The review's: an unbraced $ is no reference for any client.
		{ClaudeDesktop, "DB_PASSWORD", "Tr0ub4dor$Horse-0006", envSecret},
		{ClaudeCode, "DB_PASSWORD", "Tr0ub4dor$Horse-0006", envSecret},
		{VSCode, "DB_PASSWORD", "Tr0ub4dor$Horse-0006", envSecret},
		{Cursor, "DB_PASSWORD", "$ecretValue-123", envSecret},
		{ClaudeCode, "MODE", "$fast", envSet},
		// By form, whatever the name.
		{ClaudeDesktop, "DATABASE_URL", "postgres://admin:ENVURLpassw0rd-0004@db.internal/prod", envSecret},
		{ClaudeDesktop, "SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0000/B0000/WEBHOOK0005secret", envSecret},
		{ClaudeDesktop, "HEADERS", "Authorization: Bearer abcdefghijkl", envSecret},
		{ClaudeDesktop, "GITHUB_API_URL", "https://api.github.com", envSet},
		// Braced references, for the clients that fill them in.
		{ClaudeCode, "API_TOKEN", "${API_TOKEN}", envRef},
		{ClaudeCode, "API_TOKEN", "${API_TOKEN:-none}", envRef},
		{VSCode, "API_TOKEN", "${input:token}", envRef},
		{Cursor, "API_TOKEN", "${env:TOKEN}", envRef},
		{ClaudeCode, "DATABASE_URL", "postgres://u:${PW}@db/prod", envRef},
		{ClaudeCode, "API_KEY", "Bearer ${TOKEN}", envRef},
		// A credential next to a reference cannot move.
		{ClaudeCode, "DATABASE_URL", "postgres://u:hunter22@db/${DB}", envRefSecret},
		{VSCode, "DB_PASSWORD", "${input:prefix}Tr0ub4dor-horse", envRefSecret},
		// Claude Desktop fills in nothing: "${…}" is text.
		{ClaudeDesktop, "API_TOKEN", "${API_TOKEN}", envSecret},
		{ClaudeDesktop, "DATA", "${HOME}/data", envLiteral},
		{ClaudeCode, "DATA", "half ${ open", envLiteral},
		// Short ones stay, empty ones are none.
		{ClaudeDesktop, "PGPASSWORD", "abc", envShort},
		// Numbers stay too: mcpcell refuses them as secrets.
		{ClaudeDesktop, "PGPASSWORD", "4111111111111111", envNumber},
		{ClaudeDesktop, "DB_PASSWORD", "12345678.0", envNumber},
		{ClaudeDesktop, "DB_PASSWORD", "1234-5678-9012", envSecret},
		{ClaudeDesktop, "PGPASSWORD", "", envSet},
		{ClaudeDesktop, "X", "mcpcell-keyring:x", envMarker},
	} {
		if got := classify(c.client, KV{c.key, c.value}); got != c.want {
			t.Errorf("%s %s=%q: %d, want %d", c.client, c.key, c.value, got, c.want)
		}
	}
}

// The profile wrap writes holds no credential (not in its comment, not in
// [env] set), and nothing from the config can add a line to it.
func TestProfileTextHoldsNoCredential(t *testing.T) {
	text := `{"mcpServers": {
  "db": {"command": "/opt/db/bin/server", "args": ["--db", "postgresql://admin:ARGpassw0rd-0002@db/prod", "--api-key", "sk-proj-ARGSKEY0003abcdefghijkl", "-e", "SECRET=abcdefgh0007", "/opt/db/data",
     "x\n[network]\nports = [22]\n#", "--name=\"y\"\u2028z"],
    "env": {"DATABASE_URL": "postgres://admin:ENVURLpassw0rd-0004@db.internal/prod", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0000/B0000/WEBHOOK0005secret",
      "DB_PASSWORD": "Tr0ub4dor$Horse-0006", "MODE": "fast\n[network]\nports = [23]", "CTRL": "a\u0007b\u007fc"}}}}`
	f := parse(t, ClaudeDesktop, "/h/.config/Claude/claude_desktop_config.json", text)
	dirs := map[string]bool{"/opt/db/data": true}
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/cfg", Exists: func(p string) bool { return dirs[p] || p == "/opt/db/bin/server" }, IsDir: func(p string) bool { return dirs[p] }, WideWrite: func(string) string { return "" }, Sensitive: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	prof := servers[0].ProfileText
	for _, v := range []string{"ARGpassw0rd-0002", "ARGSKEY0003", "abcdefgh0007", "ENVURLpassw0rd-0004", "WEBHOOK0005secret", "Tr0ub4dor"} {
		if strings.Contains(prof, v) {
			t.Errorf("the profile holds %s:\n%s", v, prof)
		}
	}
	if !strings.Contains(prof, `# The server: /opt/db/bin/server --db postgresql://admin:****@db/prod --api-key **** -e SECRET=**** /opt/db/data "x\n[network]\nports = [22]\n#" "--name=\"y\"\u2028z"`) {
		t.Errorf("the comment:\n%s", prof)
	}
	// The profile is what wrap meant: these keys and no others.
	var got map[string]any
	md, err := toml.Decode(prof, &got)
	if err != nil {
		t.Fatalf("the profile does not parse: %v\n%s", err, prof)
	}
	var keys []string
	for _, k := range md.Keys() {
		keys = append(keys, k.String())
	}
	want := "include filesystem filesystem.read filesystem.write filesystem.exec env env.set env.set.MODE env.set.CTRL secrets secrets.DATABASE_URL secrets.SLACK_WEBHOOK_URL secrets.DB_PASSWORD"
	if strings.Join(keys, " ") != want {
		t.Errorf("keys %s\nwant %s\n%s", strings.Join(keys, " "), want, prof)
	}
	set := got["env"].(map[string]any)["set"].(map[string]any)
	if set["MODE"] != "fast\n[network]\nports = [23]" || set["CTRL"] != "a\u0007b\u007fc" {
		t.Errorf("[env] set: %q", set)
	}
}

// Env names that a profile could not hold are no way into it either: the
// entry is left alone, as are those whose members wrap would read wrong.
func TestWrapLeavesEntriesItCannotRead(t *testing.T) {
	text := `{"mcpServers": {
  "port": {"command": "node", "env": {"PORT": 8080, "TOKEN": "abcdefgh12345"}},
  "inject": {"command": "node", "env": {"TOKEN = \"x\"\n[network]\nports = [22]\n#": "abcdefgh12345"}},
  "args": {"command": "node", "args": ["a", 1]},
  "envlist": {"command": "node", "env": ["A=B"]},
  "cmd": {"command": ["node"]},
  "ok": {"command": "node", "env": {"PORT": "8080"}}}}`
	f := parse(t, ClaudeCode, "/r/.mcp.json", text)
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", Exists: none, IsDir: none})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range servers {
		got = append(got, s.Entry.Name+": "+s.Action)
	}
	want := []string{
		"port: left alone: env PORT is a number, not a string: write it in quotes and wrap again",
		`inject: left alone: env "TOKEN = \"x\"\n[network]\nports = [22]\n#" is not a variable name a profile can set or pass`,
		"args: left alone: its args are not a list of strings",
		"envlist: left alone: its env is an array, not an object",
		"cmd: left alone: its command is an array, not a string",
		"ok: wrap",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("actions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Everything but the entry wrap can read stays byte for byte.
	out := string(f.Apply(Edits(servers)))
	before, _, _ := strings.Cut(text, `  "ok"`)
	if !strings.HasPrefix(out, before) {
		t.Errorf("entries left alone changed:\n%s", out)
	}
	// Unwrap leaves them alone too.
	servers, _ = PlanUnwrap(f, UnwrapOptions{Mcpcell: "/bin/mcpcell"})
	if servers[0].Action != "left alone: env PORT is a number, not a string: write it in quotes and wrap again" {
		t.Errorf("unwrap: %s", servers[0].Action)
	}
}

// Two servers never share a profile: not when their names differ only in
// characters a file name cannot hold, nor only in case; and no name
// reaches out of its folder.
func TestProfilePathsDistinct(t *testing.T) {
	text := `{"mcpServers": {"a b": {"command": "x"}, "a-b": {"command": "x"}, "a/b": {"command": "x"}, "..": {"command": "x"}, ".": {"command": "x"}, "": {"command": "x"}},
 "projects": {"/p": {"mcpServers": {"a b": {"command": "x"}, "a-b": {"command": "x"}, "..": {"command": "x"}}}, "/p/": {"mcpServers": {"a-b": {"command": "x"}}}}}`
	f := parse(t, ClaudeCode, "/h/.claude.json", text)
	servers, err := PlanWrap(f, WrapOptions{Mcpcell: "/bin/mcpcell", ConfigDir: "/cfg", Exists: none, IsDir: none})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, s := range servers {
		p := strings.ToLower(s.Profile)
		if other, ok := seen[p]; ok {
			t.Errorf("%q and %q share %s", other, s.Entry.Name, s.Profile)
		}
		seen[p] = s.Entry.Name
		dir := "/cfg/wrapped/claude-code/"
		if s.Entry.Project != "" {
			dir = "/p/.mcpcell."
		}
		if !strings.HasPrefix(s.Profile, dir) || strings.Contains(strings.TrimPrefix(s.Profile, dir), "..") {
			t.Errorf("%q: profile %s outside %s", s.Entry.Name, s.Profile, dir)
		}
	}
	if servers[1].Profile != "/cfg/wrapped/claude-code/a-b/.mcpcell.toml" || servers[7].Profile != "/p/.mcpcell.a-b.toml" {
		t.Errorf("a plain name is not its own file name: %s, %s", servers[1].Profile, servers[7].Profile)
	}
}

// Whatever the string, the spans found are inside it, in order, apart,
// and masking them leaves none of their text.
func FuzzSecretSpans(f *testing.F) {
	for _, s := range []string{"postgres://u:pw@h/db", "Authorization: Bearer abcdefghijk", "x?token=abc&key=${K}", "https://hooks.slack.com/services/a/b", "ghp_" + strings.Repeat("a", 20), "-----BEGIN RSA PRIVATE KEY-----\nx", "a:b@tcp(h)", "${X}:${Y}@z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spans := secretSpans(s)
		end := 0
		for _, sp := range spans {
			if sp.start < end || sp.end <= sp.start || sp.end > len(s) {
				t.Fatalf("spans %v of %q", spans, s)
			}
			end = sp.end + 1
		}
		m := masked(s, spans)
		for _, sp := range spans {
			if part := s[sp.start:sp.end]; len(part) >= 8 && !strings.Contains(strings.ReplaceAll(s, part, ""), part) && strings.Contains(m, part) {
				t.Fatalf("masked %q still holds %q", m, part)
			}
		}
	})
}
