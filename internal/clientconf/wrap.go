package clientconf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpcell/mcpcell/keystore"
)

// Server is what wrap (or unwrap) does with one entry.
type Server struct {
	Entry   *Entry
	Action  string // "wrap", "unwrap", "restore secrets", or why it is left alone
	Profile string // the profile's path
	// Project is the --project a wrapped entry's run names (unwrap), ""
	// when none.
	Project string
	// ProfileText is the profile to write; "" when one exists already.
	ProfileText string
	Secrets     []Secret // env entries that move into (or out of) the keyring
	Notes       []string
	// Warnings name what leaves a credential where wrap cannot take it
	// from (an argument, a short value), or hands one to the server that
	// wrap did not make for it; values masked.
	Warnings []string
	Members  []Member // the entry's new members
	// Shown is Members with each restored secret as its marker, for the
	// printed diff; nil when it is Members.
	Shown []Member
}

// Secret is an env entry that moves between the config and the keyring.
// Value is never printed.
type Secret struct {
	Env, Item, Value string
	// Origin is the entry the item is made for; wrap records it next to
	// the item.
	Origin Origin
	// Stored: the config held the item's marker, not the value, and the
	// item is in the keyring already (wrap: nothing to store).
	Stored bool
	// Owned: wrap made this item for this entry, so unwrap
	// --restore-secrets may remove it once the value is back.
	Owned bool
	at    span // wrap: where the value is in the file
}

// Refusal is a config wrap or unwrap will not act on; Hint says what to
// do.
type Refusal struct{ Msg, Hint string }

func (r *Refusal) Error() string { return r.Msg }

// WrapOptions says how to wrap.
type WrapOptions struct {
	Mcpcell   string // absolute path of the mcpcell executable
	ConfigDir string // ${CONFIG}: user-wide profiles go below it
	// Primary is the client's own user-wide file (UserPath): its
	// user-wide entries' profiles are in ${CONFIG}/wrapped/CLIENT/; those
	// of any other file (~/.mcp.json beside ~/.claude.json) in a folder
	// of that file's own, so that two files' servers of one name never
	// share a profile. "" takes every file as the primary one.
	Primary string
	Only    []string // --server names; empty means all
	Exists  func(string) bool
	IsDir   func(string) bool
	// Folder reports whether an entry's project folder is there (wrap
	// writes its profile into it); nil takes each as there.
	Folder func(dir string) bool
	// CodeRoot is the folder the profile grants (read) for a file on the
	// server's command line, its code (profiles.Folders.CodeRoot); wide
	// says why a wider one was not taken, root is "" when none may be.
	// nil grants the file's own folder.
	CodeRoot func(file string) (root, wide string)
	// WideWrite says why a folder on the server's command line is too
	// wide or sensitive to grant (write), "" when it is not
	// (profiles.Folders.WideWrite); nil grants none.
	WideWrite func(dir string) string
	// Sensitive says why a path wrap would grant (a file, a folder, the
	// server's code or its code root) is not granted, "" when it is
	// (profiles.Folders.Sensitive); nil grants none.
	Sensitive func(path string) string
	// Profile reads a profile that exists (as UnwrapOptions.Profile); nil
	// reads none.
	Profile func(path string) (set []KV, secrets map[string]string, err error)
	// Held reads an item of service mcpcell; found is false when it is
	// absent. Wrap never overwrites an item that holds another value: the
	// backup keeps only a marker, so the keyring has the only copy. nil
	// treats every item as absent.
	Held func(item string) (value string, found bool, err error)
	// Origin reads the origin wrap recorded for an item; found is false
	// when there is none. nil knows none.
	Origin func(item string) (o Origin, found bool, err error)
}

// minSecret is keystore.MinLength: a shorter value cannot be redacted, so
// wrap does not move it into the keyring.
const minSecret = 8

// isMcpcell reports whether an entry's command is mcpcell: by name, or
// self, the running executable.
func isMcpcell(e *Entry, self string) bool {
	return filepath.Base(strings.TrimSuffix(e.Command, ".exe")) == "mcpcell" || self != "" && e.Command == self
}

// wrapped reports whether an entry already runs mcpcell run with a
// server command, the profile and project its flags name, and where its
// original command starts in its args. The args are read as run reads
// them (the flag package, run's flags): --profile P and --profile=P, a
// command after "--" or after the last flag.
func wrapped(e *Entry, self string) (profile, project string, orig int, ok bool) {
	if !isMcpcell(e, self) || len(e.Args) == 0 || e.Args[0] != "run" {
		return "", "", 0, false
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&profile, "profile", "", "")
	fs.StringVar(&project, "project", "", "")
	if fs.Parse(e.Args[1:]) != nil || fs.NArg() == 0 {
		return "", "", 0, false
	}
	return profile, project, len(e.Args) - fs.NArg(), true
}

