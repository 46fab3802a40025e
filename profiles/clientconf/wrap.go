package clientconf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Server is what wrap (or unwrap) does with one entry.
type Server struct {
	Entry   *Entry
	Action  string // "wrap", "unwrap", or why it is left alone
	Profile string // the profile's path
	// ProfileText is the profile to write; "" when one exists already.
	ProfileText string
	Secrets     []Secret // env entries that move into (or out of) the keyring
	Notes       []string
	Members     []Member // the entry's new members
}

// Secret is an env entry that moves between the config and the keyring.
// Value is never printed.
type Secret struct {
	Env, Item, Value string
}

// WrapOptions says how to wrap.
type WrapOptions struct {
	Mcpcell   string   // absolute path of the mcpcell executable
	ConfigDir string   // ${CONFIG}: user-wide profiles go below it
	Only      []string // --server names; empty means all
	Exists    func(string) bool
	IsDir     func(string) bool
}

var (
	// Long words count anywhere in a name (PGPASSWORD); short ones only
	// as a whole word between _ or - (so not KEYBOARD).
	credentialParts = []string{"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "APIKEY", "PRIVATE", "COOKIE", "BEARER"}
	credentialWords = []string{"KEY", "PAT", "PASS", "AUTH", "PWD"}
	credentialValue = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|sk-|sk_live_|rk_live_|xox[abpors]-|AKIA|ASIA|AIza|ya29\.|eyJ[A-Za-z0-9_-]+\.)`)
	})
	varRef     = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_]`) })
	unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })
)

// IsCredential reports whether an env entry holds a credential, by its
// name or by the shape of its value.
func IsCredential(name, value string) bool {
	upper := strings.ToUpper(name)
	for _, p := range credentialParts {
		if strings.Contains(upper, p) {
			return true
		}
	}
	for _, part := range strings.FieldsFunc(upper, func(r rune) bool { return r == '_' || r == '-' }) {
		if slices.Contains(credentialWords, part) {
			return true
		}
	}
	return credentialValue().MatchString(value)
}

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

