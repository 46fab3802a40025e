package profiles

import (
	"regexp"
	"strings"
	"sync"
)

// The TOML library reports lines only for its own errors, so key lines
// are found here from the text: table headers, key = value lines, and the
// keys of one-line inline tables. Good enough to point a user at a line.
var (
	tableLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*\[\[?\s*((?:"[^"]*"|'[^']*'|[^\]"'])+?)\s*\]\]?\s*(#.*)?$`)
	})
	keyLine = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=`)
	})
	inlineKeys = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[{,]\s*("[^"]*"|[A-Za-z0-9_-]+)\s*=`) })
)

// keyLines maps dotted keys to the line that first defines them.
func keyLines(src []byte) map[string]int {
	out := map[string]int{}
	table := ""
	for i, line := range strings.Split(string(src), "\n") {
		n := i + 1
		if m := tableLine().FindStringSubmatch(line); m != nil && !strings.Contains(line, "=") {
			table = normKey(m[1])
			if _, ok := out[table]; !ok {
				out[table] = n
			}
			continue
		}
		m := keyLine().FindStringSubmatchIndex(line)
		if m == nil {
			continue
		}
		key := join(table, normKey(line[m[2]:m[3]]))
		if _, ok := out[key]; !ok {
			out[key] = n
		}
		for _, im := range inlineKeys().FindAllStringSubmatch(line[m[1]:], -1) {
			k := join(key, normKey(im[1]))
			if _, ok := out[k]; !ok {
				out[k] = n
			}
		}
	}
	return out
}

func normKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// lineOf finds the line of key, or of its nearest written parent.
func lineOf(lines map[string]int, key string) int {
	for k := key; k != ""; {
		if n, ok := lines[k]; ok {
			return n
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}
