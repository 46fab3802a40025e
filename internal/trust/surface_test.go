package trust

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A hostile server lists 10,000 tools with 64 KiB descriptions, then
// lists 10,000 new ones, page by page, again and again: the record keeps
// at most MaxEntries a kind and list, and MaxRecordText of text, so its
// size stays bounded; every new tool stays pending all the same (pinned
// by its digest).
func TestSurfaceFloodBounded(t *testing.T) {
	dir := t.TempDir()
	store := &Store{Dir: dir}
	u, err := store.OpenSurface("/p", "/p", []string{"x"}, []string{"x"}, "review")
	if err != nil {
		t.Fatal(err)
	}
	desc := strings.Repeat("d", MaxText-100)
	const page = 500
	list := func(round int) (pending int) {
		for start := 0; start < MaxEntries; start += page {
			if start == 0 {
				if err := u.Begin(Tools); err != nil {
					t.Fatal(err)
				}
			}
			names := make([]string, page)
			canon := make([][]byte, page)
			for i := range names {
				names[i] = fmt.Sprintf("r%d_%d", round, start+i)
				canon[i] = []byte(fmt.Sprintf(`{"description":"%s","name":%q}`, desc, names[i]))
			}
			out, err := u.Judge(Tools, names, canon, start+page >= MaxEntries)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range out {
				if w != "" {
					pending++
				}
			}
		}
		return pending
	}
	if n := list(0); n != 0 {
		t.Errorf("first sight: %d pending, want none", n)
	}
	for round := 1; round <= 2; round++ {
		if n := list(round); n != MaxEntries {
			t.Errorf("round %d: %d pending, want every new tool", round, n)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, surfaceKind, SurfaceName("/p", "/p", []string{"x"})+".json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := store.ReadSurface(SurfaceName("/p", "/p", []string{"x"}))
	s := rec.Kinds[Tools]
	// Text and member digests within MaxRecordText; the rest is names,
	// digests and times, bounded by the entry counts.
	if limit := int64(MaxRecordText + 2*MaxEntries*1024); fi.Size() > limit || len(s.Approved) > MaxEntries || len(s.Pending) > MaxEntries || rec.kept() > MaxRecordText {
		t.Errorf("record: %d bytes (limit %d), %d approved, %d pending, %d bytes of text", fi.Size(), limit, len(s.Approved), len(s.Pending), rec.kept())
	}
	t.Logf("record: %d bytes", fi.Size())
}

// A name longer than maxName is kept clipped, keyed by its whole digest:
// two long names that share a prefix are two entries.
func TestSurfaceLongNames(t *testing.T) {
	store := &Store{Dir: t.TempDir()}
	u, _ := store.OpenSurface("/p", "/p", nil, nil, "review")
	a, b := strings.Repeat("n", 5000)+"a", strings.Repeat("n", 5000)+"b"
	u.Judge(Tools, []string{a}, [][]byte{[]byte(`{"name":"a"}`)}, true)
	out, _ := u.Judge(Tools, []string{b}, [][]byte{[]byte(`{"name":"b"}`)}, true)
	if out[0] != "new" {
		t.Errorf("a second long name with the same prefix: %q, want new", out[0])
	}
	rec, _ := store.ReadSurface(SurfaceName("/p", "/p", nil))
	for _, p := range rec.Kinds[Tools].Approved {
		if len(p.Name) > maxName {
			t.Errorf("a name of %d bytes kept", len(p.Name))
		}
	}
}
