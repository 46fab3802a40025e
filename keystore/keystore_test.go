package keystore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
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

// A value that is a number, or has a line that is one, is refused by Put
// and by Resolve (an item another tool stored): a server can send it back
// as a JSON number, which redaction does not read. The control: a
// redactor given such a value leaves the number in a frame, in each
// spelling, as it is.
func TestNumbersRefused(t *testing.T) {
	for _, c := range []struct {
		value string
		how   string // "": accepted
	}{
		{"4111111111111111", "is a number"},
		{"-12345678", "is a number"},
		{"+12345678", "is a number"},
		{"1234.5678", "is a number"},
		{".12345678", "is a number"},
		{"12345678.", "is a number"},
		{"1.2345e+67", "is a number"},
		{"00000000", "is a number"},
		{" 12345678\t", "is a number"},
		{"user: me\n4111111111111111\nend", "has a line that is a number"},
		{"user: me\r\n4111111111111111\r\nend", "has a line that is a number"},
		{"4111-1111-1111-1111", ""},
		{"4111 1111 1111 1111", ""},
		{"0x12345678", ""},
		{"12345678e", ""},
		{"1e5e5e5e5", ""},
		{"1.2.3.4.5", ""},
		{"12345678abc", ""},
		{"Infinity", ""},
		{"NaN-NaN-NaN", ""},
		{"pin\n1234567\nend", ""}, // the line is too short to be searched on its own
	} {
		m := memStore{}
		err := Put(m, "item", c.value)
		if c.how == "" {
			if err != nil {
				t.Errorf("Put(%q) = %v, want it stored", c.value, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "refusing a secret that "+c.how) || !strings.Contains(Hint(err), "[env]") || strings.Contains(err.Error(), strings.TrimSpace(c.value)) {
			t.Errorf("Put(%q) = %v (hint %q), want a refusal: it %s", c.value, err, Hint(err), c.how)
		}
		if _, stored := m[Ref{Service, "item"}]; stored {
			t.Errorf("Put(%q) stored the value", c.value)
		}
		m[Ref{"other-tool", "pin"}] = c.value
		_, err = Resolve(m, map[string]Ref{"PIN": {"other-tool", "pin"}})
		if err == nil || !strings.Contains(err.Error(), "for PIN "+c.how) || Hint(err) == "" {
			t.Errorf("Resolve of %q = %v, want a refusal: it %s", c.value, err, c.how)
		}
	}
	r := NewRedactor(map[string]Secret{"PIN": New("PIN", "4111111111111111")})
	for _, n := range []string{"4111111111111111", "4111111111111111.0", "4.111111111111111e15", "41111111111111110e-1"} {
		frame := []byte(`{"jsonrpc":"2.0","id":1,"result":{"n":` + n + `}}`)
		if got := r.Frame(frame); string(got) != string(frame) {
			t.Errorf("control: the redactor changed the number %s: %s", n, got)
		}
	}
}
