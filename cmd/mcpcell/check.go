package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mcpcell/mcpcell/profiles"
	"github.com/mcpcell/mcpcell/sandbox"
)

func (c *cli) check(args []string) int {
	var pf profileFlags
	fs := newFlags("check", c.stderr, &pf)
	verbose := fs.Bool("verbose", false, "each grant as written, its symlinks, the optional paths, the cell's syscall lists")
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("check: %w", err))
	}
	if fs.NArg() > 0 {
		return c.usage2(fmt.Errorf("check: unexpected argument %q", fs.Arg(0)))
	}
	p, _, code := c.loadProfile(pf)
	if code != 0 {
		return code
	}
	plan, err := c.planCell(p, false)
	if err != nil {
		printProfile(c.stdout, p, nil) // the grants as written, which the error names
		return c.fail(err, planHint(err, "fix the profile"))
	}
	if *verbose {
		printProfile(c.stdout, p, nil)
	} else {
		printProfile(c.stdout, p, plan)
	}
	for _, b := range plan.broad {
		fmt.Fprintf(c.stderr, "mcpcell: warning: %s\n", printable(b))
	}
	for _, n := range plan.notes {
		fmt.Fprintf(c.stderr, "mcpcell: note: %s\n", printable(n))
	}
	namespace, nsErr := c.tryNamespace(plan)
	status := 0
	if refusal, hint := printCellTried(c.stdout, p, plan, namespace, *verbose); refusal != "" {
		c.errorf("mcpcell run would refuse to start: %s", printable(refusal))
		c.hintf("%s", printable(hint))
		status = 1
	}
	if nsErr != nil {
		c.errorf("mcpcell run would refuse to start: %v", nsErr)
		c.hintf("%s", namespaceHint(nsErr))
		status = 1
	}
	return status
}

// tryNamespace makes the cell's own network namespace, for a profile with
// [network] hosts on Linux, as run would, and says how it went for the
// [cell] section ("" when there was nothing to try). Only trying tells:
// under Ubuntu's AppArmor restriction the namespace is made and only
// bringing lo up fails.
func (c *cli) tryNamespace(plan *cellPlan) (string, error) {
	e := plan.net.Egress
	if e == nil || plan.kernel.OS != "linux" || c.helper == nil {
		return "", nil
	}
	err := sandbox.TryNamespace(c.helper, *e, c.stderr)
	var ns *sandbox.NamespaceError
	switch {
	case err == nil:
		return fmt.Sprintf("works here (user and network namespace made, lo up, %d sockets bound)", len(e.Listen)), nil
	case errors.As(err, &ns):
		cause := ns.Step + ": " + ns.Err.Error()
		if ns.Cause != "" {
			cause += ": " + ns.Cause
		}
		return "refused: " + cause, err
	}
	return "refused: " + err.Error(), err
}

// namespaceHint is what to do about a namespace that cannot be made, as
// run says it.
func namespaceHint(err error) string {
	var ns *sandbox.NamespaceError
	if errors.As(err, &ns) && ns.Fix() != "" {
		return ns.Fix()
	}
	return "a profile with [network] hosts needs user and network namespaces; mcpcell never falls back to the host's network"
}

// printCell shows the cell the profile gives on this machine, its paths
// in printProfile's [filesystem], and returns why run would refuse it
// ("" when it would not).
func printCell(out io.Writer, p *profiles.Profile, plan *cellPlan) (refusal string) {
	refusal, _ = printCellTried(out, p, plan, "", false)
	return refusal
}

