package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mcpcell/mcpcell/internal/clientconf"
	"github.com/mcpcell/mcpcell/internal/trust"
	"github.com/mcpcell/mcpcell/profiles"
	"github.com/mcpcell/mcpcell/sandbox"
)

// trustStore is the trust store of the profile's ${STATE}.
func trustStore(p *profiles.Profile) *trust.Store {
	return &trust.Store{Dir: filepath.Join(p.Vars["STATE"], "trust")}
}

// embedded reports whether p is an embedded preset, which is trusted by
// being in the binary: it grants no secrets and no network, so another
// command reaches nothing more.
func embedded(p *profiles.Profile) bool { return embeddedSource(p.Origin) }

// untrusted refuses to start for msg, with the commands that review and
// trust the profile (and argv, when it is the command that changed).
func (c *cli) untrusted(msg, profile, project string, argv []string) int {
	flags := "--profile " + shellWords(profile)
	if project != "" {
		flags += " --project " + shellWords(project)
	}
	c.errorf("%s", msg)
	c.hintf("%s", reviewHint(flags, argv))
	return exitFailed
}

// reviewHint says how to review and trust the profile that flags name,
// and argv with it unless argv is nil.
func reviewHint(flags string, argv []string) string {
	return "review it with mcpcell check " + flags + ", then " + trustCommand(flags, argv)
}

// trustCommand is the command that trusts the profile that flags name,
// and argv with it (credentials masked) unless argv is nil.
func trustCommand(flags string, argv []string) string {
	if argv == nil {
		return "mcpcell trust " + flags
	}
	return "mcpcell trust " + flags + " -- " + shellWords(clientconf.MaskArgs(argv)...)
}

// checkCommand refuses a server command line, or a file the kernel runs
// for it, that the profile's record does not trust.
func (c *cli) checkCommand(argv []string, chain []sandbox.Link) error {
	if c.record == nil {
		return errors.New("no trust record for the profile")
	}
	exes, err := hashChain(c.record, argv, chain)
	if err != nil {
		return err
	}
	return c.record.CheckCommand(argv, clientconf.MaskArgs(argv), exes)
}

// hashChain hashes the files the kernel runs for argv (chain), those
// whose stat is as rec (nil: no record) trusted them taken from rec.
func hashChain(rec *trust.Profile, argv []string, chain []sandbox.Link) ([]trust.Exe, error) {
	var known []trust.Exe
	if k := rec.Command(argv); k != nil {
		known = k.Exes
	}
	var paths []string
	for _, l := range chain {
		paths = append(paths, l.Real)
	}
	return trust.HashExes(paths, known)
}

