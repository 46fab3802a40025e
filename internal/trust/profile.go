package trust

// Profiles and commands: a Profile record is kept per profile file and
// project: the SHA-256 of each file Load read, the effective policy (to
// show a diff), and the commands the profile may start, each by the
// digest of its command line (with a copy shown with credentials masked)
// and the SHA-256 of each file the kernel runs for it.
//
//	rec, _ := store.Profile(path, project)    // nil: never trusted
//	err := rec.CheckFile(path, file, data)    // a *ProfileChange unless trusted
//	err = rec.CheckCommand(argv, shown, exes) // an error naming the change unless trusted

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// kindProfiles is the store's folder of profile records.
const kindProfiles = "profiles"

// FileSum is a profile file by the SHA-256 of its content.
type FileSum struct {
	Path string `json:"path"`
	Sum  string `json:"sha256"`
}

// Exe is a file the kernel runs to start a server command: the command,
// each #! interpreter, /usr/bin/env's target. The stat fields let a file
// whose inode, size and times are unchanged go unhashed (ctime cannot be
// set back without CAP_SYS_TIME, which no cell holds).
type Exe struct {
	Path  string `json:"path"`
	Sum   string `json:"sha256"`
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

// Command is a server command line a profile may start, after variable
// expansion, with the files the kernel runs for it. The record holds the
// command line's digest, and a copy to show with any credential in it
// masked: the store is no new place for a credential a client config
// passes on a command line.
type Command struct {
	Sum   string    `json:"argv_sha256"`
	Shown []string  `json:"argv_shown"`
	Exes  []Exe     `json:"exes"`
	Time  time.Time `json:"time"`
}

// NewCommand is the record of argv (shown as shown) with exes.
func NewCommand(argv, shown []string, exes []Exe, now time.Time) Command {
	return Command{Sum: argvSum(argv), Shown: shown, Exes: exes, Time: now}
}

// argvSum is the digest a record keeps of a command line.
func argvSum(argv []string) string { return recordID(append([]string{"argv"}, argv...)...) }

// Profile is what the user trusted of a profile file, for one project:
// the bytes of every file Load read, the effective policy they made (to
// show what changed), and the server commands it may start.
type Profile struct {
	Path     string    `json:"path"`
	Project  string    `json:"project"`
	Files    []FileSum `json:"files"`
	Policy   string    `json:"policy"`
	Commands []Command `json:"commands"`
	Time     time.Time `json:"time"`
}

func profileName(path, project string) string { return recordID("profile", path, project) }

// Profile returns the record of the profile file path with project, or
// nil when there is none.
func (s *Store) Profile(path, project string) (*Profile, error) {
	b, err := s.read(kindProfiles, profileName(path, project))
	if err != nil || b == nil {
		return nil, err
	}
	var r Profile
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("reading the trust store: the record of %s: %w", path, err)
	}
	if r.Path != path || r.Project != project {
		return nil, fmt.Errorf("reading the trust store: the record of %s is for %s", path, r.Path)
	}
	return &r, nil
}

// TrustProfile records rec's files and policy as trusted, keeping the
// commands trusted before, and adds each of cmds (replacing one with the
// same argv).
func (s *Store) TrustProfile(rec Profile, cmds ...Command) error {
	return s.update(kindProfiles, profileName(rec.Path, rec.Project), func(old []byte) ([]byte, error) {
		if old != nil {
			var o Profile
			if err := json.Unmarshal(old, &o); err == nil {
				rec.Commands = o.Commands
			}
		}
		for _, c := range cmds {
			rec.Commands = slices.DeleteFunc(rec.Commands, func(x Command) bool { return x.Sum == c.Sum })
			rec.Commands = append(rec.Commands, c)
		}
		return json.MarshalIndent(rec, "", "  ")
	})
}

// ProfileChange is a profile file Load read that its record does not
// trust: the top file or an include, new or changed.
type ProfileChange struct {
	Profile string // the top file
	File    string // the file that is new or changed
	What    string // "new", "changed" or "no longer read"
}

func (e *ProfileChange) Error() string {
	msg := fmt.Sprintf("profile %s is new or changed since you trusted it", e.Profile)
	switch {
	case e.File == e.Profile:
		return msg
	case e.What == "changed":
		return msg + fmt.Sprintf(": its include %s changed", e.File)
	}
	return msg + fmt.Sprintf(": its include %s is %s", e.File, e.What)
}

// CheckFile refuses the bytes data of path, read for the profile top,
// unless r (nil: no record) trusts them.
func (r *Profile) CheckFile(top, path string, data []byte) error {
	if r == nil {
		return &ProfileChange{Profile: top, File: path, What: "new"}
	}
	for _, f := range r.Files {
		if f.Path == path {
			if f.Sum == Sum(data) {
				return nil
			}
			return &ProfileChange{Profile: top, File: path, What: "changed"}
		}
	}
	return &ProfileChange{Profile: top, File: path, What: "new"}
}