// printCellTried is printCell with what check's try of the cell's own
// network namespace found (see tryNamespace; "" for no line); verbose
// adds each path rule with its symlinks, the optional paths absent here
// and the folders run makes, and the cell's syscall lists. With a
// refusal it returns what to do about it.
func printCellTried(out io.Writer, p *profiles.Profile, plan *cellPlan, namespace string, verbose bool) (refusal, hint string) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	line := tableLine(w)
	line("")
	line("[cell]")
	line("  kernel\t%s", plan.kernel.Describe())
	switch profiles.CellVerdict(plan.kernel, plan.gaps, p.Required, p.BestEffort) {
	case profiles.CellRefusedUnconfined:
		refusal = "no confinement on " + plan.kernel.OS + " and [sandbox] required is true"
		hint = "run it on Linux, or let the server run unconfined with [sandbox] required = false"
		line("  enforcement\trefused: %s", refusal)
	case profiles.CellUnconfined:
		line("  enforcement\tnone: the server runs unconfined ([sandbox] required = false)")
	case profiles.CellRefused:
		refusal = sandbox.Summary(plan.gaps)
		hint = "upgrade the kernel, or accept a weaker cell with [sandbox] best_effort = true"
		line("  enforcement\trefused: this kernel cannot enforce: %s", refusal)
	case profiles.CellWeaker:
		line("  enforcement\tweaker ([sandbox] best_effort): not enforced: %s", sandbox.Summary(plan.gaps))
	default:
		line("  enforcement\tfull")
	}
	if verbose {
		printPathRules(line, plan)
	}
	tcp := "none"
	var ports []string
	for _, n := range plan.net.ConnectTCP {
		ports = append(ports, fmt.Sprintf("connect %d", n))
	}
	for _, n := range plan.net.BindTCP {
		ports = append(ports, fmt.Sprintf("listen %d", n))
	}
	if len(ports) > 0 {
		tcp = strings.Join(ports, ", ")
	}
	if plan.egress != nil {
		printEgress(line, plan.egress, plan.net.BindTCP)
		if namespace != "" {
			line("  namespace\t%s", namespace)
		}
	} else {
		line("  tcp\t%s", tcp)
		line("  udp\t%s", onOff(plan.net.UDP))
	}
	line("  unix sockets\t%s", onOff(plan.net.Unix))
	line("  always denied\traw, packet, netlink, vsock and other socket families, Multipath TCP")
	scopes := "signals to processes outside the cell"
	if !plan.net.Unix {
		scopes += ", abstract UNIX sockets outside the cell"
	}
	line("  scoped out\t%s", scopes)
	if verbose {
		line("  syscalls denied\t%s", strings.Join(sandbox.Denied, " "))
		line("  own process only\t%s (on pid 0 or the server's own)", strings.Join(sandbox.OwnProcessOnly, " "))
		for _, f := range sandbox.Filtered {
			line("  also refused\t%s", f)
		}
		line("  capabilities\tall dropped, root's too (bounding, ambient, permitted, effective, inheritable), securebits locked")
		line("  session\tits own: no controlling terminal, no process group of mcpcell's session")
	} else {
		line("  syscalls\t%d denied, %d on the server's own processes only, %d refused by argument; all capabilities dropped; a session of its own; --verbose lists them", len(sandbox.Denied), len(sandbox.OwnProcessOnly), len(sandbox.Filtered))
	}
	from := "the default"
	if p.MaxProcessesFrom.File != "" {
		from = p.MaxProcessesFrom.String()
	}
	line("  processes\tat most %d, threads counted (%s); a cell over it is killed; orphans reaped as they die", p.MaxProcesses, from)
	var names []string
	for _, kv := range plan.env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	line("  environment\t%s (names only; nothing else of mcpcell's environment)", strings.Join(names, " "))
	for _, wd := range plan.widening {
		line("  widening\t%s", wd)
	}
	for _, b := range plan.broad {
		line("  warning\t%s", b)
	}
	for _, n := range plan.notes {
		line("  note\t%s", n)
	}
	if len(p.Command) > 0 {
		chain, err := serverChain(p.Command, plan)
		var start *startError
		if err != nil && refusal == "" && errors.As(err, &start) {
			refusal, hint = err.Error(), start.hint
		}
		line("  server\t%s", chain)
	}
	return refusal, hint
}

