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
