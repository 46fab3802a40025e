package jsonrpc

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReader(t *testing.T) {
	in := "{\"a\":1}\r\n\n   \n{\"b\":2}\n" + "{\"big\":\"" + strings.Repeat("x", 200) + "\",\"id\":9}\n{\"c\":3}\r\n{\"last\":4}"
	r := newReader(iotest.OneByteReader(strings.NewReader(in)), 100)
	var got []string
	for {
		f, err := r.Next()
		var tl *tooLargeError
		if errors.As(err, &tl) {
			got = append(got, "TOO LARGE:"+tl.Found.ID.String())
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(f))
	}
	want := []string{`{"a":1}`, `{"b":2}`, `TOO LARGE:9`, `{"c":3}`, `{"last":4}`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("frames = %q, want %q", got, want)
	}
}

// A frame of exactly the bound passes; one byte more does not.
func TestReaderBound(t *testing.T) {
	frame := `{"x":"` + strings.Repeat("y", 100-8) + `"}`
	if len(frame) != 100 {
		t.Fatalf("frame is %d bytes", len(frame))
	}
	for _, c := range []struct {
		in   string
		fits bool
	}{{frame + "\n", true}, {frame + "\r\n", true}, {frame[:99] + "yy\n", false}} {
		_, err := newReader(strings.NewReader(c.in), 100).Next()
		if (err == nil) != c.fits {
			t.Errorf("%d-byte line: err = %v, want fits=%v", len(c.in), err, c.fits)
		}
	}
}

// The bound holds across bufio's internal buffer (64 KiB).
func TestReaderLargeFrames(t *testing.T) {
	big := `{"x":"` + strings.Repeat("z", 300<<10) + `"}`
	r := newReader(strings.NewReader(big+"\n"+big+"\n"), 1<<20)
	for i := 0; i < 2; i++ {
		f, err := r.Next()
		if err != nil || len(f) != len(big) {
			t.Fatalf("frame %d: %d bytes, %v", i, len(f), err)
		}
	}
	r = newReader(strings.NewReader(big+"\n{}\n"), 200<<10)
	if _, err := r.Next(); err == nil {
		t.Fatalf("a 300 KiB frame passed a 200 KiB bound")
	}
	if f, err := r.Next(); err != nil || string(f) != "{}" {
		t.Fatalf("after an oversize frame: %q %v", f, err)
	}
}

// A carriage return ends a line for Python's universal newlines, Node's
// readline, Java's BufferedReader: a frame holding one anywhere but
// before its newline is refused, with what a lenient reading found in it
// (the id, which is the outer message's). The control: the same frames
// with spaces are frames. Carriage returns before the newline are the
// line end, and not part of the frame.
func TestReaderCarriageReturn(t *testing.T) {
	smuggle := `{"jsonrpc":"2.0","id":5,"method":"ping","params":{"_x":` + "\r" + `{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"delete_all"}}` + "\r" + `}}`
	for _, c := range []struct {
		in, frame, id string
	}{
		{smuggle + "\n", "", "5"},
		{smuggle + "\r\n", "", "5"},
		{smuggle, "", "5"}, // the last line, without a newline
		{"\r" + `{"jsonrpc":"2.0","id":7,"method":"ping"}` + "\n", "", "7"},
		{`{"jsonrpc":"2.0",` + "\r" + `"id":8,"method":"ping"}` + "\n", "", "8"},
		{`{"jsonrpc":"2.0","method":"ping","id":9}` + "\r \n", "", "9"},
		// Controls.
		{strings.ReplaceAll(smuggle, "\r", " ") + "\n", strings.ReplaceAll(smuggle, "\r", " "), ""},
		{`{"a":1}` + "\r\r\n", `{"a":1}`, ""},
		{`{"a":1}` + "\r", `{"a":1}`, ""},
		{" \r \r\n" + `{"a":2}` + "\n", `{"a":2}`, ""},
	} {
		f, err := newReader(strings.NewReader(c.in), 1000).Next()
		var le *lineEndError
		switch {
		case c.frame != "":
			if err != nil || string(f) != c.frame {
				t.Errorf("%q: %q %v, want the frame %q", c.in, f, err, c.frame)
			}
		case !errors.As(err, &le) || le.Found.ID.String() != c.id || le.Found.Kind() != Request:
			t.Errorf("%q: %q %v, want a lineEndError finding the request %s", c.in, f, err, c.id)
		}
	}
}

// A frame over the bound is read through as it streams past: its id is
// found wherever it is, before, after or between large members.
func TestReaderTooLargeFindsID(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	for _, c := range []struct{ in, id string }{
		{`{"jsonrpc":"2.0","id":1,"result":{"text":"` + big + `"}}`, "1"},
		{`{"result":{"text":"` + big + `"},"jsonrpc":"2.0","id":2}`, "2"},
		{`{"method":"tools/call","params":{"a":"` + big + `"},"id":"three","x":"` + big + `"}`, `"three"`},
		{`{"result":{"text":"` + big + `\"},\"id\":99"},"id":4}`, "4"},
	} {
		r := newReader(iotest.HalfReader(strings.NewReader(c.in+"\n{}\n")), 200<<10)
		_, err := r.Next()
		var tl *tooLargeError
		if !errors.As(err, &tl) || tl.Found.ID.String() != c.id {
			t.Errorf("%.40s…: %v, want a tooLargeError finding the id %s", c.in, err, c.id)
		}
		if f, err := r.Next(); err != nil || string(f) != "{}" {
			t.Errorf("after it: %q %v", f, err)
		}
	}
}

func TestWriterConcurrent(t *testing.T) {
	var buf bytes.Buffer
	w := newWriter(&buf)
	done := make(chan bool)
	for g := 0; g < 4; g++ {
		go func(g int) {
			for i := 0; i < 100; i++ {
				w.Write([]byte(strings.Repeat(string(rune('a'+g)), 50)))
			}
			done <- true
		}(g)
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	w.Flush()
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if len(line) != 50 || strings.Count(line, line[:1]) != 50 {
			t.Fatalf("interleaved frame %q", line)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\n"), 16)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		max = int(uint(max)%4096) + 1
		r := newReader(bytes.NewReader(in), max)
		for i := 0; i < 10000; i++ {
			f, err := r.Next()
			var tl *tooLargeError
			switch {
			case errors.As(err, &tl):
				continue
			case err != nil:
				return
			}
			if len(f) > max || bytes.ContainsAny(f, "\r\n") {
				t.Fatalf("frame of %d bytes (bound %d) or with a line end: %q", len(f), max, f)
			}
		}
	})
}