// printPathRules shows each path rule the kernel gets, with the paths as
// written that resolve to it, then the optional paths absent here and the
// folders run makes (check --verbose).
func printPathRules(line func(string, ...any), plan *cellPlan) {
	written := map[string][]string{}
	for _, list := range [][]sandbox.Grant{plan.grants.Read, plan.grants.Write, plan.grants.Exec} {
		for _, g := range list {
			switch {
			case g.Resolved == "" && slices.Contains(plan.created, g.Path):
				line("  to create\t%s (made by mcpcell run)\t%s", g.Path, g.From)
			case g.Resolved == "":
				line("  skipped\t%s (optional, missing)\t%s", g.Path, g.From)
			case !slices.Contains(written[g.Resolved], g.Path):
				written[g.Resolved] = append(written[g.Resolved], g.Path)
			}
		}
	}
	for _, r := range plan.grants.Rules() {
		path := r.Path
		if ws := written[r.Path]; len(ws) > 1 || len(ws) == 1 && ws[0] != r.Path {
			path = strings.Join(ws, ", ") + " -> " + r.Path
		}
		if r.Path == plan.tmp {
			path += " (the cell's TMPDIR)"
		}
		line("  %s\t%s", r.Access, path)
	}
}

// printGrants shows the paths the server gets on this machine, one list
// per access, most first (read+write+exec, read+write, read+exec, read):
// each path once, symlinks resolved as the kernel gets it, with every
// line that grants it. A folder run makes is listed with the access it
// will have. An optional path absent here is listed as such when a
// profile file grants it: the grant takes effect the day the path
// appears, and trust's prompt, which is this view, must show it. Only
// those of mcpcell's own (the embedded presets', the same for everyone)
// are counted in one line.
func printGrants(line func(string, ...any), plan *cellPlan) {
	type key struct {
		path   string
		absent bool
	}
	type rule struct {
		key
		access  sandbox.Access
		from    []string
		as      []string // the paths as written, when symlinks made them another
		created bool
		ours    bool // every line that grants it is mcpcell's own
	}
	byPath := map[key]*rule{}
	for _, x := range []struct {
		list []sandbox.Grant
		acc  sandbox.Access
	}{{plan.grants.Read, sandbox.Read}, {plan.grants.Write, sandbox.Write | sandbox.Read}, {plan.grants.Exec, sandbox.Exec | sandbox.Read}} {
		for _, g := range x.list {
			k, created := key{path: g.Resolved}, false
			if k.path == "" {
				k.path = g.Path
				created = slices.Contains(plan.created, g.Path)
				k.absent = !created
			}
			r := byPath[k]
			if r == nil {
				r = &rule{key: k, created: created, ours: true}
				byPath[k] = r
			}
			r.access |= x.acc
			r.ours = r.ours && mcpcellsOwn(g.From)
			if !slices.Contains(r.from, g.From) {
				r.from = append(r.from, g.From)
			}
			if !slices.Contains(r.as, g.Path) {
				r.as = append(r.as, g.Path)
			}
		}
	}
	var rules []*rule
	ours := 0
	for _, r := range byPath {
		if r.absent && r.ours {
			ours++
			continue
		}
		rules = append(rules, r)
	}
	rank := func(a sandbox.Access) int { return -int(a&sandbox.Write)*2 - int(a&sandbox.Exec)/4 }
	slices.SortFunc(rules, func(a, b *rule) int {
		if d := rank(a.access) - rank(b.access); d != 0 {
			return d
		}
		return strings.Compare(a.path, b.path)
	})
	for _, r := range rules {
		path := r.path
		if !slices.Contains(r.as, r.path) {
			// A line of the profile names it only through a link.
			path += " (as " + strings.Join(r.as, ", ") + ")"
		}
		if r.created {
			path += " (made by mcpcell run)"
		}
		if r.absent {
			path += " (optional, absent here: granted once it exists)"
		}
		slices.SortFunc(r.from, compareSources)
		line("  %s\t%s\t%s", r.access, path, strings.Join(r.from, ", "))
	}
	if ours > 0 {
		line("  optional\t%d optional paths of mcpcell's presets are absent here; --verbose lists them", ours)
	}
}