// CheckFiles refuses a profile whose files read are not the files r
// trusts (each checked by CheckFile as it was read).
func (r *Profile) CheckFiles(top string, read []string) error {
	if r == nil {
		return &ProfileChange{Profile: top, File: top, What: "new"}
	}
	for _, f := range r.Files {
		if !slices.Contains(read, f.Path) {
			return &ProfileChange{Profile: top, File: f.Path, What: "no longer read"}
		}
	}
	for _, p := range read {
		if !slices.ContainsFunc(r.Files, func(f FileSum) bool { return f.Path == p }) {
			return &ProfileChange{Profile: top, File: p, What: "new"}
		}
	}
	return nil
}

// commandChange is a server command the record does not trust.
type commandChange struct {
	Profile string
	Msg     string
}

func (e *commandChange) Error() string { return e.Msg }

// CheckCommand refuses argv (shown as shown), whose kernel chain hashes
// to exes, unless r trusts that command line with those files.
func (r *Profile) CheckCommand(argv, shown []string, exes []Exe) error {
	change := func(format string, args ...any) error {
		return &commandChange{Profile: r.Path, Msg: fmt.Sprintf(format, args...)}
	}
	if len(r.Commands) == 0 {
		return change("the server command %s is not trusted for profile %s", Quote(shown), r.Path)
	}
	c := r.Command(argv)
	if c == nil {
		var trusted []string
		for _, c := range r.Commands {
			trusted = append(trusted, Quote(c.Shown))
		}
		return change("the server command changed: trusted: %s; now: %s", strings.Join(trusted, "; "), Quote(shown))
	}
	if d := ExesChanged(c.Exes, exes); d != "" {
		return change("the server command changed: %s", d)
	}
	return nil
}

// ExesChanged describes how the files the kernel runs differ from those
// trusted, or "" when they do not.
func ExesChanged(trusted, now []Exe) string {
	var out []string
	for i, n := range now {
		if i >= len(trusted) {
			out = append(out, fmt.Sprintf("it now also runs %s", n.Path))
			continue
		}
		t := trusted[i]
		switch {
		case t.Path != n.Path:
			out = append(out, fmt.Sprintf("it now runs %s where it ran %s", n.Path, t.Path))
		case t.Sum != n.Sum:
			out = append(out, fmt.Sprintf("%s has new content (sha256 trusted %s, now %s)", n.Path, short(t.Sum), short(n.Sum)))
		}
	}
	if len(trusted) > len(now) {
		for _, t := range trusted[len(now):] {
			out = append(out, fmt.Sprintf("it no longer runs %s", t.Path))
		}
	}
	return strings.Join(out, "; ")
}

// Trusts reports whether r trusts argv with exes.
func (r *Profile) Trusts(argv []string, exes []Exe) bool {
	return r != nil && r.CheckCommand(argv, argv, exes) == nil
}

// Command returns the trusted command with argv, or nil.
func (r *Profile) Command(argv []string) *Command {
	if r == nil {
		return nil
	}
	sum := argvSum(argv)
	for i := range r.Commands {
		if r.Commands[i].Sum == sum {
			return &r.Commands[i]
		}
	}
	return nil
}

// HashExes hashes each file of paths (the kernel's chain, symlinks
// resolved). A file whose device, inode, size, mtime and ctime match an
// entry of known for the same path keeps that entry's digest.
func HashExes(paths []string, known []Exe) ([]Exe, error) {
	var out []Exe
	for _, p := range paths {
		e, err := hashExe(p, known)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func hashExe(path string, known []Exe) (Exe, error) {
	f, err := os.Open(path)
	if err != nil {
		return Exe{}, fmt.Errorf("hashing the server's executable: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Exe{}, fmt.Errorf("hashing the server's executable: %w", err)
	}
	e := Exe{Path: path, Size: st.Size()}
	statOf(st, &e)
	for _, k := range known {
		if k.Path == path && k.Dev == e.Dev && k.Ino == e.Ino && k.Size == e.Size && k.Mtime == e.Mtime && k.Ctime == e.Ctime && k.Ctime != 0 {
			e.Sum = k.Sum
			return e, nil
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Exe{}, fmt.Errorf("hashing the server's executable %s: %w", path, err)
	}
	e.Sum = hex.EncodeToString(h.Sum(nil))
	return e, nil
}

// Quote writes argv for a shell, each long argument clipped.
func Quote(argv []string) string {
	const maxArg = 80
	var out []string
	for _, a := range argv {
		if len(a) > maxArg {
			a = utf8cut.Cut(a, maxArg-20) + fmt.Sprintf("…(%d bytes)", len(a))
		}
		out = append(out, shellQuote(a))
	}
	return strings.Join(out, " ")
}

// QuoteWords writes words for a shell, none clipped.
func QuoteWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = shellQuote(w)
	}
	return strings.Join(out, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
