package jsontext

import (
	"errors"
	"slices"
)

// Splice returns a copy of b with b[start:end] replaced by v.
func Splice(b []byte, start, end int, v []byte) []byte {
	out := make([]byte, 0, len(b)-(end-start)+len(v))
	out = append(out, b[:start]...)
	out = append(out, v...)
	return append(out, b[end:]...)
}

// ErrAbsent is Edit's error when a member on its path is absent.
var ErrAbsent = errors.New("member absent")

// Edit applies fn to the value at path inside the validated object obj
// and returns obj with the new value spliced in.
func Edit(obj []byte, path []string, fn func([]byte) ([]byte, error)) ([]byte, error) {
	if len(path) == 0 {
		return fn(obj)
	}
	ms, err := Members(obj)
	if err != nil {
		return obj, ErrAbsent
	}
	for _, m := range ms {
		if m.Name == path[0] {
			v, err := Edit(m.Value, path[1:], fn)
			if err != nil {
				return obj, err
			}
			return Splice(obj, m.Start, m.End, v), nil
		}
	}
	return obj, ErrAbsent
}

// DropMembers returns obj without the named members.
func DropMembers(obj []byte, names ...string) ([]byte, error) {
	ms, err := Members(obj)
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
		out = append(out, Quote(m.Name)...)
		out = append(out, ':')
		out = append(out, m.Value...)
	}
	return append(out, '}'), nil
}

// SetMember returns obj with member name set to value.
func SetMember(obj []byte, name string, value []byte) []byte {
	ms, err := Members(obj)
	if err != nil {
		return obj
	}
	for _, m := range ms {
		if m.Name == name {
			return Splice(obj, m.Start, m.End, value)
		}
	}
	// Insert before the closing brace.
	end := len(obj) - 1
	for end > 0 && obj[end] != '}' {
		end--
	}
	ins := Quote(name)
	ins = append(ins, ':')
	ins = append(ins, value...)
	if len(ms) > 0 {
		ins = append([]byte{','}, ins...)
	}
	return Splice(obj, end, end, ins)
}

// JoinArray writes elems, JSON values, as an array.
func JoinArray(elems [][]byte) []byte {
	out := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, e...)
	}
	return append(out, ']')
}