// mcpcellsOwn reports whether a grant's origin is mcpcell's: an embedded
// preset's line, or the resolver's files it adds for [network] hosts.
func mcpcellsOwn(from string) bool {
	return strings.HasPrefix(from, "preset:") || from == profiles.ResolverFiles
}

// tableLine prints a line of check's tables to w, a tabwriter: format's
// tabs are its columns, and each argument is shown through printable.
// Paths, names and values come from profiles and the file system (a
// project folder's name, a symlink's target): a control character in one
// could erase the lines above it on a terminal and print others (review
// F2), and a tab would shift the columns.
func tableLine(w io.Writer) func(format string, args ...any) {
	return func(format string, args ...any) {
		shown := make([]any, len(args))
		for i, a := range args {
			shown[i] = printableArg(a)
		}
		fmt.Fprintf(w, format+"\n", shown...)
	}
}

// printableArg is a, when it prints as text, as printable shows it.
func printableArg(a any) any {
	switch v := a.(type) {
	case string:
		return printable(v)
	case error:
		return printable(v.Error())
	case fmt.Stringer:
		return printable(v.String())
	}
	return a
}

// compareSources orders "file:line" origins by file, then line number.
func compareSources(a, b string) int {
	fa, la, _ := cutLine(a)
	fb, lb, _ := cutLine(b)
	if d := strings.Compare(fa, fb); d != 0 {
		return d
	}
	return la - lb
}

func cutLine(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return s, 0, false
	}
	return s[:i], n, true
}

// serverChain describes what the kernel runs for the profile's server
// command, or why the cell refuses it.
func serverChain(command []string, plan *cellPlan) (string, error) {
	_, chain, err := serverPath(command, plan.env, plan.grants.Rules())
	var parts []string
	for _, l := range chain {
		s := l.Path
		if l.Real != l.Path {
			s += " -> " + l.Real
		}
		if l.Via != "" {
			s = l.Name + " (" + l.Via + "): " + s
		}
		parts = append(parts, s)
	}
	if err != nil {
		return fmt.Sprintf("refused: %v", err), err
	}
	return strings.Join(parts, "; "), nil
}

// printProfile shows the effective profile. With plan, its [filesystem]
// is the paths the server gets here (printGrants); without, each grant
// as written, which is also what trust records and diffs.
func printProfile(out io.Writer, p *profiles.Profile, plan *cellPlan) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	defer w.Flush()
	line := tableLine(w)
	var files []string
	for _, s := range p.Includes {
		files = append(files, s.File)
	}
	line("profile:\t%s (audit name %s)", p.Origin, p.Name)
	line("read from:\t%s", strings.Join(files, ", "))
	line("project:\t%s", p.Project)
	if len(p.Command) > 0 {
		line("server:\t%s", strings.Join(p.Command, " "))
	} else {
		line("server:\t(from the command line)")
	}
	line("working folder:\t%s", p.Cwd)
	line("")
	if plan != nil {
		line("[filesystem] (each path once, symlinks resolved; mcpcell check --verbose shows the grants as written)")
		printGrants(line, plan)
	} else {
		line("[filesystem]")
		for _, g := range []struct {
			name    string
			entries []profiles.Entry
		}{{"read", p.Read}, {"write", p.Write}, {"read+exec", p.Exec}, {"optional", p.Optional}} {
			for _, e := range g.entries {
				line("  %s\t%s\t%s", g.name, e.Value, e.From)
			}
		}
	}
	line("")
	line("[network]")
	if len(p.Ports)+len(p.Bind)+len(p.Hosts) == 0 && !p.UDP && !p.Unix {
		line("  none")
	}
	for _, g := range []struct {
		name    string
		entries []profiles.Entry
	}{{"connect tcp port", p.Ports}, {"listen tcp port", p.Bind}, {"host", p.Hosts}} {
		for _, e := range g.entries {
			line("  %s\t%s\t%s", g.name, e.Value, e.From)
		}
	}
	if p.UDP {
		line("  udp\tallowed")
	}
	if p.Unix {
		line("  unix sockets\tallowed")
	}
	line("")
	line("[env]")
	for _, e := range p.EnvPass {
		line("  pass\t%s\t%s", e.Value, e.From)
	}
	for _, k := range slices.Sorted(maps.Keys(p.EnvSet)) {
		line("  set\t%s=%s\t%s", k, p.EnvSet[k].Value, p.EnvSet[k].From)
	}
	line("")
	line("[secrets]")
	for _, k := range slices.Sorted(maps.Keys(p.Secrets)) {
		r := p.Secrets[k]
		line("  %s\tkeyring service %s, item %s\t%s", k, strconv.Quote(r.Service), strconv.Quote(r.User), r.From)
	}
	line("")
	printRules(line, "tools", p.Tools)
	if p.Unpinned.File == "" {
		line("  pin\ton: definitions of tools, prompts and templates are pinned; mcpcell trust --tools approves a change")
	} else {
		line("  pin\toff ([tools] pin = false at %s)", p.Unpinned)
	}
	printToolArgs(line, p)
	printRules(line, "resources", p.Resources)
	printRules(line, "prompts", p.Prompts)
	line("")
	line("[client]")
	line("  sampling\t%s", onOff(p.Sampling))
	line("  elicitation\t%s", onOff(p.Elicitation))
	line("  roots\t%s", onOff(p.Roots))
	if len(p.ClientNames) > 0 {
		line("  names\t%s", strings.Join(p.ClientNames, ", "))
	} else {
		line("  names\tany client")
	}
	line("")
	line("max frame:\t%d bytes", p.MaxFrame)
	line("audit log:\t%s (a new file at %d bytes, %d rotated files kept)", p.AuditPath, p.AuditMaxSize, p.AuditKeep)
}

