package trust

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Store is the trust store in a folder (normally ${STATE}/trust).
type Store struct {
	Dir string
}

// recordID names a record by its key: the SHA-256 of the parts, each ended by
// a NUL, in hex.
func recordID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// path is the file of record name in the folder kind.
func (s *Store) path(kind, name string) string {
	return filepath.Join(s.Dir, kind, name+".json")
}

// read returns the record's bytes, or nil and no error when there is none.
func (s *Store) read(kind, name string) ([]byte, error) {
	b, err := os.ReadFile(s.path(kind, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the trust store: %w", err)
	}
	return b, nil
}

// update replaces a record with what fn makes of the old one (nil when
// there is none), under the store's lock. fn returning nil bytes leaves
// the record as it was.
func (s *Store) update(kind, name string, fn func(old []byte) ([]byte, error)) error {
	dir := filepath.Join(s.Dir, kind)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("making the trust store: %w", err)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	old, err := s.read(kind, name)
	if err != nil {
		return err
	}
	b, err := fn(old)
	if err != nil || b == nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	if err := os.Rename(f.Name(), s.path(kind, name)); err != nil {
		return fmt.Errorf("writing the trust store: %w", err)
	}
	return nil
}

// lock takes the store's advisory lock.
func (s *Store) lock() (unlock func(), err error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("making the trust store: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the trust store: %w", err)
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the trust store: %w", err)
	}
	return func() { funlock(f); f.Close() }, nil
}

// Sum is the SHA-256 of b in hex.
func Sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// short is the first 12 hex digits of a digest, for people.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}
