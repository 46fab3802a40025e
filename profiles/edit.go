package profiles

import "github.com/mcpcell/mcpcell/internal/jsontext"

// Forwarders to internal/jsontext, for the callers until they are renamed.

var errAbsent = jsontext.ErrAbsent

func edit(obj []byte, path []string, fn func([]byte) ([]byte, error)) ([]byte, error) {
	return jsontext.Edit(obj, path, fn)
}
func dropMembers(obj []byte, names ...string) ([]byte, error) {
	return jsontext.DropMembers(obj, names...)
}
func setMember(obj []byte, name string, value []byte) []byte {
	return jsontext.SetMember(obj, name, value)
}
func joinArray(elems [][]byte) []byte { return jsontext.JoinArray(elems) }
