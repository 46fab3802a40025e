package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/profiles"
)

// clients are the clients wrap knows, in the order audit --server reads
// their configurations.
var clients = []clientconf.Client{clientconf.ClaudeDesktop, clientconf.ClaudeCode, clientconf.Cursor, clientconf.VSCode}

// wrappedEntry is a server entry of a client's configuration.
type wrappedEntry struct {
	client  clientconf.Client
	config  string
	where   string // the entry's table, for people
	name    string
	wrapped bool     // it runs mcpcell run
	profile string   // the profile its run --profile names
	project string   // the project its run --project names
	argv    []string // the server command it runs
}

func (w wrappedEntry) String() string {
	return fmt.Sprintf("%s (%s: %s)", w.client, w.config, w.where)
}

// wrappedProfile finds the server that wrap wrapped as name in a
// client's configurations (client's only, when given; config, when
// given, instead of the client's files), as audit --server reads its
// log: each file the client reads (clientconf.Paths: the working
// folder's project file and the user's, with Claude Code's projects[…]).
// Several matches, or none, are errors that list what there is.
func (c *cli) wrappedProfile(name, client, config string) (wrappedEntry, int) {
	list := clients
	if client != "" {
		if !slices.Contains(clients, clientconf.Client(client)) {
			return wrappedEntry{}, c.usage2(fmt.Errorf("audit: unknown client %q (known: claude-desktop, claude-code, cursor, vscode)", client))
		}
		list = []clientconf.Client{clientconf.Client(client)}
	}
	var all []wrappedEntry
	var read []string
	for _, cl := range list {
		paths := []string{config}
		if config == "" {
			var err error
			if paths, err = c.clientConfigPaths(cl); err != nil {
				return wrappedEntry{}, c.fail(fmt.Errorf("audit: %w", err), "")
			}
		}
		for _, path := range paths {
			entries, path, err := c.clientEntries(cl, path)
			if errors.Is(err, os.ErrNotExist) && config == "" {
				continue // gone since
			}
			if err != nil {
				return wrappedEntry{}, c.fail(fmt.Errorf("audit: %w", err), "fix the file, or name another with --client and --config")
			}
			read = append(read, path)
			all = append(all, entries...)
		}
	}
	var named, wrapped []wrappedEntry
	for _, e := range all {
		if e.name == name {
			named = append(named, e)
			if e.wrapped {
				wrapped = append(wrapped, e)
			}
		}
	}
	switch {
	case len(wrapped) == 1 && wrapped[0].profile == "":
		c.errorf("audit: the server %s in %s runs mcpcell run without --profile: its log is that of the profile run finds from the folder the client starts it in", name, wrapped[0])
		c.hintf("name that profile: mcpcell audit --profile PATH")
		return wrappedEntry{}, exitFailed
	case len(wrapped) == 1:
		return wrapped[0], 0
	case len(wrapped) > 1:
		var which []string
		for _, e := range wrapped {
			which = append(which, e.String())
		}
		c.errorf("audit: %d wrapped servers are named %s: %s", len(wrapped), name, strings.Join(which, "; "))
		clientsDiffer, filesDiffer := false, false
		for _, e := range wrapped {
			clientsDiffer = clientsDiffer || e.client != wrapped[0].client
			filesDiffer = filesDiffer || e.config != wrapped[0].config
		}
		switch {
		case clientsDiffer:
			c.hintf("choose one with --client CLIENT, or name its profile with --profile: %s", profilesOf(wrapped))
		case filesDiffer:
			c.hintf("choose its file with --client %s --config FILE, or name its profile with --profile: %s", wrapped[0].client, profilesOf(wrapped))
		default:
			c.hintf("name its profile with --profile: %s", profilesOf(wrapped))
		}
		return wrappedEntry{}, exitFailed
	case len(named) > 0:
		c.errorf("audit: the server %s in %s is not wrapped: it does not run through mcpcell, so it has no audit log", name, named[0])
		c.hintf("mcpcell wrap --client %s --server %s", named[0].client, shellWords(name))
		return wrappedEntry{}, exitFailed
	}
	where := "no client configuration was found"
	if len(read) > 0 {
		where = "read " + strings.Join(read, ", ")
	}
	var have []string
	for _, e := range all {
		if e.wrapped {
			have = append(have, e.name+" ("+string(e.client)+")")
		}
	}
	c.errorf("audit: no wrapped server is named %s (%s)", name, where)
	if len(have) == 0 {
		c.hintf("no server is wrapped there: mcpcell wrap --client CLIENT wraps a client's servers; a configuration elsewhere is named with --client and --config")
	} else {
		c.hintf("the wrapped servers: %s", strings.Join(have, ", "))
	}
	return wrappedEntry{}, exitFailed
}