// printToolArgs shows each [tools.args] constraint where it was written,
// then, per tool pattern the client may call, the constraints that apply.
func printToolArgs(line func(string, ...any), p *profiles.Profile) {
	if len(p.ToolArgs) == 0 {
		return
	}
	line("[tools.args]")
	for _, key := range slices.Sorted(maps.Keys(p.ToolArgs)) {
		set := p.ToolArgs[key]
		for _, arg := range slices.Sorted(maps.Keys(set.Args)) {
			r := set.Args[arg]
			line("  %s\t%s\t%s\t%s", strconv.Quote(key), arg, describeArg(r), r.From)
		}
	}
	line("[tools.args] per tool")
	for _, t := range p.ArgsPerTool() {
		if len(t.Args) == 0 {
			line("  %s\t(none)", t.Tool)
			continue
		}
		byArg := map[string][]string{}
		for _, a := range t.Args {
			d := describeArg(a.Rule)
			if a.Partly {
				d += fmt.Sprintf(" (only where the name matches %q)", a.Key)
			}
			byArg[a.Arg] = append(byArg[a.Arg], d)
		}
		name := t.Tool
		for _, arg := range slices.Sorted(maps.Keys(byArg)) {
			line("  %s\t%s\t%s", name, arg, strings.Join(byArg[arg], "; "))
			name = ""
		}
	}
}

func describeArg(r profiles.ArgRule) string {
	var parts []string
	if r.Within != nil {
		parts = append(parts, "within "+strings.Join(r.Within, ", "))
	}
	if r.Match != "" {
		parts = append(parts, fmt.Sprintf("match %q", r.Match))
	}
	if r.Enum != nil {
		parts = append(parts, fmt.Sprintf("enum %v", r.Enum))
	}
	if r.MaxLen > 0 {
		parts = append(parts, fmt.Sprintf("max_len %d", r.MaxLen))
	}
	return strings.Join(parts, ", ")
}

func printRules(line func(string, ...any), kind string, r profiles.Rules) {
	line("[%s]", kind)
	if !r.AllowSet {
		line("  allow\t* (no allow list)")
	}
	for _, e := range r.Allow {
		line("  allow\t%s\t%s", e.Value, e.From)
	}
	for _, e := range r.Deny {
		line("  deny\t%s\t%s", e.Value, e.From)
	}
}

func onOff(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}
