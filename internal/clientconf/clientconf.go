package clientconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// Client names a client whose configuration mcpcell knows.
type Client string

const (
	ClaudeDesktop Client = "claude-desktop"
	ClaudeCode    Client = "claude-code"
	Cursor        Client = "cursor"
	VSCode        Client = "vscode"
)

// Env is where the default paths come from.
type Env struct {
	GOOS    string
	Home    string
	AppData string // %APPDATA% on Windows
	Cwd     string
	Exists  func(string) bool
}

// DefaultPath is the configuration file wrap edits when --config is not
// given: a project file in the working folder where the client has one and
// it exists, else the user's file.
func DefaultPath(c Client, e Env) (string, error) {
	user := func(mac, win, linux string) string {
		switch e.GOOS {
		case "darwin":
			return filepath.Join(e.Home, "Library", "Application Support", mac)
		case "windows":
			return filepath.Join(e.AppData, win)
		}
		return filepath.Join(e.Home, ".config", linux)
	}
	switch c {
	case ClaudeDesktop:
		return user("Claude/claude_desktop_config.json", `Claude\claude_desktop_config.json`, "Claude/claude_desktop_config.json"), nil
	case ClaudeCode:
		if p := filepath.Join(e.Cwd, ".mcp.json"); e.Exists(p) {
			return p, nil
		}
		return filepath.Join(e.Home, ".claude.json"), nil
	case Cursor:
		if p := filepath.Join(e.Cwd, ".cursor", "mcp.json"); e.Exists(p) {
			return p, nil
		}
		return filepath.Join(e.Home, ".cursor", "mcp.json"), nil
	case VSCode:
		if p := filepath.Join(e.Cwd, ".vscode", "mcp.json"); e.Exists(p) {
			return p, nil
		}
		return user("Code/User/mcp.json", `Code\User\mcp.json`, "Code/User/mcp.json"), nil
	}
	return "", fmt.Errorf("unknown client %q (known: claude-desktop, claude-code, cursor, vscode)", c)
}

// UserPath is the client's own user-wide configuration file, whatever
// the working folder holds.
func UserPath(c Client, e Env) (string, error) {
	e.Cwd, e.Exists = "", func(string) bool { return false }
	return DefaultPath(c, e)
}

// Paths are the configuration files of c that the client reads for a
// session started in e.Cwd and that exist: the working folder's project
// file, then the user's file (whose projects[...] hold Claude Code's
// other projects).
func Paths(c Client, e Env) ([]string, error) {
	var out []string
	project, err := DefaultPath(c, e)
	if err != nil {
		return nil, err
	}
	user, _ := UserPath(c, e)
	for _, p := range []string{project, user} {
		if e.Exists(p) && !slices.ContainsFunc(out, func(q string) bool { return samePath(p, q) }) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Entry is one server in a configuration.
type Entry struct {
	Where   string // the JSON path of its table, for messages: mcpServers, projects["/p"].mcpServers, servers
	Name    string
	Project string // the project folder the entry belongs to; "" for a user-wide entry
	// NotProject says why the folder the configuration's place names is
	// not taken as the entry's project (it is the user's home folder…),
	// so that the entry is user-wide; "" when there is none, or the
	// place is the client's user-wide one.
	NotProject string
	Stdio      bool // a command-started server (not url/http/sse)
	Command    string
	Args       []string
	Env        []KV     // in file order
	Members    []Member // every member of the entry, in order
	// Invalid says why wrap and unwrap leave the entry alone: a member
	// they would read wrong, and so lose (an env value that is not a
	// string, args that are not strings, …); "" when there is none.
	Invalid string
	start   int // offsets of the entry's value in the file
	end     int
	indent  string
	envAt   []span // where each Env value's JSON string is in the file
}

type span struct{ start, end int }

// KV is one environment entry.
type KV struct{ Key, Value string }

// Member is a member of an entry object: its name and JSON text.
type Member struct {
	Name  string
	Value json.RawMessage
}

// File is a parsed configuration.
type File struct {
	Client  Client
	Path    string
	Text    []byte
	Entries []*Entry
}

// Parse reads a configuration of client c. path places project entries:
// .mcp.json, .cursor/mcp.json and .vscode/mcp.json belong to the folder
// that holds them, and Claude Code's projects["DIR"] to DIR; but a folder
// for which wide says why it is too wide to be a project (the user's home
// folder, /, …) is none: its entries are user-wide, as Cursor's own
// ~/.cursor/mcp.json is. wide nil takes every folder as a project.
func Parse(c Client, path string, text []byte, wide func(dir string) string) (*File, error) {
	clean := jsontext.StripJSONC(text)
	if err := jsontext.Validate(clean); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON: %v", path, err)
	}
	f := &File{Client: c, Path: path, Text: text}
	top, err := members(clean, 0, len(clean))
	if err != nil {
		return nil, fmt.Errorf("%s: the top level is not an object", path)
	}
	project := ""
	switch filepath.Base(path) {
	case ".mcp.json":
		project = filepath.Dir(path)
	case "mcp.json":
		if d := filepath.Base(filepath.Dir(path)); d == ".cursor" || d == ".vscode" {
			project = filepath.Dir(filepath.Dir(path))
		}
	}
	notProject := ""
	if project != "" && wide != nil {
		if why := wide(project); why != "" {
			// Cursor's user-wide file is ~/.cursor/mcp.json, as a project's
			// is DIR/.cursor/mcp.json.
			if c != Cursor || why != "your home folder" {
				notProject = fmt.Sprintf("%s, the folder of %s, is %s, not a project", project, strings.TrimPrefix(path, project+"/"), why)
			}
			project = ""
		}
	}
	table := "mcpServers"
	if c == VSCode {
		table = "servers"
	}
	for _, m := range top {
		switch {
		case m.name == table:
			if err := f.addTable(clean, m, table, project, notProject); err != nil {
				return nil, err
			}
		case c == ClaudeCode && m.name == "projects" && jsontext.TypeOf(clean[m.start:m.end]) == "object":
			projects, _ := members(clean, m.start, m.end)
			for _, p := range projects {
				inner, err := members(clean, p.start, p.end)
				if err != nil {
					continue
				}
				project, notProject := p.name, ""
				if why := ""; wide != nil {
					if why = wide(p.name); why != "" {
						project, notProject = "", fmt.Sprintf("%s, the folder of projects[%q], is %s, not a project", p.name, p.name, why)
					}
				}
				for _, t := range inner {
					if t.name == "mcpServers" {
						if err := f.addTable(clean, t, fmt.Sprintf("projects[%q].mcpServers", p.name), project, notProject); err != nil {
							return nil, err
						}
					}
				}
			}
		}
	}
	return f, nil
}

func (f *File) addTable(clean []byte, table member, where, project, notProject string) error {
	servers, err := members(clean, table.start, table.end)
	if err != nil {
		return fmt.Errorf("%s: %s is not an object", f.Path, where)
	}
	for _, s := range servers {
		raw := clean[s.start:s.end]
		ms, err := members(clean, s.start, s.end)
		if err != nil {
			return fmt.Errorf("%s: %s[%q] is not an object", f.Path, where, s.name)
		}
		e := &Entry{Where: where, Name: s.name, Project: project, NotProject: notProject, start: s.start, end: s.end, indent: lineIndent(f.Text, s.start)}
		typ := ""
		invalid := func(format string, a ...any) {
			if e.Invalid == "" {
				e.Invalid = fmt.Sprintf(format, a...)
			}
		}
		var ok bool
		for _, m := range ms {
			v := raw[m.start-s.start : m.end-s.start]
			e.Members = append(e.Members, Member{m.name, append(json.RawMessage(nil), v...)})
			switch m.name {
			case "command":
				if e.Command, ok = jsontext.String(v); !ok {
					invalid("its command is %s, not a string", kind(v))
				}
			case "args":
				if err := json.Unmarshal(v, &e.Args); err != nil {
					e.Args = nil
					invalid("its args are not a list of strings")
				}
			case "type":
				typ, _ = jsontext.String(v)
			case "env":
				envs, err := members(clean, m.start, m.end)
				if err != nil {
					invalid("its env is %s, not an object", kind(v))
				}
				for _, kv := range envs {
					val, ok := jsontext.String(clean[kv.start:kv.end])
					switch {
					case !ok:
						invalid("env %s is %s, not a string: write it in quotes and wrap again", kv.name, kind(clean[kv.start:kv.end]))
					case !envName().MatchString(kv.name):
						invalid("env %q is not a variable name a profile can set or pass", kv.name)
					}
					e.Env = append(e.Env, KV{kv.name, val})
					e.envAt = append(e.envAt, span{kv.start, kv.end})
				}
			}
		}
		// An entry with a command that is not one is a stdio entry wrap
		// cannot read (Invalid), not another kind.
		e.Stdio = (e.Command != "" || !ok && jsontext.Lookup(raw, "command") != nil) && (typ == "" || typ == "stdio")
		f.Entries = append(f.Entries, e)
	}
	return nil
}

// kind names the JSON type of a value with its article: "a number".
func kind(v []byte) string {
	switch t := jsontext.TypeOf(v); t {
	case "object", "array":
		return "an " + t
	case "null":
		return "null"
	default:
		return "a " + t
	}
}

var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

type member struct {
	name       string
	start, end int
}

// members lists an object's members with offsets in the whole text.
func members(text []byte, start, end int) ([]member, error) {
	ms, err := jsontext.Members(text[start:end])
	if err != nil {
		return nil, err
	}
	out := make([]member, len(ms))
	for i, m := range ms {
		out[i] = member{m.Name, start + m.Start, start + m.End}
	}
	return out, nil
}

func lineIndent(text []byte, at int) string {
	i := at
	for i > 0 && text[i-1] != '\n' {
		i--
	}
	j := i
	for j < len(text) && (text[j] == ' ' || text[j] == '\t') {
		j++
	}
	return string(text[i:j])
}

// Edit replaces one entry's value with a new object of members.
type Edit struct {
	Entry   *Entry
	Members []Member
}

// Apply returns the text with the edits spliced in; everything else is
// kept as it was.
func (f *File) Apply(edits []Edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].Entry.start > edits[j].Entry.start })
	text := append([]byte(nil), f.Text...)
	for _, e := range edits {
		text = jsontext.Splice(text, e.Entry.start, e.Entry.end, encodeObject(e.Members, e.Entry.indent))
	}
	return text
}

// encodeObject writes members as an indented object whose closing brace
// lines up with indent.
func encodeObject(ms []Member, indent string) []byte {
	inner := indent + "  "
	var b strings.Builder
	b.WriteString("{")
	for i, m := range ms {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n" + inner)
		name, _ := json.Marshal(m.Name)
		b.Write(name)
		b.WriteString(": ")
		var buf bytes.Buffer
		if json.Indent(&buf, m.Value, inner, "  ") == nil {
			b.Write(buf.Bytes())
		} else {
			b.Write(m.Value)
		}
	}
	b.WriteString("\n" + indent + "}")
	return []byte(b.String())
}