func (c *cli) trust(args []string) int {
	var pf profileFlags
	fs := newFlags("trust", c.stderr, &pf)
	yes := fs.Bool("yes", false, "record without asking")
	tools := fs.Bool("tools", false, "approve the server's changed tool surface")
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("trust: %w", err))
	}
	p, _, code := c.loadProfile(pf)
	if code != 0 {
		return code
	}
	argv := fs.Args()
	if len(argv) == 0 {
		argv = p.Command
	}
	if *tools {
		if len(argv) == 0 {
			c.errorf("trust --tools: no server command")
			c.hintf("give the command the client starts after --, as mcpcell run has it, or set [server] command in the profile")
			return exitUsage
		}
		return c.trustTools(p, argv, *yes)
	}
	if embedded(p) {
		fmt.Fprintf(c.stdout, "%s is embedded in mcpcell: it needs no trust, and its server command is not pinned (it grants no secrets and no network)\n", profileName(p))
		return 0
	}
	// The record holds the profile as written (check --verbose's view),
	// which the diff below compares; the terminal gets check's view.
	var policy bytes.Buffer
	printProfile(&policy, p, nil)
	plan, err := c.planCell(p, false)
	if err != nil {
		c.stdout.Write(policy.Bytes())
		return c.fail(err, planHint(err, "fix the profile"))
	}
	printProfile(c.stdout, p, plan)
	for _, b := range plan.broad {
		fmt.Fprintf(c.stderr, "mcpcell: warning: %s\n", printable(b))
	}
	if refusal := printCell(c.stdout, p, plan); refusal != "" {
		fmt.Fprintf(c.stderr, "mcpcell: warning: mcpcell run would refuse to start: %s\n", printable(refusal))
	}
	store := trustStore(p)
	old, err := store.Profile(p.Origin.File, p.Project)
	if err != nil {
		return c.fail(err, "")
	}
	now := time.Now().UTC()
	var files []trust.FileSum
	for _, s := range p.Includes {
		if !embeddedSource(s) {
			files = append(files, trust.FileSum{Path: s.File, Sum: trust.Sum(c.read[s.File])})
		}
	}
	rec := trust.Profile{Path: p.Origin.File, Project: p.Project, Files: files, Policy: policy.String(), Time: now}
	out := c.stdout
	fmt.Fprintln(out)
	// The file's path and the project's are the file system's, shown as
	// printable shows them, like every path check prints.
	file, project := printable(p.Origin.File), printable(p.Project)
	profileSame := old != nil && slices.Equal(sortedFiles(old.Files), sortedFiles(files))
	switch {
	case old == nil:
		fmt.Fprintf(out, "trust: %s (project %s) is new: you have not trusted it before\n", file, project)
	case profileSame:
		fmt.Fprintf(out, "trust: %s (project %s) is trusted as it is\n", file, project)
	case old.Policy == rec.Policy:
		fmt.Fprintf(out, "trust: %s (project %s) changed since you trusted it, but its effective policy did not\n", file, project)
	default:
		fmt.Fprintf(out, "trust: %s (project %s) changed since you trusted it; the effective policy, trusted against now:\n", file, project)
		// A record an older mcpcell wrote holds the policy unescaped.
		fmt.Fprint(out, printableLines(unifiedDiff(p.Origin.File, old.Policy, rec.Policy)))
	}
	var cmds []trust.Command
	commandSame := true
	if len(argv) == 0 {
		fmt.Fprintln(out, "trust: no server command to pin (the profile has no [server] command): give one after --, as the client's configuration does, or mcpcell run refuses it")
	} else {
		cmd, same, code := c.pinCommand(old, argv, plan)
		if code != 0 {
			return code
		}
		cmds, commandSame = []trust.Command{cmd}, same
	}
	if profileSame && commandSame {
		fmt.Fprintln(out, "trust: nothing to record")
		return 0
	}
	if !*yes {
		ok, err := c.confirm("trust this?")
		if err != nil {
			return c.fail(err, "pass --yes to trust without asking (after reviewing what it printed)")
		}
		if !ok {
			fmt.Fprintln(c.stderr, "mcpcell: nothing trusted")
			return 1
		}
	}
	if err := store.TrustProfile(rec, cmds...); err != nil {
		return c.fail(err, "")
	}
	c.sayf("trusted %s for project %s", file, project)
	return 0
}

// pinCommand hashes what the kernel runs for argv in the profile's cell,
// prints it with what changed since old trusted it, and reports whether
// old trusts it as it is.
func (c *cli) pinCommand(old *trust.Profile, argv []string, plan *cellPlan) (trust.Command, bool, int) {
	out := c.stdout
	_, chain, err := serverPath(argv, plan.env, plan.grants.Rules())
	if len(chain) == 0 {
		var se *startError
		hint := ""
		if errors.As(err, &se) {
			hint = se.hint
		}
		return trust.Command{}, false, c.fail(fmt.Errorf("cannot pin the server command: %w", err), hint)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "mcpcell: warning: mcpcell run would refuse this command: %s\n", printable(err.Error()))
	}
	prev := old.Command(argv)
	exes, err := hashChain(old, argv, chain)
	if err != nil {
		return trust.Command{}, false, c.fail(err, "")
	}
	shown := clientconf.MaskArgs(argv)
	fmt.Fprintf(out, "trust: server command %s\n", printable(trust.Quote(shown)))
	for _, e := range exes {
		fmt.Fprintf(out, "  runs %s (sha256 %s)\n", printable(e.Path), e.Sum)
	}
	switch {
	case prev != nil:
		if d := trust.ExesChanged(prev.Exes, exes); d != "" {
			fmt.Fprintf(out, "trust: the server command changed since you trusted it: %s\n", printable(d))
			return trust.NewCommand(argv, shown, exes, time.Now().UTC()), false, 0
		}
		fmt.Fprintln(out, "trust: the server command is trusted as it is")
		return *prev, true, 0
	case old != nil && len(old.Commands) > 0:
		var trusted []string
		for _, c := range old.Commands {
			trusted = append(trusted, trust.Quote(c.Shown))
		}
		fmt.Fprintf(out, "trust: a new server command for this profile (trusted: %s)\n", printable(strings.Join(trusted, "; ")))
	}
	return trust.NewCommand(argv, shown, exes, time.Now().UTC()), false, 0
}

func ptr[T any](v T) *T { return &v }

// embeddedSource reports whether s is an embedded preset's.
func embeddedSource(s profiles.Source) bool { return strings.HasPrefix(s.File, "preset:") }

