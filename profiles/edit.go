package profiles

import (
	"errors"
	"slices"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

var errAbsent = errors.New("member absent")

// edit applies fn to the value at path inside the validated object obj
// and returns obj with the new value spliced in.
func edit(obj []byte, path []string, fn func([]byte) ([]byte, error)) ([]byte, error) {
	if len(path) == 0 {
		return fn(obj)
	}
	ms, err := jsonrpc.Members(obj)
	if err != nil {
		return obj, errAbsent
	}
	for _, m := range ms {
		if m.Name == path[0] {
			v, err := edit(m.Value, path[1:], fn)
			if err != nil {
				return obj, err
			}
			return jsonrpc.Splice(obj, m.Start, m.End, v), nil
		}
	}
	return obj, errAbsent
}

// dropMembers returns obj without the named members.
func dropMembers(obj []byte, names ...string) ([]byte, error) {
	ms, err := jsonrpc.Members(obj)
	if err != nil {
		return obj, nil // not an object: nothing to drop
	}
	drop := false
	for _, m := range ms {
		if slices.Contains(names, m.Name) {
			drop = true
		}
	}
	if !drop {
		return obj, nil
	}
	out := []byte{'{'}
	first := true
	for _, m := range ms {
		if slices.Contains(names, m.Name) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, jsonrpc.Quote(m.Name)...)
		out = append(out, ':')
		out = append(out, m.Value...)
	}
	return append(out, '}'), nil
}

// setMember returns obj with member name set to value.
func setMember(obj []byte, name string, value []byte) []byte {
	ms, err := jsonrpc.Members(obj)
	if err != nil {
		return obj
	}
	for _, m := range ms {
		if m.Name == name {
			return jsonrpc.Splice(obj, m.Start, m.End, value)
		}
	}
	// Insert before the closing brace.
	end := len(obj) - 1
	for end > 0 && obj[end] != '}' {
		end--
	}
	ins := jsonrpc.Quote(name)
	ins = append(ins, ':')
	ins = append(ins, value...)
	if len(ms) > 0 {
		ins = append([]byte{','}, ins...)
	}
	return jsonrpc.Splice(obj, end, end, ins)
}

func joinArray(elems [][]byte) []byte {
	out := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e...)
	}
	return append(out, ']')
}
