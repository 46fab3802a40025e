package egress

import (
	"strings"
	"testing"
)

// A name or a reason a record keeps is small and printable whatever the
// client sent: the bytes are the server's (R2-2).
func TestRecordedNameAndReason(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"api.example.test", "api.example.test"},
		{"API.Example.TEST.", "API.Example.TEST."},
		{"*.cdn.example.test", "*.cdn.example.test"},
		{"10.0.0.5", "10.0.0.5"},
		{"::1", "::1"},
		{"a\x1b[31m.example", "(not a host name: 14 bytes)"},
		{"a\nforged", "(not a host name: 8 bytes)"},
		{strings.Repeat("a.", 200) + "x", "(not a host name: 401 bytes)"},
		{strings.Repeat("<", 1100), "(not a host name: 1100 bytes)"},
	} {
		if got := recordedName(tc.in); got != tc.want {
			t.Errorf("recordedName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"SNI a.example: a.example:443 is not granted", "SNI a.example: a.example:443 is not granted"},
		{"Host a\r\nX: b", "Host a??X: b"},
		{"bad \xff byte", "bad ? byte"},
		{strings.Repeat("é", 200), strings.Repeat("é", 150) + "…"},
		{strings.Repeat("x", 1000), strings.Repeat("x", 300) + "…"},
	} {
		if got := recordedReason(tc.in); got != tc.want {
			t.Errorf("recordedReason(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