func sortedFiles(f []trust.FileSum) []trust.FileSum {
	out := slices.Clone(f)
	slices.SortFunc(out, func(a, b trust.FileSum) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// pinned is what trust would record for the profile file path (its
// folder the project) with the server command argv, loaded as run loads
// it, and the record the store holds now (nil when none). cmdErr says why
// the command cannot be pinned (it is not installed, say); err, why the
// profile cannot be trusted.
//
// wrote, when set, is the text wrap wrote to path: the profile is taken
// only if those are the bytes Load parses, since a server that may write
// the folder can swap the file between wrap's write and this read.
func (c *cli) pinned(path string, argv []string, wrote []byte) (rec trust.Profile, cmd *trust.Command, old *trust.Profile, store *trust.Store, cmdErr, err error) {
	read := map[string][]byte{}
	p, err := profiles.Load(profiles.Options{Profile: path, Getenv: c.getenv, Verify: func(p *profiles.Profile, f string, data []byte) error {
		if wrote != nil && f == p.Origin.File && !bytes.Equal(data, wrote) {
			return fmt.Errorf("%w: %s is not the text wrap wrote and showed you; something changed it since", errSwapped, f)
		}
		read[f] = data
		return nil
	}})
	if err == nil {
		_, err = profiles.Compile(p)
	}
	if err != nil {
		return rec, nil, nil, nil, nil, err
	}
	var policy bytes.Buffer
	printProfile(&policy, p, nil)
	plan, err := c.planCell(p, false)
	if err != nil {
		return rec, nil, nil, nil, nil, err
	}
	store = trustStore(p)
	if old, err = store.Profile(p.Origin.File, p.Project); err != nil {
		return rec, nil, nil, nil, nil, err
	}
	now := time.Now().UTC()
	rec = trust.Profile{Path: p.Origin.File, Project: p.Project, Policy: policy.String(), Time: now}
	for _, s := range p.Includes {
		if !embeddedSource(s) {
			rec.Files = append(rec.Files, trust.FileSum{Path: s.File, Sum: trust.Sum(read[s.File])})
		}
	}
	_, chain, cmdErr := serverPath(argv, plan.env, plan.grants.Rules())
	if len(chain) == 0 {
		return rec, nil, old, store, cmdErr, nil
	}
	exes, cmdErr := hashChain(old, argv, chain)
	if cmdErr != nil {
		return rec, nil, old, store, cmdErr, nil
	}
	cmd = ptr(trust.NewCommand(argv, clientconf.MaskArgs(argv), exes, now))
	return rec, cmd, old, store, nil, nil
}

// errSwapped is a profile wrap wrote that is not what it wrote by the
// time it is trusted.
var errSwapped = errors.New("the profile changed after wrap wrote it")

// trustWritten trusts a profile wrap wrote, text, with the entry's
// command; it returns a note when it could not trust both.
func (c *cli) trustWritten(path string, text []byte, argv []string) string {
	rec, cmd, _, store, cmdErr, err := c.pinned(path, argv, text)
	flags := "--profile " + shellWords(path)
	if errors.Is(err, errSwapped) {
		return fmt.Sprintf("the profile %s is not trusted: %v (a server that can write its folder?); %s", path, err, reviewHint(flags, argv))
	}
	if err != nil {
		return fmt.Sprintf("the profile %s is not trusted: %v; fix it, then %s", path, err, trustCommand(flags, argv))
	}
	var cmds []trust.Command
	if cmd != nil {
		cmds = append(cmds, *cmd)
	}
	if err := store.TrustProfile(rec, cmds...); err != nil {
		return fmt.Sprintf("the profile %s is not trusted: %v", path, err)
	}
	if cmd == nil {
		return fmt.Sprintf("the server command of %s is not trusted, as it cannot be found now (%v): once it is installed, %s", path, cmdErr, trustCommand(flags, argv))
	}
	return ""
}

// keptTrusted says why a profile wrap keeps (it existed, and may have
// been planted) is not trusted with argv, or "" when it is.
func (c *cli) keptTrusted(path string, argv []string) string {
	rec, cmd, old, _, _, err := c.pinned(path, argv, nil)
	if err == nil && cmd != nil && old != nil && slices.Equal(sortedFiles(old.Files), sortedFiles(rec.Files)) && old.Trusts(argv, cmd.Exes) {
		return ""
	}
	return fmt.Sprintf("the profile %s exists and is not trusted: %s", path, reviewHint("--profile "+shellWords(path), argv))
}

// shellWords writes words for a shell, whole: a hint is to be copied.
func shellWords(words ...string) string { return trust.QuoteWords(words) }