// PlanWrap decides what wrap does with each entry of f.
func PlanWrap(f *File, o WrapOptions) []*Server {
	var out []*Server
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
		s.Action = "wrap"
		slug := unsafeName().ReplaceAllString(e.Name, "-")
		if e.Project != "" {
			s.Profile = filepath.Join(e.Project, ".mcpcell."+slug+".toml")
		} else {
			s.Profile = filepath.Join(o.ConfigDir, "wrapped", string(f.Client), slug, ".mcpcell.toml")
		}
		var set, pass []KV
		for _, kv := range e.Env {
			switch {
			case varRef().MatchString(kv.Value):
				pass = append(pass, kv)
				s.Notes = append(s.Notes, fmt.Sprintf("%s refers to %s, which the client fills in: it stays in the config and mcpcell passes it through", kv.Key, varRef().FindString(kv.Value)))
			case IsCredential(kv.Key, kv.Value) && len(kv.Value) >= 8:
				item := strings.ToLower(unsafeName().ReplaceAllString(string(f.Client)+"-"+e.Name+"-"+kv.Key, "-"))
				s.Secrets = append(s.Secrets, Secret{Env: kv.Key, Item: item, Value: kv.Value})
			case IsCredential(kv.Key, kv.Value):
				pass = append(pass, kv)
				s.Notes = append(s.Notes, fmt.Sprintf("%s looks like a credential but is shorter than 8 bytes, too short to redact: it stays in the config", kv.Key))
			default:
				set = append(set, kv)
			}
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
		if o.Exists(s.Profile) {
			s.Notes = append(s.Notes, "the profile "+s.Profile+" exists and is kept as it is")
		} else {
			s.ProfileText = profileText(f, e, s, set, pass, o)
		}
		if base := filepath.Base(e.Command); base == "npx" || base == "uvx" || base == "bunx" || base == "pnpx" {
			s.Notes = append(s.Notes, base+" downloads the server when it starts, and the cell has no network: install the server once and run it with node or python instead, or grant what the download needs")
		}
	}
	return out
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

func tomlString(s string) string { return strconv.Quote(s) }

// profileText is the profile wrap writes for an entry.
func profileText(f *File, e *Entry, s *Server, set, pass []KV, o WrapOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by mcpcell wrap for the %s server %q\n# in %s.\n", f.Client, e.Name, f.Path)
	fmt.Fprintf(&b, "# The server: %s\n", strings.Join(append([]string{e.Command}, e.Args...), " "))
	b.WriteString("# Edit it freely: wrap does not overwrite a profile that exists.\n")
	b.WriteString("include = [\"default\"]  # the system runtimes (node, python, git), the project read-write, no network\n")
	var read, write, exec []string
	if filepath.IsAbs(e.Command) {
		exec = append(exec, e.Command)
		read = append(read, e.Command)
	}
	for _, a := range e.Args {
		if !filepath.IsAbs(a) || !o.Exists(a) {
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
				q := make([]string, len(l.list))
				for i, p := range slices.Compact(l.list) {
					q[i] = tomlString(p)
				}
				fmt.Fprintf(&b, "%s = [%s]\n", l.key, strings.Join(slices.DeleteFunc(q, func(s string) bool { return s == "" }), ", "))
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
			fmt.Fprintf(&b, "%s = %s\n", sec.Env, tomlString(sec.Item))
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
}

// PlanUnwrap decides what unwrap does with each entry of f.
func PlanUnwrap(f *File, o UnwrapOptions) []*Server {
	var out []*Server
	for _, e := range f.Entries {
		if !selected(o.Only, e.Name) {
			continue
		}
		s := &Server{Entry: e}
		out = append(out, s)
		profile, orig, ok := wrapped(e, o.Mcpcell)
		if !ok {
			s.Action = "left alone: not wrapped"
			continue
		}
		s.Action, s.Profile = "unwrap", profile
		env := append([]KV(nil), e.Env...)
		if profile != "" {
			set, secrets, err := o.Profile(profile)
			if err != nil {
				s.Notes = append(s.Notes, fmt.Sprintf("cannot read the profile %s (%v): its [env] and [secrets] are not restored", profile, err))
			}
			env = append(env, set...)
			for _, name := range sortedKeys(secrets) {
				item := secrets[name]
				if o.Value == nil {
					s.Notes = append(s.Notes, fmt.Sprintf("%s stays in the keyring (item %s) and the unwrapped server will not get it; --restore-secrets writes it back into the config", name, item))
					continue
				}
				v, err := o.Value(item)
				if err != nil {
					s.Notes = append(s.Notes, fmt.Sprintf("%s: %v", name, err))
					continue
				}
				s.Secrets = append(s.Secrets, Secret{Env: name, Item: item, Value: v})
				env = append(env, KV{name, v})
			}
			s.Notes = append(s.Notes, "the profile "+profile+" is left in place")
		}
		for _, m := range e.Members {
			switch m.Name {
			case "command":
				s.Members = append(s.Members, Member{"command", mustJSON(e.Args[orig])})
			case "args":
				s.Members = append(s.Members, Member{"args", mustJSON(append([]string{}, e.Args[orig+1:]...))})
			case "env":
			default:
				s.Members = append(s.Members, m)
			}
		}
		if len(env) > 0 {
			s.Members = append(s.Members, Member{"env", envJSON(env)})
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Edits are the entry edits of the servers that change.
func Edits(servers []*Server) []Edit {
	var out []Edit
	for _, s := range servers {
		if s.Action == "wrap" || s.Action == "unwrap" {
			out = append(out, Edit{Entry: s.Entry, Members: s.Members})
		}
	}
	return out
}

// OSExists is the real file system's Exists.
func OSExists(p string) bool { _, err := os.Stat(p); return err == nil }

// OSIsDir is the real file system's IsDir.
func OSIsDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }
