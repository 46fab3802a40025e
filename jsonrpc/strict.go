package jsonrpc

import "github.com/mcpcell/mcpcell/internal/jsontext"

// Forwarders to internal/jsontext, for the callers until they are renamed.

type (
	SyntaxError = jsontext.SyntaxError
	Member      = jsontext.Member
)

func Validate(b []byte) error                    { return jsontext.Validate(b) }
func validate(b []byte, depth int) error         { return jsontext.ValidateNested(b, depth) }
func Members(raw []byte) ([]Member, error)       { return jsontext.Members(raw) }
func Elements(raw []byte) ([][]byte, error)      { return jsontext.Elements(raw) }
func Lookup(raw []byte, name string) []byte      { return jsontext.Lookup(raw, name) }
func String(raw []byte) (string, bool)           { return jsontext.String(raw) }
func TypeOf(raw []byte) string                   { return jsontext.TypeOf(raw) }
func Quote(s string) []byte                      { return jsontext.Quote(s) }
func Splice(b []byte, s, e int, v []byte) []byte { return jsontext.Splice(b, s, e, v) }
func EachElement(raw []byte, yield func(elem []byte) bool) error {
	return jsontext.EachElement(raw, yield)
}
func EachMember(raw []byte, yield func(name, value []byte) bool) error {
	return jsontext.EachMember(raw, yield)
}
func LookupFold(raw []byte, name string) ([]byte, string) { return jsontext.LookupFold(raw, name) }