// clientEntries reads the server entries of a client's configuration
// file path.
func (c *cli) clientEntries(cl clientconf.Client, path string) ([]wrappedEntry, string, error) {
	path, _ = filepath.Abs(path)
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, path, err
	}
	f, err := clientconf.Parse(cl, path, text, profiles.UserFolders(c.getenv).NotProject)
	if err != nil {
		return nil, path, err
	}
	// PlanUnwrap finds what wrap wrapped, and the profile each names; it
	// reads no profile and no keyring item here.
	exe, _ := os.Executable()
	servers, err := clientconf.PlanUnwrap(f, clientconf.UnwrapOptions{Mcpcell: exe, Profile: func(string) ([]clientconf.KV, map[string]string, error) { return nil, nil, nil }})
	if err != nil {
		return nil, path, err
	}
	var out []wrappedEntry
	for _, s := range servers {
		e := wrappedEntry{client: cl, config: path, where: s.Entry.Where, name: s.Entry.Name, wrapped: s.Action == "unwrap", profile: s.Profile, project: s.Project}
		if e.wrapped {
			// What unwrap gives back is the server command run starts.
			for _, m := range s.Members {
				switch m.Name {
				case "command":
					var cmd string
					json.Unmarshal(m.Value, &cmd)
					e.argv = append([]string{cmd}, e.argv...)
				case "args":
					var args []string
					json.Unmarshal(m.Value, &args)
					e.argv = append(e.argv, args...)
				}
			}
		}
		out = append(out, e)
	}
	return out, path, nil
}

// profilesOf lists the profiles of entries, for a hint.
func profilesOf(entries []wrappedEntry) string {
	var out []string
	for _, e := range entries {
		out = append(out, shellWords(e.profile))
	}
	return strings.Join(out, ", ")
}

// clientConfigPaths are the configuration files of cl that the client
// reads when started in the working folder (clientconf.Paths).
func (c *cli) clientConfigPaths(cl clientconf.Client) ([]string, error) {
	home, _ := os.UserHomeDir()
	wd, _ := os.Getwd()
	return clientconf.Paths(cl, clientconf.Env{GOOS: runtime.GOOS, Home: c.getenvOr("HOME", home), AppData: c.getenv("APPDATA"), Cwd: wd, Exists: clientconf.OSExists})
}

// wrappedLog is the audit log of a wrapped entry: the [audit] path of
// the profile it names, taken only when the trust store holds that
// profile as it is (as run requires of it), or an embedded one. A
// configuration anyone may write (a repository's .mcp.json) names any
// profile; an untrusted one's [audit] path is not followed.
func (c *cli) wrappedLog(e wrappedEntry) (string, int) {
	flags := "--profile " + shellWords(e.profile)
	if e.project != "" {
		flags += " --project " + shellWords(e.project)
	}
	if strings.ContainsRune(e.profile, filepath.Separator) && !filepath.IsAbs(e.profile) {
		c.errorf("audit: the server %s in %s names the profile %s, a relative path: it depends on the folder the client starts it in", e.name, e, e.profile)
		c.hintf("name the profile: mcpcell audit --profile PATH")
		return "", exitFailed
	}
	read := map[string][]byte{}
	p, err := profiles.Load(profiles.Options{Profile: e.profile, Project: e.project, Getenv: c.getenv, AnyProject: true, Verify: func(_ *profiles.Profile, f string, data []byte) error {
		read[f] = data
		return nil
	}})
	if err != nil {
		return "", c.fail(fmt.Errorf("audit: the profile of the server %s in %s: %w", e.name, e, err), "fix the profile, or read a log by its path: mcpcell audit FILE")
	}
	if !embedded(p) {
		rec, err := trustStore(p).Profile(p.Origin.File, p.Project)
		var files []string
		for _, s := range p.Includes {
			if !embeddedSource(s) {
				files = append(files, s.File)
			}
		}
		for _, f := range files {
			if err == nil {
				err = rec.CheckFile(p.Origin.File, f, read[f])
			}
		}
		if err == nil {
			err = rec.CheckFiles(p.Origin.File, files)
		}
		if err != nil {
			c.errorf("audit: the server %s in %s runs with the profile %s, which is not trusted (%v): mcpcell does not read the log an untrusted profile names", e.name, e, p.Origin.File, err)
			c.hintf("if you wrapped this server yourself, %s; a log is also read by its path: mcpcell audit FILE", reviewHint(flags, e.argv))
			return "", exitFailed
		}
	}
	c.sayf("note: audit: the server %s in %s, profile %s: %s", e.name, e, p.Origin.File, p.AuditPath)
	return p.AuditPath, 0
}

// clientConfigPath is the configuration file of cl that wrap reads when
// given no --config.
func (c *cli) clientConfigPath(cl clientconf.Client) (string, error) {
	home, _ := os.UserHomeDir()
	wd, _ := os.Getwd()
	return clientconf.DefaultPath(cl, clientconf.Env{GOOS: runtime.GOOS, Home: c.getenvOr("HOME", home), AppData: c.getenv("APPDATA"), Cwd: wd, Exists: clientconf.OSExists})
}
