package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// filesystemServer starts the real server-filesystem in a cell under
// profile text (the client's roots off, so its allowed folders are
// exactly dirs). files are written into the project first, by relative
// path. It returns a call function and the project folder.
func filesystemServer(t *testing.T, text string, files map[string]string, dirs ...string) (call func(tool string, args map[string]any) (string, bool), project string) {
	t.Helper()
	nm := nodeModules(t)
	profile := writeProfile(t, grantRead(nm)+"[client]\nroots = false\n"+text)
	project = filepath.Dir(profile)
	for name, content := range files {
		path := filepath.Join(project, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"node", filepath.Join(nm, "@modelcontextprotocol/server-filesystem/dist/index.js")}
	for _, d := range dirs {
		args = append(args, filepath.Join(project, d))
	}
	ctx, sess, _ := connectSDK(t, cellCommand(t, profile, args...), nil, "")
	return func(tool string, args map[string]any) (string, bool) {
		t.Helper()
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			return err.Error(), true
		}
		return textOf(res), res.IsError
	}, project
}

const withinInside = `
[tools.args."read_*"]
paths = { within = ["${PROJECT}/inside"] }
path = { within = ["${PROJECT}/inside"] }
`

// TestReadMultipleFilesWithin: a `within` constraint under a glob key
// applies to every read_* tool of the real server-filesystem, and to each
// element of read_multiple_files' paths; the control shows that without
// it the server reads the outside file for the same call.
func TestReadMultipleFilesWithin(t *testing.T) {
	files := map[string]string{"inside/a.txt": "INSIDE-A", "inside/b.txt": "INSIDE-B", "outside.txt": "OUTSIDE"}
	call, p := filesystemServer(t, withinInside, files, ".")
	a, b, outside := filepath.Join(p, "inside/a.txt"), filepath.Join(p, "inside/b.txt"), filepath.Join(p, "outside.txt")

	if got, isErr := call("read_multiple_files", map[string]any{"paths": []any{a, b}}); isErr || !strings.Contains(got, "INSIDE-A") || !strings.Contains(got, "INSIDE-B") {
		t.Errorf("two paths inside: %q (error %v)", got, isErr)
	}
	for _, c := range []struct {
		tool  string
		paths any
		want  string
	}{
		{"read_multiple_files", []any{a, outside}, `argument "paths" of tool "read_multiple_files" (element 1) is outside the allowed folders`},
		{"read_multiple_files", []any{outside, a}, "(element 0) is outside"},
		{"read_multiple_files", []any{a, filepath.Join(p, "inside/../outside.txt")}, "(element 1) is outside"},
		{"read_multiple_files", []any{a, "../outside.txt"}, "(element 1) is a relative path"},
		{"read_multiple_files", []any{a, 7}, "(element 1) must be a string, not number"},
		{"read_multiple_files", []any{a, nil}, "(element 1) must be a string, not null"},
		{"read_multiple_files", []any{a, []any{outside}}, "(element 1) must be a string, not array"},
		{"read_multiple_files", []any{a, map[string]any{"path": outside}}, "(element 1) must be a string, not object"},
		{"read_multiple_files", outside, `argument "paths" of tool "read_multiple_files" is outside`},
	} {
		got, isErr := call(c.tool, map[string]any{"paths": c.paths})
		if !isErr || !strings.Contains(got, c.want) || strings.Contains(got, "OUTSIDE") {
			t.Errorf("%s %v: %q (error %v); want an error naming %q, and not the outside file", c.tool, c.paths, got, isErr, c.want)
		}
	}
	// The same glob key constrains read_text_file's path; list_directory,
	// which no key names, is not constrained.
	if got, isErr := call("read_text_file", map[string]any{"path": outside}); !isErr || !strings.Contains(got, `argument "path" of tool "read_text_file" is outside`) {
		t.Errorf("read_text_file outside: %q (error %v)", got, isErr)
	}
	if got, isErr := call("read_text_file", map[string]any{"path": a}); isErr || got != "INSIDE-A" {
		t.Errorf("read_text_file inside: %q (error %v)", got, isErr)
	}
	if got, isErr := call("list_directory", map[string]any{"path": p}); isErr || !strings.Contains(got, "outside.txt") {
		t.Errorf("list_directory of the project: %q (error %v)", got, isErr)
	}

	// The control: the same profile without [tools.args].
	call, p = filesystemServer(t, "", files, ".")
	if got, _ := call("read_multiple_files", map[string]any{"paths": []any{filepath.Join(p, "inside/a.txt"), filepath.Join(p, "outside.txt")}}); !strings.Contains(got, "OUTSIDE") {
		t.Errorf("control: without the constraint the server read %q; want the outside file", got)
	}
}

