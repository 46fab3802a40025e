package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/keystore"
	"github.com/mcpcell/mcpcell/profiles"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// wrap puts mcpcell in front of a client's stdio servers (or, with
// unwrapping, takes it away).
func (c *cli) wrap(args []string, unwrapping bool) int {
	name := "wrap"
	if unwrapping {
		name = "unwrap"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	client := fs.String("client", "", "claude-desktop, claude-code, cursor or vscode")
	config := fs.String("config", "", "the configuration file (default: the client's)")
	var only stringList
	fs.Var(&only, "server", "only this server (repeatable)")
	dry := fs.Bool("dry-run", false, "print the plan and the diff; change nothing")
	yes := fs.Bool("yes", false, "apply without asking")
	restore := fs.Bool("restore-secrets", false, "unwrap: move secrets from the keyring back into the config")
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("%s: %w", name, err))
	}
	if *client == "" {
		return c.usage2(fmt.Errorf("%s: --client is required (claude-desktop, claude-code, cursor, vscode)", name))
	}
	cl := clientconf.Client(*client)
	path := *config
	if path == "" {
		var err error
		if path, err = c.clientConfigPath(cl); err != nil {
			return c.usage2(err)
		}
	}
	path, _ = filepath.Abs(path)
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist) && *config == "":
		return c.fail(fmt.Errorf("%s: %s has no configuration where it keeps one on this machine, %s", name, *client, path), "give the client's configuration file with --config")
	case errors.Is(err, os.ErrNotExist):
		return c.fail(fmt.Errorf("%s: there is no file %s (--config)", name, path), "give the path of the client's configuration file")
	case err != nil:
		return c.fail(fmt.Errorf("%s: %w", name, err), "give the configuration file with --config")
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return c.fail(err, "")
	}
	folders := profiles.UserFolders(c.getenv)
	f, err := clientconf.Parse(cl, path, text, folders.NotProject)
	if err != nil {
		return c.fail(err, "fix the file, or give another with --config")
	}
	exe, err := os.Executable()
	if c.self != "" {
		exe = c.self
	}
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return c.fail(fmt.Errorf("finding mcpcell's own path: %w", err), "")
	}
	// The configuration names this binary for good: a build's (go run,
	// go test, a temporary folder) is gone or another program by the time
	// the client starts it.
	if d := buildFolder(exe, c.buildDirs()); d != "" && !unwrapping && !c.anyBinary {
		return c.fail(fmt.Errorf("%s: mcpcell runs from %s, in the temporary or build folder %s: the client would start whatever is there when that folder is cleaned or built again", name, exe, d),
			"install mcpcell first: go install github.com/mcpcell/mcpcell/cmd/mcpcell@latest (or go install ./cmd/mcpcell in a clone), then run wrap with the installed binary")
	}
	var servers []*clientconf.Server
	if unwrapping {
		o := clientconf.UnwrapOptions{Mcpcell: exe, Only: only, Profile: readWrappedProfile, Origin: c.origin}
		if *restore {
			o.Value = func(item string) (string, error) {
				return c.store.Get(keystore.Ref{Service: keystore.Service, User: item})
			}
		}
		servers, err = clientconf.PlanUnwrap(f, o)
		if err != nil {
			hint := "unwrap without --restore-secrets leaves the secrets in the keyring"
			if h := wrapHint(err); h != "" {
				hint = h + "; or " + hint
			}
			return c.fail(fmt.Errorf("unwrap: %w; nothing was changed", err), hint)
		}
	} else {
		vars := profilesVars(c)
		servers, err = clientconf.PlanWrap(f, clientconf.WrapOptions{Mcpcell: exe, ConfigDir: vars, Primary: c.primaryFile(cl, path), Only: only, Exists: clientconf.OSExists, IsDir: clientconf.OSIsDir, Folder: clientconf.OSIsDir, CodeRoot: folders.CodeRoot, WideWrite: c.wideWrite(folders), Sensitive: folders.Sensitive, Profile: readWrappedProfile, Held: c.held, Origin: c.origin})
		if err != nil {
			return c.fail(fmt.Errorf("wrap: %w; nothing was changed", err), wrapHint(err))
		}
	}
	for _, n := range only {
		found := false
		for _, s := range servers {
			found = found || s.Entry.Name == n
		}
		if !found {
			return c.fail(fmt.Errorf("%s: no server %q in %s", name, n, path), "")
		}
	}
	// A profile wrap keeps may have been planted: it runs only once the
	// user trusts it.
	var untrustedKept []string // notes on profiles run will not take as they are
	if !unwrapping {
		for _, s := range servers {
			if s.Action == "wrap" && s.ProfileText == "" {
				if n := c.keptTrusted(s.Profile, wrappedCommand(s.Entry)); n != "" {
					s.Notes = append(s.Notes, n)
					untrustedKept = append(untrustedKept, n)
				}
			}
		}
	}
	edits := clientconf.Edits(servers)
	newText := f.Apply(edits)
	// The backup: each credential that moves into the keyring is its
	// marker there, so the backup holds no secret that left the config.
	backupText := f.Backup(servers)

	// Values never reach the terminal: the plan names them, and the diff
	// is taken between texts that hold markers in their place (and
	// redacted as well, in case a value also sits elsewhere in the file).
	// The credentials that stay in the config (arguments, short values,
	// other servers') are redacted from what is printed too.
	secrets := map[string]keystore.Secret{}
	for _, s := range servers {
		for _, sec := range s.Secrets {
			if sec.Value != "" {
				secrets["secret "+sec.Env] = keystore.New(sec.Env, sec.Value)
			}
		}
	}
	moved := map[string]bool{}
	for _, sec := range secrets {
		moved[sec.Value()] = true
	}
	for _, fd := range f.Findings() {
		for i, p := range fd.Parts {
			if len(p) >= keystore.MinLength && !moved[p] {
				name := fmt.Sprintf("credential at %s", fd.Path)
				if i > 0 {
					name += fmt.Sprintf(" (%d)", i+1)
				}
				secrets[name] = keystore.New(name, p)
			}
		}
	}
	red := keystore.NewRedactor(secrets)
	fail := func(err error, hint string) int {
		return c.fail(errors.New(red.String(err.Error())), red.String(hint))
	}
	out := c.stdout
	// Names, projects["DIR"] folders and env names come from the
	// client's configuration, which a cloned repository may write: each
	// is shown through printable, as check shows a profile's text, so
	// that none redraws the plan (erases a note, prints a forged one).
	fmt.Fprintf(out, "%s: %s (%s)\n", name, printable(path), cl)
	for _, s := range servers {
		fmt.Fprintf(out, "  %s: %s\n", printable(s.Entry.Name), printable(s.Action))
		if s.Action == "wrap" {
			fmt.Fprintf(out, "    profile: %s\n", printable(s.Profile))
		}
		for _, sec := range s.Secrets {
			switch {
			case unwrapping:
				fmt.Fprintf(out, "    secret %s: back from the keyring item %q into the config\n", printable(sec.Env), sec.Item)
			case sec.Stored:
				fmt.Fprintf(out, "    secret %s: in the keyring as item %q already\n", printable(sec.Env), sec.Item)
			default:
				fmt.Fprintf(out, "    secret %s: into the keyring as item %q\n", printable(sec.Env), sec.Item)
			}
		}
		for _, n := range s.Notes {
			fmt.Fprintf(out, "    note: %s\n", printable(red.String(n)))
		}
		for _, w := range s.Warnings {
			fmt.Fprintf(out, "    warning: %s\n", printable(red.String(w)))
		}
	}
	for _, b := range plainBackups(cl, path, newText) {
		fmt.Fprintf(out, "  note: %s, an older backup, holds credentials in plain text that the config no longer holds (mode %v): delete it once you no longer need it\n", printable(b.path), b.mode)
	}
	if len(edits) == 0 {
		fmt.Fprintln(out, "nothing to change")
		return 0
	}
	fmt.Fprintln(out)
	shown := f.Apply(clientconf.ShownEdits(servers))
	fmt.Fprint(out, printableLines(string(red.Text([]byte(unifiedDiff(path, string(backupText), string(shown)))))))
	for _, s := range servers {
		if s.ProfileText != "" {
			fmt.Fprintf(out, "\nnew profile %s:\n%s", printable(s.Profile), printableLines(red.String(s.ProfileText)))
		}
	}
	fmt.Fprintf(out, "\nbackup: %s.mcpcell-backup-TIME, mode 0600, %s\n", printable(path), backupNote(cl, path, backupText))
	if *dry {
		fmt.Fprintln(out, "\n(dry run: nothing was changed)")
		return 0
	}
	if !*yes {
		ok, err := c.confirm("apply?")
		if err != nil {
			return fail(err, "pass --yes to apply without asking, or --dry-run to look first")
		}
		if !ok {
			fmt.Fprintln(c.stderr, "mcpcell: nothing changed")
			return 1
		}
	}
	// The keyring first: if it fails, no file has changed.
	if !unwrapping {
		for _, s := range servers {
			for _, sec := range s.Secrets {
				if sec.Stored {
					continue
				}
				// The origin first: an item is never there without it.
				if err := c.recordOrigin(sec.Item, sec.Origin); err != nil {
					return fail(fmt.Errorf("recording where keyring item %s belongs: %w; no file was changed", sec.Item, err), keystore.Hint(err))
				}
				if err := keystore.Put(c.store, sec.Item, sec.Value); err != nil {
					return fail(fmt.Errorf("storing %s of %s: %w; no file was changed", sec.Env, s.Entry.Name, err), keystore.Hint(err))
				}
			}
		}
	}
	for _, s := range servers {
		if s.ProfileText == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(s.Profile), 0o700); err != nil {
			return fail(err, "")
		}
		// Never through a link or over a file that appeared since the plan.
		if err := writeNew(s.Profile, []byte(s.ProfileText)); err != nil {
			return fail(fmt.Errorf("writing the profile: %w; %s was not changed", err, path), "something appeared at "+s.Profile+" (a link?): remove it and run wrap again")
		}
	}
	// run takes a profile wrap wrote as the user approved it, with the
	// entry's command.
	for _, s := range servers {
		if s.ProfileText == "" {
			continue
		}
		if c.written != nil {
			c.written(s.Profile)
		}
		if n := c.trustWritten(s.Profile, []byte(s.ProfileText), wrappedCommand(s.Entry)); n != "" {
			untrustedKept = append(untrustedKept, n)
		}
	}
	backup, err := writeBackup(path, backupText, time.Now())
	if err != nil {
		return fail(fmt.Errorf("backing up %s: %w; it was not changed", path, err), "")
	}
	if err := writeAtomic(path, newText, st.Mode().Perm()); err != nil {
		return fail(fmt.Errorf("writing %s: %w", path, err), "the backup is "+backup)
	}
	if unwrapping {
		for _, s := range servers {
			for _, sec := range s.Secrets {
				if !sec.Owned {
					continue
				}
				if err := keystore.Remove(c.store, sec.Item); err != nil {
					fmt.Fprintf(c.stderr, "mcpcell: note: keyring item %s stays: %s\n", printable(sec.Item), printable(err.Error()))
					continue
				}
				c.store.Delete(keystore.Ref{Service: originService, User: sec.Item})
			}
		}
	}
	fmt.Fprintf(c.stderr, "mcpcell: %s written; restart %s to use it\n", printable(path), cl)
	fmt.Fprintf(c.stderr, "mcpcell: backup: %s (mode 0600), %s\n", printable(backup), backupNote(cl, path, backupText))
	for _, s := range servers {
		for _, w := range s.Warnings {
			fmt.Fprintf(c.stderr, "mcpcell: warning: %s: %s\n", printable(s.Entry.Name), printable(red.String(w)))
		}
	}
	for _, n := range untrustedKept {
		fmt.Fprintf(c.stderr, "mcpcell: note: %s\n", printable(red.String(n)))
	}
	return 0
}

