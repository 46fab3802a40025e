package keystore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

func TestSecretNeverPrints(t *testing.T) {
	s := New("GITHUB_TOKEN", "ghp_supersecretvalue")
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "s", s)
	for _, got := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s), fmt.Sprintf("%v", []Secret{s}), fmt.Sprintf("%+v", struct{ S Secret }{s}), logs.String()} {
		if strings.Contains(got, "supersecret") || !strings.Contains(got, "[secret GITHUB_TOKEN]") {
			t.Errorf("printed %q", got)
		}
	}
	if s.Value() != "ghp_supersecretvalue" {
		t.Errorf("Value lost the value")
	}
}

func redactor() *Redactor {
	return NewRedactor(map[string]Secret{
		"A": New("A", "ghp_AAAAAAAAAAAA/quote\"back\\slash<tag>é"),
		"B": New("B", "plain-token-12345"),
	})
}

func TestRedactFrameForms(t *testing.T) {
	r := redactor()
	a := "ghp_AAAAAAAAAAAA/quote\"back\\slash<tag>é"
	goJSON, _ := json.Marshal(a)
	for _, form := range []string{
		string(goJSON[1 : len(goJSON)-1]), // Go: \u003c for <
		escape(a, false, false),           // JavaScript
		escape(a, false, true),            // Python ensure_ascii
		strings.ReplaceAll(escape(a, false, false), "/", `\/`),
		base64.StdEncoding.EncodeToString([]byte(a)),
		base64.RawURLEncoding.EncodeToString([]byte(a)),
		"plain-token-12345",
		base64.StdEncoding.EncodeToString([]byte("plain-token-12345")),
	} {
		frame := []byte(`{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"env: X=` + form + ` and more"}]}}`)
		if err := jsonrpc.Validate(frame); err != nil {
			t.Fatalf("fixture %q is not valid JSON: %v", form, err)
		}
		got := r.Frame(frame)
		if err := jsonrpc.Validate(got); err != nil {
			t.Errorf("form %q: redacted frame is invalid: %v: %s", form, err, got)
		}
		var m struct {
			Result struct{ Content []struct{ Text string } }
		}
		json.Unmarshal(got, &m)
		text := m.Result.Content[0].Text
		if strings.Contains(text, "AAAAAAAAAAAA") || strings.Contains(text, "plain-token") || strings.Contains(string(got), base64.StdEncoding.EncodeToString([]byte(a))[:16]) {
			t.Errorf("form %q: the value survived: %s", form, text)
		}
		if !strings.Contains(text, "[redacted:") || !strings.HasPrefix(text, "env: X=") || !strings.HasSuffix(text, " and more") {
			t.Errorf("form %q: text became %q", form, text)
		}
	}
}

func TestRedactUntouched(t *testing.T) {
	r := redactor()
	frame := []byte(`{"jsonrpc":"2.0","id":1,"result":{"text":"nothing here \u003c"}}`)
	if got := r.Frame(frame); &got[0] != &frame[0] {
		t.Errorf("a frame without secrets was copied")
	}
	var nilR *Redactor
	if got := nilR.Frame(frame); string(got) != string(frame) {
		t.Errorf("nil redactor changed a frame")
	}
}

func TestRedactWriter(t *testing.T) {
	r := redactor()
	var out bytes.Buffer
	w := r.Writer(&out)
	// The value arrives split across writes, and in a line longer than
	// the line bound.
	long := strings.Repeat("x", longLine+10) + "plain-tok"
	for _, chunk := range []string{"error: token plain-", "token-12345 failed\n", long, "en-12345 end\n", "tail plain-token-12345"} {
		w.Write([]byte(chunk))
	}
	w.Close()
	if strings.Contains(out.String(), "plain-token-12345") || strings.Count(out.String(), "[redacted:B]") != 3 {
		t.Errorf("writer output leaks or lost redactions: %d redactions, leak=%v", strings.Count(out.String(), "[redacted:B]"), strings.Contains(out.String(), "plain-token-12345"))
	}
}

// FuzzRedactFrame: a redacted frame is valid JSON, holds no raw value, and
// decodes like the original wherever no secret was.
func FuzzRedactFrame(f *testing.F) {
	f.Add([]byte(`{"a":"plain-token-12345","b":["x plain-token-12345 y",1]}`), "plain-token-12345")
	f.Add([]byte(`{"k\"plain-token-12345":"\\plain-token-12345"}`), "plain-token-12345")
	f.Add([]byte(`{"a":"\\nfoo-bar-baz"}`), "\nfoo-bar-baz")
	f.Fuzz(func(t *testing.T, frame []byte, secret string) {
		if len(secret) < MinLength || !utf8Valid(secret) || jsonrpc.Validate(frame) != nil {
			return
		}
		r := NewRedactor(map[string]Secret{"S": New("S", secret)})
		got := r.Frame(frame)
		if err := jsonrpc.Validate(got); err != nil {
			t.Fatalf("redacting %q from %s gave invalid JSON: %v: %s", secret, frame, err, got)
		}
		var v any
		json.Unmarshal(got, &v)
		b, _ := json.Marshal(v)
		if containsDecoded(v, secret) {
			t.Fatalf("the value %q survives in %s", secret, b)
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

// memStore is a keyring in memory, for the index logic only; the real
// keyring is tested against the Secret Service in keyring_test.go.
type memStore map[Ref]string

func (m memStore) Get(r Ref) (string, error) {
	v, ok := m[r]
	if !ok {
		return "", &Error{Msg: "missing", Err: ErrNotFound}
	}
	return v, nil
}
func (m memStore) Set(r Ref, v string) error { m[r] = v; return nil }
func (m memStore) Delete(r Ref) error {
	if _, ok := m[r]; !ok {
		return &Error{Msg: "missing", Err: ErrNotFound}
	}
	delete(m, r)
	return nil
}

func TestIndexAndRules(t *testing.T) {
	m := memStore{}
	for _, c := range []struct{ name, value, err string }{
		{"github", "", "empty"},
		{"github", "short", "shorter than 8"},
		{".mcpcell-index", "longenough", "not a usable"},
		{"github", "ghp_0123456789", ""},
		{"slack", "xoxb-0123456789", ""},
	} {
		err := Put(m, c.name, c.value)
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("Put(%q, %q) = %v, want %q", c.name, c.value, err, c.err)
		}
	}
	names, _ := Names(m)
	if strings.Join(names, ",") != "github,slack" {
		t.Errorf("names %v", names)
	}
	if err := Remove(m, "github"); err != nil {
		t.Fatal(err)
	}
	names, _ = Names(m)
	if strings.Join(names, ",") != "slack" {
		t.Errorf("after rm: %v", names)
	}
	secrets, err := Resolve(m, map[string]Ref{"SLACK": {Service, "slack"}, "GH": {Service, "github"}})
	if !errors.Is(err, ErrNotFound) || secrets["SLACK"].Value() != "xoxb-0123456789" {
		t.Errorf("Resolve = %v, %v", secrets, err)
	}
}
