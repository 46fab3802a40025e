package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShebang(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		text, interp, arg string
		ok                bool
	}{
		{"#!/bin/sh\necho", "/bin/sh", "", true},
		{"#! /usr/bin/env node\n", "/usr/bin/env", "node", true},
		{"#!/usr/bin/env -S node --flag  \r\n", "/usr/bin/env", "-S node --flag", true},
		{"#!\t/bin/bash\t-e\n", "/bin/bash", "-e", true},
		{"#!/bin/sh", "/bin/sh", "", true},
		{"#!\n", "", "", false},
		{"\x7fELF", "", "", false},
		{"", "", "", false},
	} {
		path := filepath.Join(dir, "s")
		os.WriteFile(path, []byte(tc.text), 0o755)
		interp, arg, ok := shebang(path)
		if interp != tc.interp || arg != tc.arg || ok != tc.ok {
			t.Errorf("shebang(%q) = %q, %q, %v; want %q, %q, %v", tc.text, interp, arg, ok, tc.interp, tc.arg, tc.ok)
		}
	}
}

func TestEnvProgram(t *testing.T) {
	for arg, want := range map[string]string{
		"node":                      "node",
		"-S node --flag":            "node",
		"-S NODE_ENV=x node":        "node",
		"-u HOME python3 -u":        "python3",
		"--chdir /tmp deno":         "deno",
		"-i":                        "",
		"":                          "",
		"--split-string=node":       "node",
		"-Snode --x":                "node",
		"-vS node":                  "node",
		"-vSnode":                   "node",
		"-uHOME node":               "node",
		"-iS node":                  "node",
		"--split-string=-i node":    "node",
		"-- node":                   "node",
		"--ignore-environment deno": "deno",
	} {
		if got := envProgram(arg); got != want {
			t.Errorf("envProgram(%q) = %q, want %q", arg, got, want)
		}
	}
}

// ExecChain follows the PATH, symlinks and #! lines; a PATH search goes
// past a candidate the cell may not run, as execvp does on EACCES.
func TestExecChain(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel, text string) string {
		p := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(text), 0o755)
		return p
	}
	node := mk("granted/node", "\x7fELF")
	other := mk("hidden/node", "\x7fELF")
	env := mk("granted/env", "\x7fELF")
	script := mk("granted/server.js", "#!"+env+" node\n")
	link := filepath.Join(dir, "bin", "server")
	os.MkdirAll(filepath.Dir(link), 0o755)
	os.Symlink(script, link)
	allowed := func(real string) bool { return strings.HasPrefix(real, filepath.Join(dir, "granted")) }
	path := "PATH=" + filepath.Dir(other) + ":" + filepath.Dir(node) + ":" + filepath.Dir(link)

	chain, err := ExecChain("server", []string{path}, allowed)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range chain {
		got = append(got, l.Real)
	}
	if want := []string{script, env, node}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("chain %v, want %v", got, want)
	}
	if chain[0].Path != link || chain[2].Via != "/usr/bin/env in the #! line of "+script {
		t.Errorf("chain %+v", chain)
	}
	// Only the hidden node: the chain ends with it, for the caller to refuse.
	chain, err = ExecChain("server", []string{"PATH=" + filepath.Dir(other) + ":" + filepath.Dir(link)}, allowed)
	if err != nil || chain[len(chain)-1].Real != other {
		t.Errorf("chain %+v, %v; want it to end with %s", chain, err, other)
	}
	if _, err := ExecChain("nothere", []string{path}, allowed); err == nil {
		t.Errorf("a command not on the PATH was found")
	}
	// A loop of scripts stops at the kernel's depth.
	a := mk("granted/a", "#!"+filepath.Join(dir, "granted/b")+"\n")
	mk("granted/b", "#!"+a+"\n")
	if chain, _ := ExecChain(a, nil, allowed); len(chain) > maxInterp+1 {
		t.Errorf("a #! loop gave a chain of %d", len(chain))
	}
}

func FuzzShebang(f *testing.F) {
	f.Add([]byte("#!/usr/bin/env -S node --x\n"))
	f.Add([]byte("#!\t \n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "s")
		os.WriteFile(path, b, 0o755)
		interp, arg, ok := shebang(path)
		if !ok {
			return
		}
		if interp == "" || strings.ContainsAny(interp, " \t\n") || strings.ContainsRune(arg, '\n') {
			t.Errorf("shebang(%q) = %q, %q", b, interp, arg)
		}
		envProgram(arg)
	})
}