// TestWithinRelativePath: server-filesystem resolves a relative path
// against its allowed folders in turn, not its working folder, so a
// check that joined it to the working folder would pass a path the
// server reads elsewhere. The control shows the server reading the other
// folder's file; under `within` the relative path is refused.
func TestWithinRelativePath(t *testing.T) {
	files := map[string]string{"other/secret.txt": "OTHER-SECRET", "inside/a.txt": "INSIDE-A"}
	cwd := "[server]\ncwd = \"${PROJECT}/inside\"\n"
	call, _ := filesystemServer(t, cwd, files, "other", "inside")
	if got, _ := call("read_text_file", map[string]any{"path": "secret.txt"}); got != "OTHER-SECRET" {
		t.Fatalf("control: the server read %q for the relative path secret.txt from its working folder inside/; want other/secret.txt", got)
	}
	call, _ = filesystemServer(t, cwd+withinInside, files, "other", "inside")
	for _, rel := range []string{"secret.txt", "./secret.txt", "a.txt"} {
		if got, isErr := call("read_text_file", map[string]any{"path": rel}); !isErr || !strings.Contains(got, "is a relative path") || strings.Contains(got, "SECRET") {
			t.Errorf("relative %q under within: %q (error %v)", rel, got, isErr)
		}
		if got, isErr := call("read_multiple_files", map[string]any{"paths": []any{rel}}); !isErr || !strings.Contains(got, "(element 0) is a relative path") {
			t.Errorf("relative %q in paths under within: %q (error %v)", rel, got, isErr)
		}
	}
}

// TestWithinFileURI: server-filesystem reads a file: value as a relative
// path and resolves it against its first allowed folder, so a `within`
// that read it as a URI passed a path the server wrote outside the
// folder (the review: other/file:/…/inside/x/pwn.txt). The control shows
// the server writing there for each spelling; under `within` every URI
// is refused and nothing is written.
func TestWithinFileURI(t *testing.T) {
	files := map[string]string{"inside/keep.txt": "KEEP", "other/keep.txt": "KEEP"}
	spellings := func(p string) []string {
		dir := p + "/inside/x"
		return []string{"file:" + dir, "file://" + dir, "file://localhost" + dir, "FILE:" + dir, "File://LOCALHOST" + dir}
	}
	// written lists the files below other/ but keep.txt.
	written := func(p string) []string {
		var out []string
		filepath.WalkDir(filepath.Join(p, "other"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && d.Name() != "keep.txt" {
				out = append(out, path)
			}
			return nil
		})
		return out
	}

	call, p := filesystemServer(t, "", files, "other", "inside")
	for _, dir := range spellings(p) {
		call("create_directory", map[string]any{"path": dir})
		if got, isErr := call("write_file", map[string]any{"path": dir + "/pwn.txt", "content": "PWNED"}); isErr {
			t.Errorf("control: write_file %s: %q; want the server to write it", dir, got)
		}
	}
	if len(written(p)) == 0 {
		t.Fatalf("control: the server wrote nothing below other/ for the file: values; the test shows nothing")
	}

	call, p = filesystemServer(t, "[tools.args.\"*\"]\npath = { within = [\"${PROJECT}/inside\"] }\n", files, "other", "inside")
	for _, dir := range spellings(p) {
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{"create_directory", map[string]any{"path": dir}},
			{"write_file", map[string]any{"path": dir + "/pwn.txt", "content": "PWNED"}},
			{"read_text_file", map[string]any{"path": dir + "/pwn.txt"}},
		} {
			got, isErr := call(c.tool, c.args)
			if !isErr || !strings.Contains(got, "is a URI, not an absolute path") {
				t.Errorf("%s %s under within: %q (error %v); want it refused as a URI", c.tool, c.args["path"], got, isErr)
			}
		}
	}
	if w := written(p); len(w) > 0 {
		t.Errorf("under within the server wrote %v", w)
	}
	// The absolute path inside is written.
	if got, isErr := call("write_file", map[string]any{"path": p + "/inside/ok.txt", "content": "OK"}); isErr {
		t.Errorf("write_file inside: %q", got)
	}
}

