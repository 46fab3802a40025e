package profiles

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mcpcell/mcpcell/internal/jsontext"
)

// Canonical is the form of a list entry that pinning compares: the entry
// object without its _meta member, members sorted, strings and numbers as
// decoded (so key order, whitespace and \u escapes are no change). It is
// compact JSON.
func Canonical(entry []byte) ([]byte, error) {
	if jsontext.TypeOf(entry) != "object" {
		return nil, fmt.Errorf("not an object")
	}
	d := json.NewDecoder(bytes.NewReader(entry))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	delete(v, "_meta")
	var b bytes.Buffer
	if err := writeCanonical(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeCanonical(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := writeCanonical(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCanonical(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case string:
		writeString(b, v)
	case json.Number:
		b.WriteString(canonicalNumber(string(v)))
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("unexpected %T", v)
	}
	return nil
}

func writeString(b *bytes.Buffer, s string) {
	e := json.NewEncoder(b)
	e.SetEscapeHTML(false)
	e.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// canonicalNumber writes a JSON number by its exact decimal value: 1,
// 1.0, 10e-1 and 1E0 are one number; two different values never meet. An
// exponent past ±1000 stays as written (a change of spelling then counts
// as a change).
func canonicalNumber(s string) string {
	sign := ""
	t := s
	if strings.HasPrefix(t, "-") {
		sign, t = "-", t[1:]
	}
	mant, exp := t, 0
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		n, err := strconv.Atoi(strings.TrimPrefix(t[i+1:], "+"))
		if err != nil || n > 1000 || n < -1000 {
			return s
		}
		mant, exp = t[:i], n
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	exp -= len(frac)
	if digits == "" {
		return "0"
	}
	for strings.HasSuffix(digits, "0") {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	n := len(digits)
	switch {
	case exp >= 0 && exp <= 21:
		return sign + digits + strings.Repeat("0", exp)
	case exp < 0 && -exp < n:
		return sign + digits[:n+exp] + "." + digits[n+exp:]
	case exp < 0 && -exp-n <= 6:
		return sign + "0." + strings.Repeat("0", -exp-n) + digits
	}
	return sign + digits + "e" + strconv.Itoa(exp)
}