// userFolder is the folder below ${CONFIG}/wrapped of the user-wide
// profiles of f: the client's name for its primary file, else the name
// and a hash of f's path.
func userFolder(f *File, primary string) string {
	if primary == "" || samePath(f.Path, primary) {
		return string(f.Client)
	}
	sum := sha256.Sum256([]byte(filepath.Clean(f.Path)))
	return string(f.Client) + "-" + hex.EncodeToString(sum[:4])
}

// samePath reports whether a and b are one path, cleaned (the caller
// resolves links: this package does no I/O).
func samePath(a, b string) bool { return filepath.Clean(a) == filepath.Clean(b) }

func selected(only []string, name string) bool { return len(only) == 0 || slices.Contains(only, name) }

// envKind is what wrap does with one env entry.
type envKind int

const (
	envSet       envKind = iota // a plain setting: into [env] set
	envRef                      // refers to what the client fills in: stays, passed through
	envLiteral                  // holds "${", which a profile would expand: stays, passed through
	envMarker                   // a keyring marker (from a backup): the item holds the value
	envSecret                   // a credential: into the keyring
	envShort                    // a credential too short to redact: stays, passed through
	envRefSecret                // a credential around a reference: stays, passed through
	envNumber                   // a credential that is a number, which cannot be redacted: stays, passed through
)

// expands reports whether the client fills in ${…} in a server's env and
// args: Claude Code ${VAR} and ${VAR:-default}; VS Code and Cursor
// ${input:…}, ${env:…}, ${workspaceFolder}…; Claude Desktop nothing. No
// client reads an unbraced $ as a reference.
func (c Client) expands() bool { return c != ClaudeDesktop }

func classify(c Client, kv KV) envKind {
	if _, ok := parseMarker(kv.Value); ok {
		return envMarker
	}
	if kv.Value == "" {
		return envSet
	}
	if c.expands() && reference().MatchString(kv.Value) {
		// What is around the references is the config's own text.
		around := strings.TrimSpace(strings.ReplaceAll(blankRefs(kv.Value), "\x00", ""))
		if len(secretSpans(kv.Value)) > 0 || credentialName(kv.Key) && len(around) >= minSecret {
			return envRefSecret
		}
		return envRef
	}
	switch {
	case isCredential(kv.Key, kv.Value) && len(kv.Value) >= minSecret && keystore.Numeric(kv.Value):
		return envNumber
	case isCredential(kv.Key, kv.Value) && len(kv.Value) >= minSecret:
		return envSecret
	case isCredential(kv.Key, kv.Value):
		return envShort
	case strings.Contains(kv.Value, "${"):
		return envLiteral
	}
	return envSet
}

