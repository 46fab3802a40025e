package profiles

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"
)

// tomlTypeName names the type of a decoded TOML value.
func tomlTypeName(v any) string {
	switch v.(type) {
	case float64:
		return "a number"
	case bool:
		return "true or false"
	case []any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// The TOML library reports type mismatches as plain text.
var (
	tomlTypeErr = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^toml: (?:line (\d+) )?\(last key "([^"]*)"\): (.*)$`)
	})
	tomlTypes = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`incompatible types: TOML value has type (\w+); destination has type (\w+)`)
	})
	typeNames = map[string]string{"slice": "a list", "array": "a list", "bool": "true or false", "boolean": "true or false", "int": "a whole number", "int64": "a whole number", "string": "a string", "struct": "a table", "map": "a table", "table": "a table", "integer": "a whole number", "float": "a number", "interface": "a value"}
)

func typeError(src Source, err error) error {
	m := tomlTypeErr().FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{At: src, Msg: err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[3]
	if t := tomlTypes().FindStringSubmatch(msg); t != nil {
		want, got := typeNames[t[2]], typeNames[t[1]]
		if want == "" {
			want = t[2]
		}
		if got == "" {
			got = t[1]
		}
		msg = "wrong type: want " + want + ", got " + got
	}
	return &Error{At: Source{File: src.File, Line: line}, Msg: m[2] + ": " + msg}
}

// syntaxLine is the line of a TOML syntax error: the line of the byte it
// starts at. The decoder's own line has counted the newline it stopped at
// when that newline is what it objects to ("[filesystem" then the line's
// end), and so names the next line.
func syntaxLine(data []byte, pe toml.ParseError) int {
	if start := pe.Position.Start; start >= 0 && start <= len(data) {
		return 1 + bytes.Count(data[:start], []byte("\n"))
	}
	return pe.Position.Line
}

// syntaxMessage is the decoder's message, after the last key it read,
// in mcpcell's words where they read better: the end of a line is not
// "'\n'", and a key defined twice is named once.
func syntaxMessage(pe toml.ParseError) string {
	msg := strings.ReplaceAll(pe.Message, `'\n'`, "the end of the line")
	if m := dupKey().FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s is defined twice (here, and on a line before)", m[1])
	}
	if pe.LastKey != "" {
		msg = pe.LastKey + ": " + msg
	}
	return msg
}

var dupKey = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^Key '([^']*)' has already been defined\.$`)
})