// wideWrite says why wrap does not grant write on a folder argument:
// folders.WideWrite, or a folder on the PATH or one that holds one (~/bin,
// ~/go): a program the server put there would run outside the cell the
// next time the user runs a command of that name.
func (c *cli) wideWrite(folders profiles.Folders) func(string) string {
	return func(dir string) string {
		if why := folders.WideWrite(dir); why != "" {
			return why
		}
		d, err := profiles.RealPath(dir)
		if err != nil {
			return "a folder mcpcell cannot resolve (" + err.Error() + ")"
		}
		for _, p := range filepath.SplitList(c.getenv("PATH")) {
			if r, err := profiles.RealPath(p); err == nil && (r == d || strings.HasPrefix(r, d+"/")) {
				return "a folder on your PATH or one that holds one (" + p + "): a program the server put there would run outside the cell"
			}
		}
		return ""
	}
}

// primaryFile is the client's own user-wide configuration file, as path
// spells it when path is that file (through a link, say).
func (c *cli) primaryFile(cl clientconf.Client, path string) string {
	home, _ := os.UserHomeDir()
	primary, err := clientconf.UserPath(cl, clientconf.Env{GOOS: runtime.GOOS, Home: c.getenvOr("HOME", home), AppData: c.getenv("APPDATA")})
	if err != nil {
		return ""
	}
	a, err1 := filepath.EvalSymlinks(path)
	b, err2 := filepath.EvalSymlinks(primary)
	if err1 == nil && err2 == nil && a == b {
		return path
	}
	return primary
}