// TestEnumExactPython: a Python server reads JSON integers exactly, so a
// number a float comparison takes for the enum value is another channel
// to it (the review: 1234567890123456800 for 1234567890123456789). The
// control, without the enum, shows the server acting on each value.
func TestEnumExactPython(t *testing.T) {
	_, err := os.Stat("/usr/bin/python3")
	need(t, "/usr/bin/python3", err == nil)
	script, _ := filepath.Abs("testdata/intserver.py")
	post := func(s *session, id int, channel string) (text string, isErr bool) {
		r := s.call(id, "tools/call", `{"name":"post","arguments":{"channel":`+channel+`}}`)
		res, _ := r["result"].(map[string]any)
		isErr, _ = res["isError"].(bool)
		return resultText(r), isErr || r["error"] != nil
	}
	start := func(rules string) *session {
		s := startSession(t, cellCommand(t, writeProfile(t, grantRead(filepath.Dir(script))+rules), "/usr/bin/python3", script))
		if r := s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}`); r["result"] == nil {
			t.Fatalf("initialize: %v\n%s", r, s.stderr.String())
		}
		return s
	}
	// Other channels to Python, though a 64-bit float reads each as the
	// allowed value; the last two are the allowed digits in float syntax.
	others := []string{"1234567890123456800", "1234567890123456700", "1234567890123456788", "1.2345678901234568e18", "1.234567890123456789e18", "1234567890123456789.0"}
	const allowed = "posted to channel 1234567890123456789"

	s := start("")
	for i, n := range others {
		if got, isErr := post(s, 10+i, n); isErr || !strings.HasPrefix(got, "posted to channel 1") || got == allowed {
			t.Errorf("control %s: %q (error %v); want the server to post to another channel", n, got, isErr)
		}
	}

	s = start("[tools.args.post]\nchannel = { enum = [1234567890123456789] }\n")
	for i, n := range others {
		if got, isErr := post(s, 10+i, n); !isErr || !strings.Contains(got, "is not one of the allowed values (enum)") {
			t.Errorf("%s under enum: %q (error %v); want it refused", n, got, isErr)
		}
	}
	if got, isErr := post(s, 20, "1234567890123456789"); isErr || got != allowed {
		t.Errorf("1234567890123456789 under enum: %q (error %v); want it posted", got, isErr)
	}
}

// Issue 10: `within` follows symbolic links in the part of the path that
// exists, as the server's open will. public/link points at ../private:
// lexically inside public, really outside. The real server-filesystem,
// allowed the whole project, reads through it unless within stops it.
func TestWithinFollowsSymlinks(t *testing.T) {
	files := map[string]string{"private/secret.txt": "PRIVATE-SECRET", "public/a.txt": "PUBLIC-A"}
	links := func(project string) {
		for link, target := range map[string]string{"public/link": "../private", "public/abs": filepath.Join(project, "private"), "public/chain": "link"} {
			if err := os.Symlink(target, filepath.Join(project, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	through := []string{"public/link/secret.txt", "public/abs/secret.txt", "public/chain/secret.txt"}
	// Control: without the constraint the server reads the private file.
	call, project := filesystemServer(t, "", files, ".")
	links(project)
	for _, rel := range through {
		if got, _ := call("read_text_file", map[string]any{"path": filepath.Join(project, rel)}); got != "PRIVATE-SECRET" {
			t.Fatalf("control: %s gave %q, so the test proves nothing", rel, got)
		}
	}
	call, project = filesystemServer(t, "[tools.args.\"*\"]\npath = { within = [\"${PROJECT}/public\"] }\npaths = { within = [\"${PROJECT}/public\"] }\n", files, ".")
	links(project)
	for _, rel := range through {
		path := filepath.Join(project, rel)
		if got, isErr := call("read_text_file", map[string]any{"path": path}); !isErr || !strings.Contains(got, "is outside the allowed folders") || strings.Contains(got, "PRIVATE") {
			t.Errorf("%s: %q (error %v)", rel, got, isErr)
		}
		if got, isErr := call("read_multiple_files", map[string]any{"paths": []any{filepath.Join(project, "public/a.txt"), path}}); !isErr || strings.Contains(got, "PRIVATE") {
			t.Errorf("%s in paths: %q (error %v)", rel, got, isErr)
		}
	}
	// .. after a link: the kernel and Node's path.resolve read it apart.
	if got, isErr := call("read_text_file", map[string]any{"path": project + "/public/link/../a.txt"}); !isErr || !strings.Contains(got, "holds .. after a symbolic link") {
		t.Errorf("public/link/../a.txt: %q (error %v)", got, isErr)
	}
	if got, isErr := call("read_text_file", map[string]any{"path": filepath.Join(project, "public/a.txt")}); isErr || got != "PUBLIC-A" {
		t.Errorf("public/a.txt: %q (error %v)", got, isErr)
	}
}
