package audit

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
)

// lockCurrent takes the lock of the log's current file and reads its
// newest record. A file that ends with a rotation record has been
// rotated: by another session, which has put the next file at the path,
// so that one is opened instead; or by a session that died before it
// could, which interrupted reports, for the write to finish.
func (l *Log) lockCurrent() (interrupted bool, err error) {
	for range 100 {
		if err := lock(l.f); err != nil {
			return false, fmt.Errorf("locking: %w", err)
		}
		if err := l.catchUp(); err != nil {
			unlock(l.f)
			return false, err
		}
		if !l.rotates || !l.tailRotated {
			return false, nil
		}
		same, err := l.atPath()
		if err != nil {
			unlock(l.f)
			return false, err
		}
		if same {
			return true, nil
		}
		unlock(l.f)
		if err := l.reopen(); err != nil {
			return false, err
		}
	}
	return false, errors.New("the log was rotated 100 times while this session waited to write")
}

// atPath reports whether the file held is the one at the log's path.
func (l *Log) atPath() (bool, error) {
	held, err := l.f.Stat()
	if err != nil {
		return false, err
	}
	st, err := os.Stat(l.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(held, st), nil
}

// reopen opens the file now at the log's path. It is there but for a
// moment of a rotation where hard links are not to be had (see rotate):
// it waits a little for it before it makes a new one.
func (l *Log) reopen() error {
	var f *os.File
	var err error
	for i := 0; ; i++ {
		flags := os.O_RDWR | os.O_APPEND
		if i == 1000 {
			flags |= os.O_CREATE
		}
		f, err = os.OpenFile(l.path, flags, 0o600)
		if !errors.Is(err, fs.ErrNotExist) || i == 1000 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("opening the rotated log: %w", err)
	}
	l.f.Close()
	l.f, l.end, l.tailRotated = f, -1, false
	return nil
}

// linkEntry is the rotation record that ends a file (seq is its own
// sequence number), or the continuation record that begins the next (seq
// is the rotation record's).
func (l *Log) linkEntry(decision string, seq int64) *entry {
	e := jsonrpc.Event{Time: time.Now(), Decision: decision, Rule: "audit.max_size"}
	if decision == DecisionRotate {
		e.Note = fmt.Sprintf("this file has reached its size bound of %d bytes; the log continues in the next file, from seq %d", l.meta.MaxSize, seq+1)
	} else {
		e.Note = fmt.Sprintf("continues the log from the file before, which ends with the rotation record seq %d", seq)
	}
	return &entry{e: e}
}

// rotate begins the log's next file with first (sealed records, a
// continuation record first) and moves the current one, which ends with
// its rotation record, to NAME.1.jsonl, the older ones up to
// NAME.Keep.jsonl. The new file is written and locked before it takes
// the path, and the old one is linked to its new name before the new one
// replaces it, so that the path always names a file that continues the
// chain. Called with the current file's lock held; returns with the new
// file's held.
func (l *Log) rotate(first []byte) error {
	var b [6]byte
	rand.Read(b[:])
	tmp := l.path + ".new-" + hex.EncodeToString(b[:])
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := lock(f); err != nil {
		return fmt.Errorf("rotating: locking the new file: %w", err)
	}
	if _, err := f.Write(first); err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	// The oldest kept file, and any beyond Keep (left by a larger Keep),
	// go, with what a rotation cut short left: removed by a goroutine,
	// since freeing a large file takes a while, and the lock is held.
	gone := l.leftovers(tmp)
	for n := l.meta.Keep; ; n++ {
		old := tmp + "-old-" + strconv.Itoa(n)
		if os.Rename(rotatedName(l.path, n), old) != nil {
			break
		}
		gone = append(gone, old)
	}
	if len(gone) > 0 {
		l.removing.Add(1)
		go func() {
			defer l.removing.Done()
			for _, g := range gone {
				os.Remove(g)
			}
		}()
	}
	for n := l.meta.Keep; n > 1; n-- {
		if err := os.Rename(rotatedName(l.path, n-1), rotatedName(l.path, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotating: %w", err)
		}
	}
	one := rotatedName(l.path, 1)
	if err := os.Remove(one); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotating: %w", err)
	}
	if err := os.Link(l.path, one); err != nil {
		// No hard links here: for a moment the path names no file.
		if err := os.Rename(l.path, one); err != nil {
			return fmt.Errorf("rotating: %w", err)
		}
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("rotating: %w", err)
	}
	done = true
	unlock(l.f)
	l.f.Close()
	l.f, l.end = f, int64(len(first))
	return nil
}

// leftovers lists the new and old files of rotations that were cut
// short (NAME.jsonl.new-*), but for mine.
func (l *Log) leftovers(mine string) []string {
	entries, _ := os.ReadDir(filepath.Dir(l.path))
	prefix := filepath.Base(l.path) + ".new-"
	var out []string
	for _, e := range entries {
		if p := filepath.Join(filepath.Dir(l.path), e.Name()); strings.HasPrefix(e.Name(), prefix) && p != mine && e.Type().IsRegular() {
			out = append(out, p)
		}
	}
	return out
}

// rotatedName is the name of the log's nth rotated file: NAME.n.jsonl
// for NAME.jsonl.
func rotatedName(path string, n int) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "." + strconv.Itoa(n) + ext
}

// rotatedNumber returns n when name is the nth rotated file of base
// (both names without their folder).
func rotatedNumber(base, name string) (int, bool) {
	ext := filepath.Ext(base)
	rest, ok := strings.CutPrefix(name, strings.TrimSuffix(base, ext)+".")
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(rest, ext)
	if !ok || digits == "" || digits[0] == '0' || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}

// Files lists the files of the log at path, oldest first: its rotated
// files, highest number first, then path itself when it exists.
func Files(path string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	var rotated []int
	for _, e := range entries {
		if n, ok := rotatedNumber(filepath.Base(path), e.Name()); ok && e.Type().IsRegular() {
			rotated = append(rotated, n)
		}
	}
	slices.Sort(rotated)
	var out []string
	for _, n := range slices.Backward(rotated) {
		out = append(out, rotatedName(path, n))
	}
	if _, err := os.Stat(path); err == nil {
		out = append(out, path)
	}
	return out, nil
}

// IsRotated reports whether path names a rotated file of a log
// (NAME.N.jsonl), going by its name.
func IsRotated(path string) bool {
	ext := filepath.Ext(path)
	stem := strings.TrimSuffix(path, ext)
	i := strings.LastIndexByte(stem, '.')
	if i < 0 {
		return false
	}
	_, ok := rotatedNumber(filepath.Base(stem[:i]+ext), filepath.Base(path))
	return ok
}