// wrappedCommand is the server command of an entry as wrap leaves it
// after "--".
func wrappedCommand(e *clientconf.Entry) []string {
	return append([]string{e.Command}, e.Args...)
}

// held reads an item of mcpcell's own service for wrap's plan.
func (c *cli) held(item string) (string, bool, error) {
	v, err := c.store.Get(keystore.Ref{Service: keystore.Service, User: item})
	if errors.Is(err, keystore.ErrNotFound) {
		return "", false, nil
	}
	return v, err == nil, err
}

// originService is the keyring service of the records of where wrap's
// items belong (clientconf.Origin, as JSON; the account is the item).
const originService = "mcpcell-wrap"

// origin reads the record of where item belongs; found is false when
// there is none (or it cannot be read as one).
func (c *cli) origin(item string) (clientconf.Origin, bool, error) {
	v, err := c.store.Get(keystore.Ref{Service: originService, User: item})
	if errors.Is(err, keystore.ErrNotFound) {
		return clientconf.Origin{}, false, nil
	}
	if err != nil {
		return clientconf.Origin{}, false, err
	}
	var o clientconf.Origin
	if json.Unmarshal([]byte(v), &o) != nil {
		return clientconf.Origin{}, false, nil
	}
	return o, true, nil
}

func (c *cli) recordOrigin(item string, o clientconf.Origin) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return c.store.Set(keystore.Ref{Service: originService, User: item}, string(b))
}

