package trust

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProfileRecord(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	top, inc := "/p/.mcpcell.toml", "/p/x.toml"
	if r, err := s.Profile(top, "/p"); r != nil || err != nil {
		t.Fatalf("no record: got %v, %v", r, err)
	}
	var r *Profile
	var change *ProfileChange
	if err := r.CheckFile(top, top, []byte("a")); !errors.As(err, &change) || err.Error() != "profile /p/.mcpcell.toml is new or changed since you trusted it" {
		t.Errorf("a nil record: %v", err)
	}
	cmd := NewCommand([]string{"node", "s.js"}, []string{"node", "s.js"}, []Exe{{Path: "/usr/bin/node", Sum: strings.Repeat("a", 64)}}, time.Now())
	if err := s.TrustProfile(Profile{Path: top, Project: "/p", Files: []FileSum{{top, Sum([]byte("a"))}, {inc, Sum([]byte("b"))}}}, cmd); err != nil {
		t.Fatal(err)
	}
	// Trusting the profile again keeps its commands.
	if err := s.TrustProfile(Profile{Path: top, Project: "/p", Files: []FileSum{{top, Sum([]byte("a"))}, {inc, Sum([]byte("b"))}}}); err != nil {
		t.Fatal(err)
	}
	r, err := s.Profile(top, "/p")
	if err != nil || r == nil || len(r.Commands) != 1 {
		t.Fatalf("got %+v, %v", r, err)
	}
	if other, _ := s.Profile(top, "/q"); other != nil {
		t.Errorf("the record of project /p answers for /q")
	}
	for _, tc := range []struct {
		path, data, want string
	}{
		{top, "a", ""},
		{inc, "b", ""},
		{inc, "c", "profile /p/.mcpcell.toml is new or changed since you trusted it: its include /p/x.toml changed"},
		{"/p/y.toml", "b", "profile /p/.mcpcell.toml is new or changed since you trusted it: its include /p/y.toml is new"},
		{top, "a\n", "profile /p/.mcpcell.toml is new or changed since you trusted it"},
	} {
		err := r.CheckFile(top, tc.path, []byte(tc.data))
		if got := errString(err); got != tc.want {
			t.Errorf("CheckFile(%s, %q) = %q, want %q", tc.path, tc.data, got, tc.want)
		}
	}
	if got := errString(r.CheckFiles(top, []string{top})); got != "profile /p/.mcpcell.toml is new or changed since you trusted it: its include /p/x.toml is no longer read" {
		t.Errorf("a dropped include: %q", got)
	}
	exes := []Exe{{Path: "/usr/bin/node", Sum: strings.Repeat("a", 64)}}
	for _, tc := range []struct {
		argv []string
		exes []Exe
		want string
	}{
		{[]string{"node", "s.js"}, exes, ""},
		{[]string{"node", "s.js", "--x"}, exes, "the server command changed: trusted: node s.js; now: node s.js --x"},
		{[]string{"node", "s.js"}, []Exe{{Path: "/usr/bin/node", Sum: strings.Repeat("b", 64)}}, "the server command changed: /usr/bin/node has new content (sha256 trusted aaaaaaaaaaaa, now bbbbbbbbbbbb)"},
		{[]string{"node", "s.js"}, []Exe{{Path: "/opt/node", Sum: strings.Repeat("a", 64)}}, "the server command changed: it now runs /opt/node where it ran /usr/bin/node"},
	} {
		if got := errString(r.CheckCommand(tc.argv, tc.argv, tc.exes)); got != tc.want {
			t.Errorf("CheckCommand(%q) = %q, want %q", tc.argv, got, tc.want)
		}
	}
	// The record holds no command line, only its digest and the copy to show.
	b, _ := os.ReadFile(s.path(kindProfiles, profileName(top, "/p")))
	if strings.Contains(string(b), `"argv"`) {
		t.Errorf("the record holds argv:\n%s", b)
	}
}

// A file whose stat is unchanged keeps its digest; a changed one is hashed.
func TestHashExesStat(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bin")
	os.WriteFile(f, []byte("one"), 0o755)
	first, err := HashExes([]string{f}, nil)
	if err != nil || first[0].Sum != Sum([]byte("one")) {
		t.Fatalf("%v %v", first, err)
	}
	known := []Exe{first[0]}
	known[0].Sum = "cached"
	if again, _ := HashExes([]string{f}, known); again[0].Sum != "cached" {
		t.Errorf("an unchanged file was hashed again")
	}
	os.WriteFile(f, []byte("two"), 0o755)
	if again, _ := HashExes([]string{f}, known); again[0].Sum != Sum([]byte("two")) {
		t.Errorf("a changed file kept its old digest: %v", again)
	}
}

func TestQuote(t *testing.T) {
	long := strings.Repeat("x", 100)
	if got := Quote([]string{"a b", "it's", "--k=v", long}); got != `'a b' 'it'\''s' --k=v `+strings.Repeat("x", 60)+"…(100 bytes)" && got != `'a b' 'it'\''s' --k=v '`+strings.Repeat("x", 60)+"…(100 bytes)'" {
		t.Errorf("Quote = %s", got)
	}
	if got := QuoteWords([]string{long}); got != long {
		t.Errorf("QuoteWords clipped: %s", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
