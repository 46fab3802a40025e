package clientconf

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

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

// folderAdvice is what to do about a folder argument wrap does not grant
// for why.
func folderAdvice(why string) string {
	switch why {
	case "the root folder", "your home folder", "a folder above your home folder":
		// run refuses a write grant that holds mcpcell's own folders.
		return "it holds mcpcell's own folders, whose write grant run refuses: grant the folders below it that the server should have in [filesystem] write of the profile, then mcpcell trust"
	}
	return "if the server must have it, grant it in [filesystem] write of the profile yourself, knowingly, then mcpcell trust"
}

// scriptIndex is where the server's code is on its command line (words:
// the command, then its args): the script an interpreter runs (node
// FILE, python FILE, deno run FILE, bun [run] FILE, uv run FILE…), 0 for
// the command itself, -1 when the interpreter runs none (python -m,
// node -e) or when a flag before it is one scriptIndex does not know
// (node --foo X FILE: X may be the flag's value): each arg is then a
// plain file or folder argument, never a code root.
func scriptIndex(words []string) int {
	base := strings.TrimSuffix(strings.ToLower(filepath.Base(words[0])), ".exe")
	if base == "env" {
		// env [-i] [NAME=VALUE…] COMMAND ARGS…
		for i := 1; i < len(words); i++ {
			if w := words[i]; !strings.HasPrefix(w, "-") && !strings.Contains(w, "=") {
				if n := scriptIndex(words[i:]); n > 0 {
					return i + n
				}
				return -1
			}
		}
		return -1
	}
	from := 1
	valued, stop := map[string]bool{}, map[string]bool{}
	// known says whether a flag that takes no value is one the
	// interpreter has; nil takes every flag for one (deno, bun, uv).
	var known func(string) bool
	switch {
	case base == "node" || base == "nodejs" || base == "tsx" || base == "ts-node":
		valued = map[string]bool{"-r": true, "--require": true, "--import": true, "--loader": true, "--experimental-loader": true, "-C": true, "--conditions": true, "--env-file": true, "--title": true}
		stop = map[string]bool{"-e": true, "--eval": true, "-p": true, "--print": true, "-i": true, "--interactive": true}
		known = func(w string) bool { return strings.Contains(w, "=") || nodeFlags[w] }
	case pythonName().MatchString(base):
		valued = map[string]bool{"-W": true, "-X": true, "--check-hash-based-pycs": true}
		stop = map[string]bool{"-m": true, "-c": true}
		known = pythonFlag
	case base == "deno" && len(words) > 1 && words[1] == "run":
		from = 2
	case base == "bun" && len(words) > 1 && words[1] == "run":
		from = 2
	case base == "bun":
	case base == "uv" && len(words) > 1 && words[1] == "run":
		from = 2
		valued = map[string]bool{"--with": true, "--with-requirements": true, "--directory": true, "--project": true, "--python": true, "-p": true, "--env-file": true, "--extra": true, "--group": true, "--package": true, "--index": true}
	default:
		return 0
	}
	for i := from; i < len(words); i++ {
		switch w := words[i]; {
		case w == "--" && i+1 < len(words):
			return i + 1
		case stop[w]:
			return -1
		case strings.HasPrefix(w, "-") && len(w) > 1:
			switch {
			case valued[w]:
				i++
			case known != nil && !known(w):
				return -1
			}
		default:
			return i
		}
	}
	return -1
}

// nodeFlags are node's flags that take no value and that a server's
// command line is likely to hold.
var nodeFlags = map[string]bool{
	"--no-warnings": true, "--enable-source-maps": true, "--trace-warnings": true,
	"--no-deprecation": true, "--trace-deprecation": true, "--throw-deprecation": true,
	"--preserve-symlinks": true, "--preserve-symlinks-main": true, "--expose-gc": true,
	"--abort-on-uncaught-exception": true, "--inspect": true, "--inspect-brk": true,
	"--no-addons": true, "--experimental-vm-modules": true, "--experimental-strip-types": true,
	"--no-experimental-fetch": true, "--use-openssl-ca": true, "--use-bundled-ca": true,
}

// pythonFlag says whether w is python's short flags that take no value
// (-u, -OO, -Bu), or -W/-X with their value attached (-Wignore).
func pythonFlag(w string) bool {
	if strings.HasPrefix(w, "-W") || strings.HasPrefix(w, "-X") {
		return len(w) > 2
	}
	return len(w) > 1 && w[0] == '-' && strings.Trim(w[1:], "bBdEhiIOPqRsSuvVx") == ""
}