// wrapHint is the fix for a wrap or unwrap error, or "".
func wrapHint(err error) string {
	var r *clientconf.Refusal
	if errors.As(err, &r) {
		return r.Hint
	}
	return keystore.Hint(err)
}

func (c *cli) getenvOr(k, def string) string {
	if v := c.getenv(k); v != "" {
		return v
	}
	return def
}

// profilesVars is ${CONFIG}.
func profilesVars(c *cli) string {
	if v := c.getenv("XDG_CONFIG_HOME"); filepath.IsAbs(v) {
		return filepath.Join(v, "mcpcell")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(c.getenvOr("HOME", home), ".config", "mcpcell")
}

// readWrappedProfile reads only the file itself (not its includes): the
// [env] set and the secrets of service mcpcell that wrap wrote.
func readWrappedProfile(path string) ([]clientconf.KV, map[string]string, error) {
	var f profiles.File
	if _, err := toml.DecodeFile(path, &f); err != nil {
		return nil, nil, err
	}
	var set []clientconf.KV
	for _, k := range slices.Sorted(maps.Keys(f.Env.Set)) {
		set = append(set, clientconf.KV{Key: k, Value: f.Env.Set[k]})
	}
	secrets := map[string]string{}
	for k, v := range f.Secrets {
		if s, ok := v.(string); ok {
			secrets[k] = s
		}
	}
	return set, secrets, nil
}