// PlanWrap decides what wrap does with each entry of f. It fails when the
// keyring cannot be read (o.Held, o.Origin), and refuses (a *Refusal) a
// marker that wrap did not make for the entry it is in, or whose item is
// not in the keyring.
func PlanWrap(f *File, o WrapOptions) ([]*Server, error) {
	var out []*Server
	// Items the plan uses: every marker's, whatever the entry, and each
	// one it picks.
	taken := map[string]bool{}
	for _, e := range f.Entries {
		for _, kv := range e.Env {
			if item, ok := parseMarker(kv.Value); ok {
				taken[item] = true
			}
		}
	}
	// Profile paths the plan uses, folded: two entries never share one,
	// not even on a file system that ignores case.
	profiles := map[string]bool{}
	for _, e := range f.Entries {
		if !selected(o.Only, e.Name) {
			continue
		}
		s := &Server{Entry: e}
		out = append(out, s)
		if _, _, _, ok := wrapped(e, o.Mcpcell); ok {
			s.Action = "already wrapped"
			continue
		}
		if !e.Stdio {
			s.Action = "left alone: not a stdio server"
			continue
		}
		if e.Invalid != "" {
			s.Action = "left alone: " + e.Invalid
			continue
		}
		if isMcpcell(e, o.Mcpcell) && len(e.Args) > 0 && e.Args[0] == "run" {
			s.Action = "left alone: it runs mcpcell run already, with the server command its profile names"
			continue
		}
		// Claude Code's projects["DIR"]: a profile goes into DIR, which
		// must be a folder there is.
		if e.Project != "" && !filepath.IsAbs(e.Project) {
			s.Action = fmt.Sprintf("left alone: its project %s (%s) is not an absolute path, so wrap cannot tell where its profile goes", strconv.Quote(e.Project), e.Where)
			continue
		}
		if e.Project != "" && o.Folder != nil && !o.Folder(e.Project) {
			s.Action = fmt.Sprintf("left alone: its project folder %s (%s) does not exist", quoteWord(e.Project), e.Where)
			continue
		}
		s.Action = "wrap"
		if e.NotProject != "" {
			s.Notes = append(s.Notes, e.NotProject+": wrap takes its server as a user-wide one, whose profile and project are a folder of its own")
		}
		slug := profileSlug(e.Name)
		at := func(slug string) string {
			if e.Project != "" {
				return filepath.Join(e.Project, ".mcpcell."+slug+".toml")
			}
			return filepath.Join(o.ConfigDir, "wrapped", userFolder(f, o.Primary), slug, ".mcpcell.toml")
		}
		s.Profile = at(slug)
		if profiles[strings.ToLower(s.Profile)] {
			sum := sha256.Sum256([]byte(e.Where + "\x00" + e.Name))
			s.Profile = at(slug + "-" + hex.EncodeToString(sum[:4]))
		}
		profiles[strings.ToLower(s.Profile)] = true
		kept := o.Exists(s.Profile)
		var keptSecrets map[string]string
		if kept && o.Profile != nil {
			_, keptSecrets, _ = o.Profile(s.Profile)
		}
		var set, pass []KV
		for i, kv := range e.Env {
			switch classify(f.Client, kv) {
			case envMarker:
				item, _ := parseMarker(kv.Value)
				mine, err := madeFor(item, originOf(f, e, kv.Key), f, e, o.Origin)
				if err != nil {
					return nil, err
				}
				if !mine {
					return nil, foreignMarker(f, e, kv.Key, item, o.Origin)
				}
				if o.Held != nil {
					_, found, err := o.Held(item)
					if err != nil {
						return nil, err
					}
					if !found {
						return nil, fmt.Errorf("%s of %s is the marker of keyring item %s, which is not in the keyring", kv.Key, e.Name, item)
					}
				}
				s.Secrets = append(s.Secrets, Secret{Env: kv.Key, Item: item, Origin: originOf(f, e, kv.Key), Stored: true})
				s.Notes = append(s.Notes, fmt.Sprintf("%s is a marker (from a backup): its value is in the keyring as item %s already", kv.Key, item))
			case envRef:
				pass = append(pass, kv)
				s.Notes = append(s.Notes, fmt.Sprintf("%s refers to %s, which the client fills in: it stays in the config and mcpcell passes it through", kv.Key, reference().FindString(kv.Value)))
			case envLiteral:
				pass = append(pass, kv)
				s.Notes = append(s.Notes, fmt.Sprintf("%s holds \"${\", which a profile would read as its own variable: it stays in the config and mcpcell passes it through", kv.Key))
			case envSecret:
				item, err := pickItem(f, e, kv, keptSecrets, taken, o)
				if err != nil {
					return nil, err
				}
				taken[item] = true
				if base := itemBase(f.Client, e, kv.Key); item != base && keptSecrets[kv.Key] != item {
					s.Notes = append(s.Notes, fmt.Sprintf("keyring item %s is taken (it holds another value, or another server of this file uses it): %s goes into item %s", base, kv.Key, item))
				}
				s.Secrets = append(s.Secrets, Secret{Env: kv.Key, Item: item, Value: kv.Value, Origin: originOf(f, e, kv.Key), at: e.envAt[i]})
			case envShort:
				pass = append(pass, kv)
				s.Warnings = append(s.Warnings, fmt.Sprintf("env %s looks like a credential but is shorter than %d bytes, too short to redact: it stays in the config and in its backup", kv.Key, minSecret))
			case envNumber:
				pass = append(pass, kv)
				s.Warnings = append(s.Warnings, fmt.Sprintf("env %s looks like a credential but is a number, which mcpcell cannot redact (the server could send it back as a JSON number): it stays in the config and in its backup", kv.Key))
			case envRefSecret:
				pass = append(pass, kv)
				s.Warnings = append(s.Warnings, fmt.Sprintf("env %s holds a credential next to %s, which the client fills in, so it cannot move into the keyring: it stays in the config and in its backup; put the credential in a variable of its own and wrap again", kv.Key, reference().FindString(kv.Value)))
			default:
				set = append(set, kv)
			}
		}
		line := commandLine(e)
		for _, c := range line.creds {
			what := fmt.Sprintf("args[%d] %s", c.Index-1, strconv.Quote(c.Masked))
			if c.Index == 0 {
				what = "the command " + strconv.Quote(c.Masked)
			}
			if c.After != "" {
				what += " (the value of " + c.After + ")"
			}
			s.Warnings = append(s.Warnings, what+" is a credential on the server's command line, where wrap cannot take it from: it stays in the config and in its backup, and every local user can read a command line; if the server reads it from an env variable, put it there and wrap again")
		}
		// The new entry: the same members in the same order, with mcpcell
		// in front and only pass-through env entries left.
		args := append([]string{"run", "--profile", s.Profile, "--", e.Command}, e.Args...)
		for _, m := range e.Members {
			switch m.Name {
			case "command":
				s.Members = append(s.Members, Member{"command", mustJSON(o.Mcpcell)})
			case "args":
				s.Members = append(s.Members, Member{"args", mustJSON(args)})
			case "env":
				if len(pass) > 0 {
					s.Members = append(s.Members, Member{"env", envJSON(pass)})
				}
			default:
				s.Members = append(s.Members, m)
			}
		}
		if !slices.ContainsFunc(e.Members, func(m Member) bool { return m.Name == "args" }) {
			s.Members = append(s.Members, Member{"args", mustJSON(args)})
		}
		if kept {
			s.Notes = append(s.Notes, "the profile "+s.Profile+" exists and is kept as it is")
			for _, sec := range s.Secrets {
				if keptSecrets[sec.Env] != sec.Item {
					s.Notes = append(s.Notes, fmt.Sprintf("the kept profile does not take %s from item %s: add %s = %s to its [secrets]", sec.Env, sec.Item, tomlKey(sec.Env), tomlString(sec.Item)))
				}
			}
			for _, env := range slices.Sorted(maps.Keys(keptSecrets)) {
				item := keptSecrets[env]
				mine, err := madeFor(item, originOf(f, e, env), f, e, o.Origin)
				if err != nil {
					return nil, err
				}
				if !mine && !slices.ContainsFunc(s.Secrets, func(sec Secret) bool { return sec.Item == item && sec.Env == env }) {
					s.Warnings = append(s.Warnings, fmt.Sprintf("the kept profile %s gives the server keyring item %s as %s, and wrap did not make that item for this server: check that it should have it (whoever can write the profile chooses what it gives)", s.Profile, item, env))
				}
			}
		} else {
			s.ProfileText = profileText(f, e, s, set, pass, line, o)
		}
		switch runner, preset := downloader(line.words); {
		case preset != "" && kept:
			s.Notes = append(s.Notes, fmt.Sprintf("%s downloads the server when it starts: the kept profile reaches %s only if it includes %q", runner, presetHosts[preset], preset))
		case preset != "":
			s.Notes = append(s.Notes, fmt.Sprintf("%s downloads the server when it starts: the profile includes %q, which reaches %s and nothing else", runner, preset, presetHosts[preset]))
		case runner != "":
			s.Notes = append(s.Notes, runner+" downloads the server when it starts, and keeps it where the cell cannot write: install the server once and run it with node instead")
		}
	}
	return out, nil
}

