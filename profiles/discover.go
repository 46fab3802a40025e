package profiles

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

//go:embed presets/*.toml
var presets embed.FS

// DefaultName is the embedded profile used when none is found.
const DefaultName = "default"

// FileName is the profile file discovery looks for.
const FileName = ".mcpcell.toml"

// presetNames lists the names of the embedded presets.
func presetNames() []string {
	ents, _ := fs.ReadDir(presets, "presets")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".toml"))
	}
	return out
}

// presetSource returns the text of an embedded preset.
func presetSource(name string) ([]byte, bool) {
	b, err := presets.ReadFile("presets/" + name + ".toml")
	return b, err == nil
}

// unit is one file or preset to read.
type unit struct {
	src    Source
	path   string // absolute path of a file, or ""
	preset string // preset name, or ""
	data   []byte
}

func find(opts Options) (unit, error) {
	if opts.Profile != "" {
		if isPath(opts.Profile) {
			path, cwd := opts.Profile, ""
			if !filepath.IsAbs(path) {
				path, cwd = filepath.Join(opts.Cwd, path), opts.Cwd
			}
			u, err := readFile(filepath.Clean(path))
			if errors.Is(err, fs.ErrNotExist) {
				return u, &MissingFileError{Given: opts.Profile, Path: filepath.Clean(path), Cwd: cwd}
			}
			return u, err
		}
		return readPreset(opts.Profile, Source{File: "--profile"})
	}
	dir := opts.Project
	if dir == "" {
		dir = opts.Cwd
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(opts.Cwd, dir)
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		path := filepath.Join(d, FileName)
		if _, err := os.Stat(path); err == nil {
			return readFile(path)
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return readPreset(DefaultName, Source{})
}

// MissingFileError is a --profile file that does not exist.
type MissingFileError struct {
	Given string // as --profile gave it
	Path  string // the absolute path looked at
	Cwd   string // the working folder a relative Given was taken from; "" when absolute
}

func (e *MissingFileError) Error() string {
	if e.Cwd != "" {
		return fmt.Sprintf("--profile %s: there is no file %s (a relative path is taken from the working folder, %s)", e.Given, e.Path, e.Cwd)
	}
	return fmt.Sprintf("--profile %s: there is no such file", e.Given)
}

// Hint says what to do.
func (e *MissingFileError) Hint() string {
	if e.Cwd != "" {
		return "give the profile's absolute path, as in --profile /path/to/project/" + filepath.Base(e.Path) + ": clients start servers from / or your home folder, not from the project"
	}
	return "give the path of an existing profile file, or the name of an embedded preset (" + strings.Join(presetNames(), ", ") + ")"
}

func isPath(s string) bool {
	return strings.ContainsRune(s, '/') || strings.ContainsRune(s, filepath.Separator) || strings.HasSuffix(s, ".toml")
}

// maxFileSize is the largest profile file Load reads.
const maxFileSize = 1 << 20

// readFile reads a profile file: a regular file of at most maxFileSize
// bytes. It never blocks on a FIFO or reads a device without end.
func readFile(path string) (unit, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return unit{}, fmt.Errorf("reading profile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return unit{}, fmt.Errorf("reading profile: %w", err)
	}
	if !st.Mode().IsRegular() {
		return unit{}, fmt.Errorf("reading profile: %s is not a regular file (%s)", path, kindOf(st.Mode()))
	}
	if st.Size() > maxFileSize {
		return unit{}, fmt.Errorf("reading profile: %s is larger than %d bytes", path, maxFileSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return unit{}, fmt.Errorf("reading profile: %w", err)
	}
	if len(b) > maxFileSize {
		return unit{}, fmt.Errorf("reading profile: %s is larger than %d bytes", path, maxFileSize)
	}
	return unit{src: Source{File: path}, path: path, data: b}, nil
}

// kindOf names a file type that is not a regular file.
func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

func readPreset(name string, from Source) (unit, error) {
	b, ok := presetSource(name)
	if !ok {
		msg := fmt.Sprintf("no preset named %q (presets: %s)", name, strings.Join(presetNames(), ", "))
		if from.File == "" || from.File == "--profile" {
			return unit{}, errors.New(msg)
		}
		return unit{}, &Error{At: from, Msg: msg}
	}
	return unit{src: Source{File: "preset:" + name}, preset: name, data: b}, nil
}
