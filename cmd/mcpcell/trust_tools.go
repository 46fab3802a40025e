package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/internal/trust"
	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"github.com/mcpcell/mcpcell/profiles"
)

// openSurface is the pinned tool surface of a session that starts
// command under p, or nil when the profile says [tools] pin = false.
// given says the command came from the command line (not [server]).
func (c *cli) openSurface(p *profiles.Profile, command []string, given bool) (*trust.Surface, error) {
	if p.Unpinned.File != "" {
		return nil, nil
	}
	s, err := trustStore(p).OpenSurface(p.Origin.File, p.Project, command, clientconf.MaskArgs(command), reviewCommand(p, command, given))
	if err != nil {
		return nil, fmt.Errorf("the pinned tool surface: %w", err)
	}
	return s, nil
}

// reviewCommand is the command line that reviews and approves a change
// of the surface pinned for p and command.
func reviewCommand(p *profiles.Profile, command []string, given bool) string {
	profile := p.Origin.File
	if name, ok := strings.CutPrefix(profile, "preset:"); ok {
		profile = name
	}
	line := "mcpcell trust --tools --profile " + shellWords(profile)
	if p.ProjectFrom != profiles.ProjectProfile {
		line += " --project " + shellWords(p.Project)
	}
	if given {
		line += " -- " + shellWords(clientconf.MaskArgs(command)...)
	}
	return line
}

// trustTools shows each tool, prompt and resource template the server
// changed since the user trusted its surface (for p and command) as a
// diff against the approved one, asks (or takes yes), and approves them.
func (c *cli) trustTools(p *profiles.Profile, command []string, yes bool) int {
	if p.Unpinned.File != "" {
		fmt.Fprintf(c.stdout, "[tools] pin = false (%s): this profile pins no tool surface, so there is nothing to approve\n", p.Unpinned)
		return 0
	}
	store := trustStore(p)
	name := trust.SurfaceName(p.Origin.File, p.Project, command)
	rec, err := store.ReadSurface(name)
	if err != nil {
		return c.fail(err, "")
	}
	changes := rec.Changes()
	if len(rec.Kinds) == 0 {
		// A new command line (an upgrade, pkg@1.2 to pkg@1.3) starts over.
		fmt.Fprintf(c.stdout, "nothing to approve: no tool surface is pinned yet for profile %s, project %s, command %s; its first listing is approved as it is first seen\n", profileName(p), p.Project, shellWords(clientconf.MaskArgs(command)...))
		return 0
	}
	if len(changes) == 0 {
		fmt.Fprintf(c.stdout, "nothing to approve: the server changed no tool, prompt or resource template since you trusted them (profile %s, project %s, command %s)\n", profileName(p), p.Project, shellWords(clientconf.MaskArgs(command)...))
		return 0
	}
	noun := "definitions"
	if len(changes) == 1 {
		noun = "definition"
	}
	fmt.Fprintf(c.stdout, "The server changed %d %s since you trusted them (profile %s, project %s, command %s):\n\n", len(changes), noun, profileName(p), p.Project, shellWords(clientconf.MaskArgs(command)...))
	for _, ch := range changes {
		fmt.Fprint(c.stdout, describeChange(ch))
	}
	if !yes {
		ok, err := c.confirm("approve these?")
		if err != nil {
			c.errorf("%v", err)
			c.hintf("run it on a terminal to be asked, or add --yes to approve them")
			return exitFailed
		}
		if !ok {
			fmt.Fprintln(c.stderr, "mcpcell: nothing approved")
			return exitFailed
		}
	}
	var moved, left int
	err = store.UpdateSurface(name, func(r *trust.SurfaceRecord) bool {
		moved, left = r.Approve(changes)
		return moved > 0
	})
	if err != nil {
		return c.fail(err, "")
	}
	fmt.Fprintf(c.stdout, "approved %d; the next listing shows them\n", moved)
	if left > 0 {
		fmt.Fprintf(c.stdout, "left %d pending: changed again meanwhile, or past the trust store's %d entries; run mcpcell trust --tools again\n", left, trust.MaxEntries)
	}
	return 0
}

// describeChange is a change as a unified diff of the indented
// canonical definitions, with what a terminal would not show as itself
// (bidi overrides, zero-width characters) escaped: the server wrote it.
func describeChange(ch trust.Change) string {
	noun := map[string]string{trust.Tools: "tool", trust.Prompts: "prompt", trust.Templates: "resource template", trust.Instructions: "server instructions"}[ch.Kind]
	label := fmt.Sprintf("%s %s", noun, clipQuote(ch.New.Name))
	old := ""
	switch {
	case ch.Old == nil:
		label += ", a name not approved before"
	case ch.Old.Text == "":
		old = fmt.Sprintf("(text not kept; digest %s)\n", ch.Old.Digest)
	default:
		old = indentJSON(ch.Old.Text)
	}
	now := indentJSON(ch.New.Text)
	if ch.New.Text == "" {
		now = fmt.Sprintf("(text not kept; digest %s)\n", ch.New.Digest)
	}
	return unifiedDiff(label, old, now) + "\n"
}

// indentJSON is canonical text indented, each line printable: the
// escapes keep one line a line.
func indentJSON(s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		return printable(s) + "\n"
	}
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = printable(l)
	}
	return strings.Join(lines, "\n") + "\n"
}

// clipQuote quotes a name for people, cut to 100 bytes.
func clipQuote(s string) string {
	if len(s) > 100 {
		return showQuoted(utf8cut.Cut(s, 100)) + "…"
	}
	return showQuoted(s)
}
