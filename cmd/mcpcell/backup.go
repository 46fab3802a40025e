package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcpcell/mcpcell/internal/clientconf"
)

// backupNote says what the backup holds: no secret, or (by where they
// are) the credentials that stay in the config, which wrap cannot move.
func backupNote(cl clientconf.Client, path string, text []byte) string {
	f, err := clientconf.Parse(cl, path, text, nil)
	if err != nil {
		return "holding what the config held"
	}
	note := "with no secret in it"
	fds := f.Findings()
	if len(fds) > 0 {
		note = "with no secret that left the config"
	}
	if bytes.Contains(text, []byte(clientconf.MarkerPrefix)) {
		note += ` (a credential in the keyring stands there as "` + clientconf.MarkerPrefix + `ITEM", and unwrap --restore-secrets brings it back)`
	}
	if len(fds) > 0 {
		var where []string
		for i, fd := range fds {
			if i == 8 {
				where = append(where, fmt.Sprintf("and %d more", len(fds)-i))
				break
			}
			where = append(where, fd.Path)
		}
		n := "1 credential"
		if len(fds) > 1 {
			n = fmt.Sprintf("%d credentials", len(fds))
		}
		note += fmt.Sprintf("; like the config, it still holds %s that wrap cannot move: %s", n, strings.Join(where, ", "))
	}
	return note
}

type plainBackup struct {
	path string
	mode os.FileMode
}

// plainBackups lists the backups next to path that hold a credential in
// plain text that newText no longer holds: an older mcpcell wrote them,
// before backups held markers. wrap names them and leaves them alone: they
// may be the only copy of a value.
func plainBackups(cl clientconf.Client, path string, newText []byte) []plainBackup {
	nf, err := clientconf.Parse(cl, path, newText, nil)
	if err != nil {
		return nil
	}
	still := map[string]bool{}
	for _, fd := range nf.Findings() {
		for _, p := range fd.Parts {
			still[p] = true
		}
	}
	dir, prefix := filepath.Dir(path), filepath.Base(path)+".mcpcell-backup-"
	ents, _ := os.ReadDir(dir)
	var out []plainBackup
	for _, d := range ents {
		if !strings.HasPrefix(d.Name(), prefix) || !d.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, d.Name())
		text, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		bf, err := clientconf.Parse(cl, p, text, nil)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(bf.Findings(), func(fd clientconf.Finding) bool {
			return slices.ContainsFunc(fd.Parts, func(p string) bool { return !still[p] })
		}) {
			st, _ := os.Lstat(p)
			out = append(out, plainBackup{p, st.Mode().Perm()})
		}
	}
	return out
}

// writeBackup writes data next to path as PATH.mcpcell-backup-TIME (or
// -TIME-2, -3… when that exists: two runs in a second keep both), mode
// 0600, never over a file or through a link.
func writeBackup(path string, data []byte, now time.Time) (string, error) {
	base := fmt.Sprintf("%s.mcpcell-backup-%s", path, now.Format("20060102T150405"))
	for n := 1; n <= 100; n++ {
		name := base
		if n > 1 {
			name = fmt.Sprintf("%s-%d", base, n)
		}
		err := writeNew(name, data)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, err
	}
	return "", fmt.Errorf("%s and 99 more exist", base)
}

// writeNew creates path, mode 0600, and fails if anything (a link too)
// is there already.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// writeAtomic writes through a temporary file and a rename, with mode.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
