// Package clientconf reads and edits the MCP server configurations of
// Claude Desktop, Claude Code, Cursor and VS Code, so that mcpcell wrap can
// put mcpcell in front of each stdio server and unwrap can take it away.
//
// Edits are spliced into the file's own text: everything but the edited
// server entries stays byte for byte, comments included (VS Code's
// mcp.json is JSON with comments).
//
// # Credentials
//
// An env entry holds a credential by its name (TOKEN, PASSWORD, KEY…) or
// by its form anywhere in the value (a password in a URL, a webhook URL, a
// token with a well-known prefix, an Authorization header…); references
// ${…} are none, and count only for the clients that fill them in (all
// but Claude Desktop). PlanWrap moves each credential it can into the
// keyring and puts none into a profile; for those it cannot move (in args,
// short ones, one next to a reference) it adds Server.Warnings, masked.
// File.Findings searches a whole file, for what a backup still holds.
//
// # Backups and markers
//
// File.Backup is the text wrap backs up: each credential the plan moves
// into the keyring is replaced, in place, by the JSON string
// "mcpcell-keyring:ITEM" (Marker), so that a backup holds no secret that
// left the config. PlanWrap takes a marker in a config as the item it
// names, never as a value, and only in the entry the item was made for:
// its name is one wrap makes for that client, server and variable, and
// the Origin recorded with the item (WrapOptions.Origin) is that entry of
// that file; any other marker is a *Refusal. PlanUnwrap with
// UnwrapOptions.Value puts the values back, under the same condition, or
// fails as a whole. PlanWrap never picks an item that holds another value
// (WrapOptions.Held): once the backup has only a marker, the keyring holds
// the only copy.
//
//	f, err := clientconf.Parse(clientconf.VSCode, path, data, nil)
//	for _, e := range f.Entries { … }
//	out := f.Apply([]clientconf.Edit{{Entry: e, Members: members}})
//
// # Projects and grants
//
// An entry of a project file (.mcp.json, .cursor/mcp.json,
// .vscode/mcp.json, Claude Code's projects["DIR"]) belongs to its folder:
// wrap writes its profile there (a projects key that is relative, or a
// folder that is not there, is left alone). A folder too wide to be a
// project (the user's home folder, /, a system folder: Parse's wide)
// makes the entry user-wide instead, as Cursor's own ~/.cursor/mcp.json
// is; a user-wide entry's profile is
// ${CONFIG}/wrapped/CLIENT/NAME/.mcpcell.toml for the client's own
// user-wide file (WrapOptions.Primary), and
// ${CONFIG}/wrapped/CLIENT-HASH/NAME/.mcpcell.toml for any other (HASH:
// of the file's path), so that two files' servers never share one.
//
// What the profile grants from the server's command line, each said in
// the plan per argument:
//   - the server's code (the script an interpreter runs, past the flags
//     it knows, or a node_modules/.bin command): read of its code root
//     (WrapOptions.CodeRoot: the node_modules it imports from, else its
//     package's folder, never a wide one);
//   - any other file: read of that file alone;
//   - a folder: write, unless it is too wide (WrapOptions.WideWrite: /, a
//     home folder, a system folder, ~/.ssh or any folder in a hidden
//     folder of home, mcpcell's own; mcpcell wrap adds the folders on the
//     PATH);
//   - none of these when it is a credential's or the system's place
//     (WrapOptions.Sensitive: ~/.ssh/…, ~/.netrc, /etc/shadow), the
//     script and its code root included: a configuration a repository
//     wrote may put a credential where the script goes.
//
// An entry already runs through mcpcell when its args are run's, as run
// reads them (--profile P or --profile=P; the command after "--" or
// after the flags).

// # Where a new thing goes
//
// A new client is a Client with its file's layout in Parse (where its
// server tables are) and its spelling of an entry in wrap.go; a new form
// of credential goes in credential.go, with a case in its tests and a
// seed for FuzzSecretSpans; what a backup holds is backup.go's. wrap.go
// plans a wrap (what becomes of each env entry), unwrap.go an unwrap;
// item.go names the keyring items and checks the origin recorded with
// each; profile.go writes the profile wrap makes for an entry.
//
// # What it does not do
//
// It does no I/O of its own: it works on the bytes it is given, reads the
// file system and the keyring only through WrapOptions' functions
// (OSExists and OSIsDir are the os ones), and returns the bytes to write
// and the items to store; mcpcell wrap writes them (the keyring first,
// then the profiles, the backup and the config).
package clientconf
