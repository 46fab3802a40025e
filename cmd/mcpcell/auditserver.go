package main

import (
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
	wrapped bool   // it runs mcpcell run
	profile string // the profile its run --profile names
}

func (w wrappedEntry) String() string {
	return fmt.Sprintf("%s (%s: %s)", w.client, w.config, w.where)
}

// wrappedProfile finds the profile of the server that wrap wrapped as
// name in a client's configuration (client's only, when given; config,
// when given, instead of the client's default file), as audit --server
// reads its log. Several matches, or none, are errors that list what
// there is.
func (c *cli) wrappedProfile(name, client, config string) (string, int) {
	list := clients
	if client != "" {
		if !slices.Contains(clients, clientconf.Client(client)) {
			return "", c.usage2(fmt.Errorf("audit: unknown client %q (known: claude-desktop, claude-code, cursor, vscode)", client))
		}
		list = []clientconf.Client{clientconf.Client(client)}
	}
	var all []wrappedEntry
	var read []string
	for _, cl := range list {
		entries, path, err := c.clientEntries(cl, config)
		if errors.Is(err, os.ErrNotExist) && config == "" {
			continue // a client that is not set up
		}
		if err != nil {
			return "", c.fail(fmt.Errorf("audit: %w", err), "fix the file, or name another with --client and --config")
		}
		read = append(read, path)
		all = append(all, entries...)
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
		return "", exitFailed
	case len(wrapped) == 1:
		return wrapped[0].profile, 0
	case len(wrapped) > 1:
		var which []string
		for _, e := range wrapped {
			which = append(which, e.String())
		}
		c.errorf("audit: %d wrapped servers are named %s: %s", len(wrapped), name, strings.Join(which, "; "))
		if client == "" {
			c.hintf("choose one with --client CLIENT, or name its profile with --profile: %s", profilesOf(wrapped))
		} else {
			c.hintf("name its profile with --profile: %s", profilesOf(wrapped))
		}
		return "", exitFailed
	case len(named) > 0:
		c.errorf("audit: the server %s in %s is not wrapped: it does not run through mcpcell, so it has no audit log", name, named[0])
		c.hintf("mcpcell wrap --client %s --server %s", named[0].client, shellWords(name))
		return "", exitFailed
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
	return "", exitFailed
}

// clientEntries reads the server entries of a client's configuration
// (config, or the client's default file as wrap finds it).
func (c *cli) clientEntries(cl clientconf.Client, config string) ([]wrappedEntry, string, error) {
	path := config
	if path == "" {
		var err error
		if path, err = c.clientConfigPath(cl); err != nil {
			return nil, "", err
		}
	}
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
		out = append(out, wrappedEntry{client: cl, config: path, where: s.Entry.Where, name: s.Entry.Name, wrapped: s.Action == "unwrap", profile: s.Profile})
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

// clientConfigPath is the configuration file of cl that wrap reads when
// given no --config.
func (c *cli) clientConfigPath(cl clientconf.Client) (string, error) {
	home, _ := os.UserHomeDir()
	wd, _ := os.Getwd()
	return clientconf.DefaultPath(cl, clientconf.Env{GOOS: runtime.GOOS, Home: c.getenvOr("HOME", home), AppData: c.getenv("APPDATA"), Cwd: wd, Exists: clientconf.OSExists})
}