// ScriptIndex is scriptIndex, for run's account of a server that exited
// before it answered: the one rule of what is the server's code.
func ScriptIndex(words []string) int {
	if len(words) == 0 {
		return -1
	}
	return scriptIndex(words)
}

var pythonName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(python|pypy)[0-9.]*$`) })

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
	if _, preset := downloader(line.words); preset != "" {
		fmt.Fprintf(&b, "include = [\"default\", %q]  # the system runtimes (node, python, git), the project read-write, no network but %s\n", preset, presetHosts[preset])
	} else {
		b.WriteString("include = [\"default\"]  # the system runtimes (node, python, git), the project read-write, no network\n")
	}
	var read, write, exec []string
	// A path with "${" would be read as a profile variable.
	usable := func(i int, p string) bool {
		return !line.cred[i] && filepath.IsAbs(p) && !strings.Contains(p, "${")
	}
	// sensitive says why wrap grants no path p, or "": every path it
	// grants is asked, the server's code and its root too.
	sensitive := func(p string) string {
		if o.Sensitive == nil {
			return "a path mcpcell cannot tell from a credential"
		}
		return o.Sensitive(p)
	}
	if usable(0, e.Command) {
		exec = append(exec, e.Command)
		read = append(read, e.Command)
		// A package's bin link (node_modules/.bin/NAME): its script
		// imports the packages beside it.
		if o.CodeRoot != nil && o.Exists(e.Command) {
			if root, _ := o.CodeRoot(e.Command); filepath.Base(root) == "node_modules" && sensitive(root) == "" {
				read = append(read, root)
			}
		}
	}
	script := scriptIndex(line.words)
	for i, a := range e.Args {
		if !usable(i+1, a) || !o.Exists(a) {
			continue
		}
		what := fmt.Sprintf("args[%d] %s", i, quoteWord(a))
		switch {
		case o.IsDir(a):
			why := "mcpcell cannot tell whether it is too wide"
			if o.WideWrite != nil {
				why = o.WideWrite(a)
			}
			if why == "" {
				why = sensitive(a)
			}
			if why != "" {
				s.Notes = append(s.Notes, fmt.Sprintf("%s: a folder, not granted, as it is %s: the server can neither read nor write it in the cell; %s", what, why, folderAdvice(why)))
				continue
			}
			write = append(write, a)
			s.Notes = append(s.Notes, fmt.Sprintf("%s: a folder: the profile grants the server write on it (to read, create, change and delete every file in it)", what))
		case i+1 == script:
			// The script is an argument like any other: the config that
			// names it may be a repository's, and put a credential here.
			if why := sensitive(a); why != "" {
				s.Notes = append(s.Notes, fmt.Sprintf("%s: the server's code, not granted, as it is %s; if it is the server's code, add it (or the folder that holds its packages) to [filesystem] read of the profile yourself, knowingly (it may be a credential), then mcpcell trust", what, why))
				continue
			}
			root, wide := filepath.Dir(a), ""
			if o.CodeRoot != nil {
				root, wide = o.CodeRoot(a)
			}
			if why := sensitive(root); root != "" && why != "" {
				wide, root = root+" is "+why, a
			}
			if root != "" {
				read = append(read, root)
			}
			switch {
			case wide != "" && root != "":
				s.Notes = append(s.Notes, fmt.Sprintf("%s: the server's code: the profile grants only %s (%s: too wide to grant); if the server cannot load what it imports, add the folder that holds its packages to [filesystem] read", what, root, wide))
			case wide != "":
				s.Notes = append(s.Notes, fmt.Sprintf("%s: the server's code: the profile grants nothing for it (%s: too wide to grant); add the folder that holds the server's code to [filesystem] read", what, wide))
			}
		default:
			if why := sensitive(a); why != "" {
				s.Notes = append(s.Notes, fmt.Sprintf("%s: not granted, as it is %s; if the server must read it, add it to [filesystem] read of the profile yourself, knowingly (it may be a credential), then mcpcell trust", what, why))
				continue
			}
			read = append(read, a)
			s.Notes = append(s.Notes, fmt.Sprintf("%s: a file: the profile grants the server read of this file only", what))
		}
	}
	if len(read)+len(write)+len(exec) > 0 {
		b.WriteString("\n[filesystem]\n# From the server's command line: its program and code (read), each file it\n# was given (read, that file only), each folder it was given (write).\n")
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
