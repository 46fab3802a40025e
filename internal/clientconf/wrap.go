package clientconf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/keystore"
)

// Server is what wrap (or unwrap) does with one entry.
type Server struct {
	Entry   *Entry
	Action  string // "wrap", "unwrap", "restore secrets", or why it is left alone
	Profile string // the profile's path
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

// Origin is the entry a keyring item was made for: the configuration
// file, the table in it, the server and the env variable. wrap records it
// next to each item it stores, in the keyring, which neither a config
// file nor a server in a cell can write; a marker is honoured, and an
// item restored into a config, only for the entry the item was made for.
type Origin struct {
	Client Client `json:"client"`
	Config string `json:"config"`
	Table  string `json:"table"`
	Server string `json:"server"`
	Env    string `json:"env"`
}

// originOf is the origin of an item made for env of entry e of f.
func originOf(f *File, e *Entry, env string) Origin {
	return Origin{Client: f.Client, Config: f.Path, Table: e.Where, Server: e.Name, Env: env}
}

func (o Origin) String() string {
	return fmt.Sprintf("%s of server %q in %s", o.Env, o.Server, o.Config)
}

// Refusal is a config wrap or unwrap will not act on; Hint says what to
// do.
type Refusal struct{ Msg, Hint string }

func (r *Refusal) Error() string { return r.Msg }

// WrapOptions says how to wrap.
type WrapOptions struct {
	Mcpcell   string   // absolute path of the mcpcell executable
	ConfigDir string   // ${CONFIG}: user-wide profiles go below it
	Only      []string // --server names; empty means all
	Exists    func(string) bool
	IsDir     func(string) bool
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

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// minSecret is keystore.MinLength: a shorter value cannot be redacted, so
// wrap does not move it into the keyring.
const minSecret = 8

// wrapped reports whether an entry already runs mcpcell (by name, or as
// self, the running executable), and where its original command starts in
// its args.
func wrapped(e *Entry, self string) (profile string, orig int, ok bool) {
	isMcpcell := filepath.Base(strings.TrimSuffix(e.Command, ".exe")) == "mcpcell" || self != "" && e.Command == self
	if !isMcpcell || len(e.Args) == 0 || e.Args[0] != "run" {
		return "", 0, false
	}
	for i, a := range e.Args {
		if a == "--profile" && i+1 < len(e.Args) {
			profile = e.Args[i+1]
		}
		if a == "--" && i+1 < len(e.Args) {
			return profile, i + 1, true
		}
	}
	return "", 0, false
}

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

// itemBase is the keyring item wrap names for an entry's env variable.
func itemBase(c Client, e *Entry, env string) string {
	return strings.ToLower(unsafeName().ReplaceAllString(string(c)+"-"+e.Name+"-"+env, "-"))
}

// derived reports whether item is a name wrap makes from base: base
// itself, or base-N.
func derived(item, base string) bool {
	rest, ok := strings.CutPrefix(item, base)
	if rest == "" {
		return ok
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rest, "-"))
	return ok && strings.HasPrefix(rest, "-") && err == nil && n >= 2
}

// madeFor reports whether wrap made item for the entry want names: the
// name is one wrap makes for it, and the keyring's record of the item's
// origin is want.
func madeFor(item string, want Origin, f *File, e *Entry, origin func(string) (Origin, bool, error)) (bool, error) {
	if !derived(item, itemBase(f.Client, e, want.Env)) || origin == nil {
		return false, nil
	}
	got, found, err := origin(item)
	return found && got == want, err
}

// foreignMarker is the refusal of a marker that wrap did not make for
// the entry it is in.
func foreignMarker(f *File, e *Entry, env, item string, origin func(string) (Origin, bool, error)) error {
	msg := fmt.Sprintf("%s of server %q in %s is the marker of keyring item %s", env, e.Name, f.Path, item)
	if base := itemBase(f.Client, e, env); !derived(item, base) {
		msg += fmt.Sprintf(", which wrap makes for another server or variable (for this one it makes %s or %s-N)", base, base)
	} else {
		var got Origin
		var found bool
		if origin != nil {
			var err error
			if got, found, err = origin(item); err != nil {
				return err
			}
		}
		if found {
			msg += ", which wrap made for " + got.String()
		} else {
			msg += ", and the keyring has no record that wrap made it for this entry"
		}
	}
	return &Refusal{
		Msg:  msg + ": a marker stands only for the item wrap made for that entry of that file, so that a config cannot hand a server another's keyring item",
		Hint: "replace the marker with the credential itself (or remove " + env + ") and run wrap again",
	}
}

// pickItem chooses the keyring item for a credential: the one a kept
// profile takes it from, if wrap made it for this entry (an update of its
// own item) or it is free; else base, or base-2, base-3…, skipping items
// this plan uses and items that hold something else than this value for
// this entry.
func pickItem(f *File, e *Entry, kv KV, kept map[string]string, taken map[string]bool, o WrapOptions) (string, error) {
	base, want := itemBase(f.Client, e, kv.Key), originOf(f, e, kv.Key)
	held := func(item string) (string, bool, error) {
		if o.Held == nil {
			return "", false, nil
		}
		return o.Held(item)
	}
	if it, ok := kept[kv.Key]; ok && derived(it, base) && !taken[it] {
		_, found, err := held(it)
		if err != nil {
			return "", err
		}
		mine, err := madeFor(it, want, f, e, o.Origin)
		if err != nil {
			return "", err
		}
		if !found || mine {
			return it, nil
		}
	}
	for n := 1; n <= 100; n++ {
		item := base
		if n > 1 {
			item = base + "-" + strconv.Itoa(n)
		}
		if taken[item] {
			continue
		}
		v, found, err := held(item)
		if err != nil {
			return "", err
		}
		if !found {
			return item, nil
		}
		if v != kv.Value {
			continue
		}
		mine, err := madeFor(item, want, f, e, o.Origin)
		if err != nil {
			return "", err
		}
		if mine {
			return item, nil
		}
	}
	return "", fmt.Errorf("keyring items %s to %s-100 all hold other values", base, base)
}

// profileSlug is the file-name form of a server name: the name itself
// when it is one, else its safe characters and a hash of the name, so that
// two names ("a b", "a-b") never share a profile, and none is "." or "..".
func profileSlug(name string) string {
	safe := strings.Trim(unsafeName().ReplaceAllString(name, "-"), ".-")
	if safe == name {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	if safe == "" {
		safe = "server"
	}
	return safe + "-" + hex.EncodeToString(sum[:4])
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
		if _, _, ok := wrapped(e, o.Mcpcell); ok {
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
		s.Action = "wrap"
		slug := profileSlug(e.Name)
		at := func(slug string) string {
			if e.Project != "" {
				return filepath.Join(e.Project, ".mcpcell."+slug+".toml")
			}
			return filepath.Join(o.ConfigDir, "wrapped", string(f.Client), slug, ".mcpcell.toml")
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
		if base := filepath.Base(e.Command); base == "npx" || base == "uvx" || base == "bunx" || base == "pnpx" {
			s.Notes = append(s.Notes, base+" downloads the server when it starts, and the cell has no network: install the server once and run it with node or python instead, or grant what the download needs")
		}
	}
	return out, nil
}

// cmdLine is an entry's command and args with the credentials in them.
type cmdLine struct {
	words []string        // command, args…
	creds []ArgCredential // Index counts the command as 0
	cred  map[int]bool
}

func commandLine(e *Entry) cmdLine {
	l := cmdLine{words: append([]string{e.Command}, e.Args...), cred: map[int]bool{}}
	l.creds = argCredentials(l.words)
	for _, c := range l.creds {
		l.cred[c.Index] = true
	}
	return l
}

// shown is the command line for a comment: credentials masked, each word
// quoted when it needs to be, so that it stays one line.
func (l cmdLine) shown() string {
	words := slices.Clone(l.words)
	for _, c := range l.creds {
		words[c.Index] = c.Masked
	}
	for i, w := range words {
		words[i] = quoteWord(w)
	}
	return strings.Join(words, " ")
}

var plainWord = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./*-]+$`) })

// quoteWord is w as is when it is plain, else Go-quoted (newlines and
// control characters escaped).
func quoteWord(w string) string {
	if plainWord().MatchString(w) {
		return w
	}
	return strconv.Quote(w)
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

// tomlString is s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var bareKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]+$`) })

// tomlKey is k as a TOML key: bare when it can be, else quoted.
func tomlKey(k string) string {
	if bareKey().MatchString(k) {
		return k
	}
	return tomlString(k)
}

// profileText is the profile wrap writes for an entry. Nothing in it is
// a credential: the command line in its comment is masked, [env] set gets
// no credential, and [secrets] names items.
func profileText(f *File, e *Entry, s *Server, set, pass []KV, line cmdLine, o WrapOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by mcpcell wrap for the %s server %s\n# in %s.\n", f.Client, strconv.Quote(e.Name), quoteWord(f.Path))
	fmt.Fprintf(&b, "# The server: %s\n", line.shown())
	b.WriteString("# Edit it freely: wrap does not overwrite a profile that exists.\n")
	b.WriteString("include = [\"default\"]  # the system runtimes (node, python, git), the project read-write, no network\n")
	var read, write, exec []string
	// A path with "${" would be read as a profile variable.
	usable := func(i int, p string) bool {
		return !line.cred[i] && filepath.IsAbs(p) && !strings.Contains(p, "${")
	}
	if usable(0, e.Command) {
		exec = append(exec, e.Command)
		read = append(read, e.Command)
	}
	for i, a := range e.Args {
		if !usable(i+1, a) || !o.Exists(a) {
			continue
		}
		if o.IsDir(a) {
			write = append(write, a)
		} else {
			read = append(read, packageRoot(a, o.Exists))
		}
	}
	if len(read)+len(write)+len(exec) > 0 {
		b.WriteString("\n[filesystem]\n# From the server's command line: its program and the folders it was given.\n")
		for _, l := range []struct {
			key  string
			list []string
		}{{"read", read}, {"write", write}, {"exec", exec}} {
			if len(l.list) > 0 {
				q := make([]string, 0, len(l.list))
				for _, p := range slices.Compact(l.list) {
					q = append(q, tomlString(p))
				}
				fmt.Fprintf(&b, "%s = [%s]\n", l.key, strings.Join(q, ", "))
			}
		}
	}
	if len(set)+len(pass) > 0 {
		b.WriteString("\n[env]\n")
		if len(pass) > 0 {
			q := make([]string, len(pass))
			for i, kv := range pass {
				q[i] = tomlString(kv.Key)
			}
			fmt.Fprintf(&b, "pass = [%s]\n", strings.Join(q, ", "))
		}
		if len(set) > 0 {
			b.WriteString("[env.set]\n")
			for _, kv := range set {
				fmt.Fprintf(&b, "%s = %s\n", tomlString(kv.Key), tomlString(kv.Value))
			}
		}
	}
	if len(s.Secrets) > 0 {
		b.WriteString("\n[secrets]  # keyring items (service mcpcell)\n")
		for _, sec := range s.Secrets {
			fmt.Fprintf(&b, "%s = %s\n", tomlKey(sec.Env), tomlString(sec.Item))
		}
	}
	return b.String()
}

// packageRoot is the folder a program file belongs to: the nearest one up
// with a package.json or pyproject.toml, else the file's own folder.
func packageRoot(file string, exists func(string) bool) string {
	for d := filepath.Dir(file); d != filepath.Dir(d); d = filepath.Dir(d) {
		if exists(filepath.Join(d, "package.json")) || exists(filepath.Join(d, "pyproject.toml")) {
			return d
		}
	}
	return filepath.Dir(file)
}

// UnwrapOptions says how to unwrap.
type UnwrapOptions struct {
	Mcpcell string // the running executable, also recognised as mcpcell
	Only    []string
	// Profile reads a wrapped entry's profile: its [env] set and its
	// secrets (env name to keyring item of service mcpcell).
	Profile func(path string) (set []KV, secrets map[string]string, err error)
	// Value reads a secret's value, for --restore-secrets; nil keeps
	// secrets in the keyring.
	Value func(item string) (string, error)
	// Origin reads the origin wrap recorded for an item (as
	// WrapOptions.Origin): an item is restored into a config only for the
	// entry it was made for.
	Origin func(item string) (o Origin, found bool, err error)
}

// PlanUnwrap decides what unwrap does with each entry of f. With
// o.Value it brings back the secrets of every selected entry that wrap
// made for it (those its profile takes from the keyring, and markers in
// its env, as a restored backup holds) or fails as a whole: an item that
// cannot be read is an error, so that nothing changes by half, and so is
// (a *Refusal) a marker of an item wrap did not make for its entry. An
// item the profile names that wrap did not make for the entry is not
// written into the config.
func PlanUnwrap(f *File, o UnwrapOptions) ([]*Server, error) {
	var out []*Server
	for _, e := range f.Entries {
		if !selected(o.Only, e.Name) {
			continue
		}
		s := &Server{Entry: e}
		out = append(out, s)
		if e.Invalid != "" {
			s.Action = "left alone: " + e.Invalid
			continue
		}
		// restore reads item for env, if wrap made it for this entry.
		restore := func(env, item string, marker bool) (v string, ok bool, err error) {
			mine, err := madeFor(item, originOf(f, e, env), f, e, o.Origin)
			if err != nil {
				return "", false, err
			}
			if !mine {
				if marker {
					return "", false, foreignMarker(f, e, env, item, o.Origin)
				}
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: the profile takes it from keyring item %s, which wrap did not make for this server: it is not written into the config (the item stays in the keyring); add it yourself if this server should have it", env, item))
				return "", false, nil
			}
			v, err = o.Value(item)
			if err != nil {
				return "", false, fmt.Errorf("%s of %s: %w", env, e.Name, err)
			}
			s.Secrets = append(s.Secrets, Secret{Env: env, Item: item, Value: v, Owned: true})
			return v, true, nil
		}
		// The env entries that stay in the config, with markers resolved.
		var env, shown []KV
		for _, kv := range e.Env {
			item, ok := parseMarker(kv.Value)
			if !ok {
				env, shown = append(env, kv), append(shown, kv)
				continue
			}
			if o.Value == nil {
				env, shown = append(env, kv), append(shown, kv)
				s.Notes = append(s.Notes, fmt.Sprintf("%s is a marker: its value is in the keyring as item %s; --restore-secrets puts it back", kv.Key, item))
				continue
			}
			v, _, err := restore(kv.Key, item, true)
			if err != nil {
				return nil, err
			}
			env, shown = append(env, KV{kv.Key, v}), append(shown, kv)
		}
		profile, orig, ok := wrapped(e, o.Mcpcell)
		if !ok {
			if len(s.Secrets) == 0 {
				s.Action = "left alone: not wrapped"
				continue
			}
			s.Action = "restore secrets"
			s.Members, s.Shown = withEnv(e.Members, env, false), withEnv(e.Members, shown, false)
			continue
		}
		s.Action, s.Profile = "unwrap", profile
		if profile != "" {
			set, secrets, err := o.Profile(profile)
			if err != nil {
				if o.Value != nil {
					return nil, fmt.Errorf("%s: cannot read its profile %s, so its secrets cannot be restored: %w", e.Name, profile, err)
				}
				s.Notes = append(s.Notes, fmt.Sprintf("cannot read the profile %s (%v): its [env] is not restored", profile, err))
			}
			env, shown = append(env, set...), append(shown, set...)
			for _, name := range slices.Sorted(maps.Keys(secrets)) {
				item := secrets[name]
				if o.Value == nil {
					s.Notes = append(s.Notes, fmt.Sprintf("%s stays in the keyring (item %s) and the unwrapped server will not get it; --restore-secrets writes it back into the config", name, item))
					continue
				}
				v, ok, err := restore(name, item, false)
				if err != nil {
					return nil, err
				}
				if ok {
					env, shown = append(env, KV{name, v}), append(shown, KV{name, Marker(item)})
				}
			}
			s.Notes = append(s.Notes, "the profile "+profile+" is left in place")
		}
		unwrapped := make([]Member, 0, len(e.Members))
		for _, m := range e.Members {
			switch m.Name {
			case "command":
				unwrapped = append(unwrapped, Member{"command", mustJSON(e.Args[orig])})
			case "args":
				unwrapped = append(unwrapped, Member{"args", mustJSON(append([]string{}, e.Args[orig+1:]...))})
			default:
				unwrapped = append(unwrapped, m)
			}
		}
		s.Members, s.Shown = withEnv(unwrapped, env, true), withEnv(unwrapped, shown, true)
	}
	return out, nil
}

// withEnv is members with env as the env member: in its place, or (last)
// at the end; none when env is empty.
func withEnv(members []Member, env []KV, last bool) []Member {
	var out []Member
	for _, m := range members {
		if m.Name != "env" {
			out = append(out, m)
		} else if len(env) > 0 && !last {
			out = append(out, Member{"env", envJSON(env)})
		}
	}
	if len(env) > 0 && last {
		out = append(out, Member{"env", envJSON(env)})
	}
	return out
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