// presetHosts says what each preset of downloader's reaches.
var presetHosts = map[string]string{"npm": "the npm registry", "pypi": "the Python Package Index"}

// downloader names the package runner that starts a server by
// downloading it (npx, uvx, uv tool run…), and the preset that lets it do
// so in the cell: "" for a runner whose cache no preset grants (bunx,
// pnpx), and "", "" for a command that downloads nothing.
func downloader(words []string) (runner, preset string) {
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(words[0]), ".exe"), ".cmd")
	switch {
	case base == "npx":
		return base, "npm"
	case base == "uvx":
		return base, "pypi"
	case base == "uv" && len(words) > 2 && words[1] == "tool" && words[2] == "run":
		return "uv tool run", "pypi"
	case base == "bunx" || base == "pnpx":
		return base, ""
	}
	return "", ""
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func envJSON(kvs []KV) json.RawMessage {
	var b strings.Builder
	b.WriteString("{")
	for i, kv := range kvs {
		if i > 0 {
			b.WriteString(",")
		}
		b.Write(mustJSON(kv.Key))
		b.WriteString(":")
		b.Write(mustJSON(kv.Value))
	}
	b.WriteString("}")
	return json.RawMessage(b.String())
}

// Edits are the entry edits of the servers that change.
func Edits(servers []*Server) []Edit {
	var out []Edit
	for _, s := range servers {
		if changes(s) {
			out = append(out, Edit{Entry: s.Entry, Members: s.Members})
		}
	}
	return out
}

// ShownEdits are Edits as the diff shows them: a restored secret is its
// marker.
func ShownEdits(servers []*Server) []Edit {
	var out []Edit
	for _, s := range servers {
		if changes(s) {
			m := s.Members
			if s.Shown != nil {
				m = s.Shown
			}
			out = append(out, Edit{Entry: s.Entry, Members: m})
		}
	}
	return out
}

func changes(s *Server) bool {
	return s.Action == "wrap" || s.Action == "unwrap" || s.Action == "restore secrets"
}

// OSExists is the real file system's Exists.
func OSExists(p string) bool { _, err := os.Stat(p); return err == nil }

// OSIsDir is the real file system's IsDir.
func OSIsDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }
