package clientconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// MarkerPrefix starts the value that stands for a credential in the
// backups wrap writes: "mcpcell-keyring:ITEM" says the value is in the
// keyring, service mcpcell, item ITEM. It is a plain JSON string, so a
// backup stays valid JSON (or JSONC), and it cannot be mistaken for the
// credential.
const MarkerPrefix = "mcpcell-keyring:"

// Marker is the marker of a keyring item.
func Marker(item string) string { return MarkerPrefix + item }

// parseMarker returns the item a marker names; ok is false for any other
// value.
func parseMarker(v string) (item string, ok bool) {
	item, ok = strings.CutPrefix(v, MarkerPrefix)
	if !ok || item == "" || strings.TrimSpace(item) != item || strings.IndexFunc(item, unicode.IsControl) >= 0 {
		return "", false
	}
	return item, true
}

// Backup is the file's text as wrap backs it up: each credential the
// servers move into the keyring is replaced by its marker, so that the
// backup holds no secret that has left the config; every other byte is
// kept, comments included.
func (f *File) Backup(servers []*Server) []byte {
	type repl struct {
		at   span
		with string
	}
	var rs []repl
	for _, s := range servers {
		for _, sec := range s.Secrets {
			if !sec.Stored && sec.at.end > sec.at.start {
				rs = append(rs, repl{sec.at, Marker(sec.Item)})
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].at.start > rs[j].at.start })
	text := append([]byte(nil), f.Text...)
	for _, r := range rs {
		text = jsontext.Splice(text, r.at.start, r.at.end, mustJSON(r.with))
	}
	return text
}

// Finding is a credential in a configuration file.
type Finding struct {
	Path string // where it is: mcpServers.postgres.args[2]
	// Parts are the secret parts (a URL's password, a whole token), for
	// redaction; never printed.
	Parts []string
}

// Findings lists every credential in the file's text, wherever it is: in
// servers' env (by name, as wrap moves them, or by form), in their args
// (by form, or as the value of a flag named like a credential), in other
// servers' URLs and headers, and in the client's own settings (a member
// named like a credential). Markers and references ${…} are none.
func (f *File) Findings() []Finding {
	clean := jsontext.StripJSONC(f.Text)
	if jsontext.Validate(clean) != nil {
		return nil
	}
	var out []Finding
	var walk func(raw []byte, path, name string)
	walk = func(raw []byte, path, name string) {
		switch jsontext.TypeOf(raw) {
		case "object":
			ms, _ := jsontext.Members(raw)
			for _, m := range ms {
				walk(m.Value, path+pathPart(m.Name), m.Name)
			}
		case "array":
			els, _ := jsontext.Elements(raw)
			var args []string
			if name == "args" && json.Unmarshal(raw, &args) == nil {
				for _, c := range argCredentials(args) {
					out = append(out, Finding{Path: strings.TrimPrefix(fmt.Sprintf("%s[%d]", path, c.Index), "."), Parts: c.Parts})
				}
				return
			}
			for i, el := range els {
				walk(el, fmt.Sprintf("%s[%d]", path, i), name)
			}
		case "string":
			v, _ := jsontext.String(raw)
			if _, ok := parseMarker(v); ok {
				return
			}
			spans := secretSpans(v)
			if len(spans) == 0 && credentialName(name) && strings.Trim(blankRefs(v), " \t\x00") != "" {
				spans = []span{{0, len(v)}}
			}
			if len(spans) > 0 {
				fd := Finding{Path: strings.TrimPrefix(path, ".")}
				for _, sp := range spans {
					fd.Parts = append(fd.Parts, v[sp.start:sp.end])
				}
				out = append(out, fd)
			}
		}
	}
	walk(bytes.TrimSpace(clean), "", "")
	return out
}

// pathPart is a member name in a path: .name, or ["name"].
func pathPart(name string) string {
	if bareKey().MatchString(name) && !strings.HasPrefix(name, "-") {
		return "." + name
	}
	return fmt.Sprintf("[%q]", name)
}
