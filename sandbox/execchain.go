package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Link is one file the kernel runs to start a command: the command
// itself, then each interpreter its `#!` line names.
type Link struct {
	Name string // as named: the command, or the #! line's interpreter
	Path string // absolute, as found on the PATH
	Real string // symlinks resolved
	Via  string // "" for the command; else "#! line of REAL" or "/usr/bin/env in the #! line of REAL"
}

// maxInterp is how deep the kernel follows #! lines (BINPRM's limit).
const maxInterp = 4

// ExecChain finds what the kernel runs for name: name on the server's
// PATH (env), its symlinks resolved, then the interpreter each `#!` line
// names (through `/usr/bin/env NAME`, which searches the PATH as execvp
// does). allowed says whether the cell may run a resolved file; a PATH
// search that meets a file the cell may not run goes on, as execvp does
// on EACCES. It stops at the first file that is not a script, or at the
// first link the cell may not run, which it returns last.
func ExecChain(name string, env []string, allowed func(real string) bool) ([]Link, error) {
	first, err := lookLink(name, env, allowed)
	if err != nil {
		return nil, err
	}
	chain := []Link{first}
	for len(chain) <= maxInterp {
		cur := chain[len(chain)-1]
		if !allowed(cur.Real) {
			return chain, nil
		}
		interp, arg, ok := shebang(cur.Real)
		if !ok {
			return chain, nil
		}
		next := Link{Name: interp, Path: interp, Via: "#! line of " + cur.Real}
		if !filepath.IsAbs(interp) {
			// The kernel takes a relative interpreter from the working
			// folder; nobody means that.
			return nil, fmt.Errorf("%s names the interpreter %q, which is not an absolute path", cur.Real, interp)
		}
		if real, err := filepath.EvalSymlinks(interp); err == nil {
			next.Real = real
		} else {
			return nil, fmt.Errorf("the interpreter %s in the #! line of %s: %w", interp, cur.Real, err)
		}
		chain = append(chain, next)
		if filepath.Base(next.Real) == "env" && allowed(next.Real) {
			prog := envProgram(arg)
			if prog == "" {
				return chain, nil
			}
			l, err := lookLink(prog, env, allowed)
			if err != nil {
				return nil, fmt.Errorf("%s runs %s (#! line of %s): %w", next.Path, prog, cur.Real, err)
			}
			l.Via = "/usr/bin/env in the #! line of " + cur.Real
			chain = append(chain, l)
		}
	}
	return chain, nil
}

// NotOnPathError is a command name that no folder of the server's PATH
// holds as an executable file.
type NotOnPathError struct {
	Name string
	Path string // the server's PATH; "" when it has none
}

func (e *NotOnPathError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s is not an absolute path, and the server's environment has no PATH to find it on", e.Name)
	}
	return fmt.Sprintf("no folder of the server's PATH (%s) holds %s", e.Path, e.Name)
}

// lookLink finds name on the PATH of env and resolves its symlinks. Of
// several candidates it takes the first the cell may run, else the first.
func lookLink(name string, env []string, allowed func(string) bool) (Link, error) {
	var cands []string
	if strings.ContainsRune(name, os.PathSeparator) {
		cands = []string{name}
	} else {
		for _, kv := range env {
			if p, ok := strings.CutPrefix(kv, "PATH="); ok {
				for _, dir := range strings.Split(p, string(os.PathListSeparator)) {
					if dir == "" {
						continue
					}
					cand := dir + string(os.PathSeparator) + name
					if st, err := os.Stat(cand); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
						cands = append(cands, cand)
					}
				}
			}
		}
		if len(cands) == 0 {
			np := &NotOnPathError{Name: name}
			for _, kv := range env {
				if p, ok := strings.CutPrefix(kv, "PATH="); ok {
					np.Path = p
				}
			}
			return Link{}, np
		}
	}
	var out []Link
	for _, c := range cands {
		abs, err := filepath.Abs(c)
		if err != nil {
			return Link{}, err
		}
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return Link{}, fmt.Errorf("%s: %w", abs, err)
		}
		l := Link{Name: name, Path: abs, Real: real}
		if allowed(real) {
			return l, nil
		}
		out = append(out, l)
	}
	return out[0], nil
}

// shebang reads a #! line as Linux does: the interpreter up to the first
// blank, and the rest of the line (trimmed) as one argument.
func shebang(path string) (interp, arg string, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := io.ReadFull(f, buf)
	buf = buf[:n]
	if !bytes.HasPrefix(buf, []byte("#!")) {
		return "", "", false
	}
	line := buf[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t")
	if s == "" {
		return "", "", false
	}
	interp, arg, _ = strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
	return interp, strings.TrimSpace(arg), true
}

// envProgram is the program `env ARG` runs: the first word of ARG that is
// not an option, an option's argument or an assignment (`env -S node
// --flag`, `env -Snode`, `env --split-string=node`, `env -u VAR node`,
// `env VAR=x node`).
func envProgram(arg string) string {
	words := strings.Fields(arg)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			if i+1 < len(words) {
				return words[i+1]
			}
			return ""
		case strings.HasPrefix(w, "--split-string="):
			// The value is more words of the same command line.
			words = append(strings.Fields(w[len("--split-string="):]), words[i+1:]...)
			i = -1
		case w == "--unset" || w == "--chdir":
			i++
		case strings.HasPrefix(w, "--"):
		case strings.HasPrefix(w, "-") && len(w) > 1:
			for j := 1; j < len(w); j++ {
				c := w[j]
				if c == 'S' {
					if rest := w[j+1:]; rest != "" {
						words = append(strings.Fields(rest), words[i+1:]...)
						i = -1
					}
					break
				}
				if c == 'u' || c == 'C' {
					if j+1 == len(w) {
						i++ // the argument is the next word
					}
					break
				}
			}
		case strings.Contains(w, "="):
		default:
			return w
		}
	}
	return ""
}
