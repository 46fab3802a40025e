package clientconf

import (
	"sort"
	"strings"
	"unicode"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// MarkerPrefix starts the value that stands for a credential in the
// backups wrap writes: "mcpcell-keyring:ITEM" says the value is in the
// keyring, service mcpcell, item ITEM. It is a plain JSON string, so a
// backup stays valid JSON (or JSONC), and it cannot be mistaken for the
// credential.
const MarkerPrefix = "mcpcell-keyring:"

// Marker is the marker of a keyring item.
func Marker(item string) string { return MarkerPrefix + item }

// ParseMarker returns the item a marker names; ok is false for any other
// value.
func ParseMarker(v string) (item string, ok bool) {
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
		text = jsonrpc.Splice(text, r.at.start, r.at.end, mustJSON(r.with))
	}
	return text
}

// Credentials lists the values in the file's env entries that look like
// credentials: those wrap would move into the keyring, and those too short
// to move.
func (f *File) Credentials() []string {
	var out []string
	for _, e := range f.Entries {
		for _, kv := range e.Env {
			if k := classify(kv); k == envSecret || k == envShort {
				out = append(out, kv.Value)
			}
		}
	}
	return out
}
