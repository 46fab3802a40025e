package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime/debug"
	"strings"

	"github.com/mcpcell/mcpcell/internal/trust"
	"github.com/mcpcell/mcpcell/keystore"
	"github.com/mcpcell/mcpcell/sandbox"
)

// Exit codes of mcpcell's own; otherwise it exits with the server's status.
const (
	exitUsage  = 2
	exitFailed = 125 // mcpcell could not start the server
)

type cli struct {
	helper         []string // argv that re-executes mcpcell as the cell helper
	stdin          io.Reader
	stdout, stderr io.Writer
	serverStderr   io.Writer // where the server's stderr goes, when not stderr
	environ        []string
	getenv         func(string) string
	store          keystore.Store
	unhardened     sandbox.Unhardened // parts of the cell off: tests' controls only
	noTrust        bool               // run honours untrusted profiles: tests' controls only
	// read holds the bytes of each profile file loadProfile read, as
	// parsed; record is the trust record run checked them against.
	read        map[string][]byte
	record      *trust.Profile
	projectFlag string // --project as given, for hints
	command     string // the command being run, whose help usage2 points to
	// written is called after wrap writes a profile, before it trusts
	// it: a test's seam to swap the file there, as a racing server can.
	written func(path string)
	// scanned is called when audit --follow, looking for the file that
	// continues the one it has printed, has read the first record of
	// name: a test's seam to rotate the log there, as a busy session can.
	scanned func(name string)
	// apparmor is where setup apparmor looks and writes (zero: the
	// machine's).
	apparmor appArmor
	// tempDirs are the temporary and build folders where wrap and setup
	// refuse mcpcell's own binary (nil: the machine's, see buildDirs);
	// anyBinary lets wrap write a build's binary; self is the path wrap
	// writes as mcpcell's ("": its own): test binaries' seams.
	tempDirs  []string
	anyBinary bool
	self      string
	// etc is the folder of resolv.conf and hosts, which a cell with
	// [network] hosts is planned from.
	etc string
	// egressResolve and egressDial are how the relay resolves and
	// reaches the granted hosts (nil: the system's): a test's seam to
	// point them at its own DNS and HTTPS servers on 127.0.0.1.
	egressResolve func(ctx context.Context, name string) ([]netip.Addr, error)
	egressDial    func(ctx context.Context, network, address string) (net.Conn, error)
	// probing, set by probe, is handed the profile, policy and interposer
	// of run's session once the server has started (attach), and the end
	// of the server's output (serving).
	probing *prober
	// stop, when closed, stops the server as a stop signal does (before
	// it starts: it is not started): probe's --timeout.
	stop <-chan struct{}
}

// seams are what only a test binary sets, through runUnhardened.
type seams struct {
	// off switches parts of the cell off, to show that each part is what
	// stops an attack; noTrust likewise switches off the trust check of
	// profiles and commands.
	off     sandbox.Unhardened
	noTrust bool
	written func(string) // see cli.written
	// resolve and dial replace the relay's resolver and dialler (see
	// cli.egressResolve).
	resolve func(ctx context.Context, name string) ([]netip.Addr, error)
	dial    func(ctx context.Context, network, address string) (net.Conn, error)
	// tempDirs, anyBinary and self: see cli.tempDirs.
	tempDirs  []string
	anyBinary bool
	self      string
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runUnhardened(args, stdin, stdout, stderr, seams{})
}

// runUnhardened is run with a test binary's seams.
func runUnhardened(args []string, stdin io.Reader, stdout, stderr io.Writer, s seams) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, environ: os.Environ(), getenv: os.Getenv, store: keystore.Keyring{}, unhardened: s.off, noTrust: s.noTrust, written: s.written, etc: "/etc", egressResolve: s.resolve, egressDial: s.dial, tempDirs: s.tempDirs, anyBinary: s.anyBinary, self: s.self}
	// The helper is this program again, reached the way this call was
	// (a test binary puts a word of its own before the command).
	if n := len(os.Args) - len(args); n >= 1 {
		c.helper = append(append([]string{os.Args[0]}, os.Args[1:n]...), sandbox.HelperCommand)
	}
	if len(args) == 0 {
		c.usage(stderr, "")
		return exitUsage
	}
	if args[0] == sandbox.HelperCommand {
		return sandbox.Helper()
	}
	if helps[args[0]] != "" {
		c.command = args[0]
		if helpAsked(args[0], args[1:]) {
			c.usage(stdout, args[0])
			return 0
		}
	}
	switch args[0] {
	case "run":
		return c.run(args[1:])
	case "probe":
		return c.probe(args[1:])
	case "check":
		return c.check(args[1:])
	case "trust":
		return c.trust(args[1:])
	case "audit":
		return c.audit(args[1:])
	case "secret":
		return c.secret(args[1:])
	case "wrap":
		return c.wrap(args[1:], false)
	case "unwrap":
		return c.wrap(args[1:], true)
	case "setup":
		return c.setup(args[1:])
	case "version", "--version":
		fmt.Fprintln(stdout, "mcpcell", version())
		return 0
	case "help", "-h", "-help", "--help":
		topic := ""
		if len(args) > 1 {
			topic = args[1]
		}
		if topic != "" && helps[topic] == "" {
			c.errorf("no help for %q: there is no such command", topic)
			c.hintf("mcpcell help lists the commands")
			return exitUsage
		}
		c.usage(stdout, topic)
		return 0
	}
	return c.usage2(fmt.Errorf("unknown command %q", args[0]))
}

// usage2 reports a usage error, pointing to the command's help; or, for
// the flag package's ErrHelp (-h, -help or --help among the flags),
// prints that help on stdout and succeeds. A caller that formats the
// flag error with %v leaves only its text, "COMMAND: flag: help
// requested", which is matched whole: a flag the user made up cannot
// end that way and also start with the command.
func (c *cli) usage2(err error) int {
	if c.command != "" && (errors.Is(err, flag.ErrHelp) || err.Error() == c.command+": "+flag.ErrHelp.Error()) {
		c.usage(c.stdout, c.command)
		return 0
	}
	c.errorf("%v", err)
	if c.command != "" {
		c.hintf("mcpcell help %s shows its usage", c.command)
	} else {
		c.hintf("mcpcell help lists the commands")
	}
	return exitUsage
}

// helpAsked reports whether a command's arguments start with -h, -help
// or --help, or do after a subcommand's word (secret set -h, setup
// apparmor -h): commands that parse no flags there would take it for a
// name. Flags further on are the flag package's (see usage2); after --,
// or after the first word of a server command (run node -h), they are
// the server's.
func helpAsked(command string, args []string) bool {
	isHelp := func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }
	if len(args) > 0 && isHelp(args[0]) {
		return true
	}
	withWord := command == "secret" || command == "setup"
	return withWord && len(args) > 1 && isHelp(args[1])
}

func (c *cli) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "mcpcell: error: "+format+"\n", messageArgs(args)...)
}

// sayf writes a line of mcpcell's own to stderr ("mcpcell: " and the
// format), its values shown as errorf's are.
func (c *cli) sayf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "mcpcell: "+format+"\n", messageArgs(args)...)
}

func (c *cli) hintf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "mcpcell: hint: "+format+"\n", messageArgs(args)...)
}

// messageArgs are a message's arguments shown through printable: they
// name paths of profiles and of the file system (a [server] cwd, a
// server's name), whose control characters must not redraw the terminal
// and whose newlines must not start a line of their own ("mcpcell: hint:
// …" forged by a value). The format's own newlines stay.
func messageArgs(args []any) []any {
	shown := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			a = printable(v)
		case error:
			a = printable(v.Error())
		case fmt.Stringer:
			a = printable(v.String())
		}
		shown[i] = a
	}
	return shown
}

// fail reports err (each joined error on its own line) with a hint; an
// error that knows what fixes it (a Hint method) gives its own.
func (c *cli) fail(err error, hint string) int {
	var hinted interface{ Hint() string }
	if errors.As(err, &hinted) && hinted.Hint() != "" {
		hint = hinted.Hint()
	}
	for _, e := range joinedLeaves(err) {
		c.errorf("%v", e)
	}
	if hint != "" {
		c.hintf("%s", hint)
	}
	return exitFailed
}

// joinedLeaves are the errors err joins (errors.Join, also under a
// wrapping error), joins within joins opened, in order; err itself when
// it joins none.
func joinedLeaves(err error) []error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) < 2 {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		out = append(out, joinedLeaves(e)...)
	}
	return out
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// profileFlags holds the --profile and --project flags shared by run,
// check, audit, trust and secret check; newFlags registers them.
type profileFlags struct {
	profile, project string
	anyProject       bool // set by commands that start no server
	trusted          bool // set by run: only files the trust store holds
}

func newFlags(name string, stderr io.Writer, pf *profileFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&pf.profile, "profile", "", "profile file, or the name of an embedded preset")
	fs.StringVar(&pf.project, "project", "", "project folder (default: the profile's folder)")
	return fs
}

const usageText = `mcpcell runs a local MCP server in a cell.

Usage:
  mcpcell run [--profile PATH|NAME] [--project DIR] [-- COMMAND ARGS...]
  mcpcell probe [--profile PATH|NAME] [--project DIR] [--json] [--timeout DUR] [-- COMMAND ARGS...]
  mcpcell check [--profile PATH|NAME] [--project DIR] [--verbose]
  mcpcell trust [--profile PATH|NAME] [--project DIR] [--yes] [--tools] [-- COMMAND ARGS...]
  mcpcell audit [--verify] [--follow] [--profile PATH|NAME | --server NAME [--client CLIENT [--config FILE]]] [FILE]
  mcpcell secret set|rm NAME
  mcpcell secret ls
  mcpcell secret check [--profile PATH|NAME] [--project DIR]
  mcpcell wrap --client CLIENT [--config FILE] [--server NAME]... [--dry-run] [--yes]
  mcpcell unwrap --client CLIENT [--config FILE] [--server NAME]... [--restore-secrets] [--dry-run] [--yes]
  mcpcell setup apparmor [--write]
  mcpcell version
  mcpcell help [COMMAND]

mcpcell COMMAND -h (or mcpcell help COMMAND) prints a command's help.
`

var helps = map[string]string{
	"run": `Usage: mcpcell run [--profile PATH|NAME] [--project DIR] [-- COMMAND ARGS...]

Starts COMMAND (or the profile's [server] command) as an MCP server over
stdio and sits between it and the client on stdin/stdout. Every frame is
decoded strictly and checked against the profile; refused requests are
answered by mcpcell. Every decision goes to the audit log.

Without --profile, mcpcell looks for .mcpcell.toml in --project (or the
working folder) and its parents, then uses the embedded default profile.
A profile file, and the command, must be trusted first: mcpcell trust.
mcpcell exits with the server's exit status, or 125 if it could not
start it.
`,
	"probe": `Usage: mcpcell probe [--profile PATH|NAME] [--project DIR] [--client NAME] [--json] [--timeout DUR] [-- COMMAND ARGS...]

Shows what an agent would see of a server: starts it exactly as run does
(the same profile, trust checks, secrets, cell, audit log), plays the
client (initialize as --client, by default "mcpcell-probe", then
tools/list, prompts/list, resources/list and resources/templates/list,
as far as the server declares them, each through nextCursor, at most 100
pages and 10000 entries a list), then makes one tools/call that mcpcell
refuses (a tool the profile hides, else a name the server did not list;
one the policy would let through is never sent) and disconnects, which
stops the server as a client's disconnect does. It prints the server's
instructions to the agent (escaped, cut to 2000 bytes) and each entry
with its verdict: shown, hidden (and the rule, file:line), withheld
(changed since you trusted the tool surface: mcpcell trust --tools) or
uncallable (listed to the agent, but every call to it is refused, and
the rule says why), each shown tool's [tools.args] constraints, and the
error the agent gets for the refused call. Text the server chose, and
paths and arguments, are printed with control, bidi and invisible
characters escaped, descriptions cut to one line.

What probe shows is what the server chose to show probe. A server can
tell it is being probed (by the client name, or by probe's order of
requests) and show an agent a different surface. Pinning bounds that for
tools, prompts and resource templates: a later session gets none that
this probe did not see until you approve it (mcpcell trust --tools);
resources are not pinned, and neither is what a tool's result says.

A profile with [client] names lets only those clients initialize: probe
as one of them with --client NAME (the one your agent uses, to see what
it gets).

A probe is a session: its listing pins the tool surface for the profile,
project and command as run's first listing would ([tools] pin = false
turns that off), and it is in the audit log.

--timeout (default 30s) bounds the whole probe: a server that does not
answer in time is stopped through run's own stop (SIGTERM, then SIGKILL
1s later), and probe ends within the timeout and that ladder. Exits 0
when the probe completed, 125 when it could not (the start refused, the
server exited or did not answer), 2 on a usage error. Whether an error
answer is the server's or mcpcell's, and whether the server exited, is
taken from the session, never from the error's text.

--json prints one JSON object:
  profile, project      the profile (a path, or the embedded one) and project
  server                name, version, protocolVersion, capabilities,
                        instructions (cut), client (the name probe used)
  lists[]               list (tools, prompts, resources, resourceTemplates),
                        listed, shown, notDeclared, error {code, message,
                        by (server or mcpcell, from the session)},
                        stopped (why paging stopped early), entries[]:
                        name (tool or prompt name, URI, URI template),
                        title, description (first line), verdict (shown,
                        hidden, withheld, uncallable), rule, args[] {key,
                        arg, constraint, rule}
  refusedCall           tool, why (hidden, unlisted), response (the
                        JSON-RPC response the agent gets); null when none
  noRefusedCall         why no call was made
  pinned, review        whether the surface is pinned; the command that
                        reviews a change
Characters a terminal would not show as themselves are \u-escaped.
`,
	"check": `Usage: mcpcell check [--profile PATH|NAME] [--project DIR] [--verbose]

Prints the effective profile, after includes and variable expansion, and
the cell it gives on this machine. [filesystem] lists each path the
server gets once, by access (read+write, read+exec, read), symlinks
resolved as the kernel gets them, with the file:line of every grant of
it; optional paths absent here are counted. --verbose shows each grant
as written, the optional ones, each rule of the cell with the symlinks
that lead to it, and the cell's syscall lists. Exits non-zero on any
error, or when mcpcell run would refuse to start.
`,
	"trust": `Usage: mcpcell trust [--profile PATH|NAME] [--project DIR] [--yes] [--tools] [-- COMMAND ARGS...]

Trusts a profile file for a project, and a server command for it. run
uses a profile file only while the SHA-256 of its content, and of every
file it includes, is in the trust store (${STATE}/trust), and starts only
a command line the profile's record holds, running the same files (the
command, each #! interpreter) with the same SHA-256. trust prints the
effective profile as check does, what changed since it was last trusted
(the policy as a diff, an executable's old and new SHA-256), then asks
on the terminal; --yes records without asking (for scripts). COMMAND is
the server command to pin (default: the profile's [server] command); a
profile may hold several. The embedded presets need no trust.

--tools approves the tools, prompts and resource templates the server
changed since you trusted them. mcpcell pins each definition (everything
but _meta) the first time a profile and command list it; a later one that
is new or different is hidden from the client and refused as unknown
until trust --tools approves it. It shows each change as a diff of the
definitions, then asks on a terminal; --yes approves without asking. Give
the profile, project and command the client starts mcpcell run with.
[tools] pin = false in the profile turns pinning off.
`,
	"audit": `Usage: mcpcell audit [--verify] [--follow] [--profile PATH|NAME | --server NAME [--client CLIENT [--config FILE]]] [FILE]

Prints the audit log FILE (default: the profile's log) with its rotated
files (FILE.1.jsonl, FILE.2.jsonl, ...), oldest first. --verify checks the
hash chain through them and reports the first edited, removed or reordered
record, a file missing between two others, or a missing newest file.
--follow keeps printing new records as they come, across rotations.

--server NAME finds the log of the server wrap wrapped as NAME, in every
configuration file of every client that a client started here reads (the
working folder's project file and the user's; --client: that client's;
--config: that file, in that client's format); a name in two of them is
an error that lists them. The log is the one the entry's profile names,
and only if that profile is trusted (mcpcell trust), as run requires: a
configuration anyone may write (a repository's .mcp.json) names any
profile, and an untrusted one's [audit] path is not followed.
`,
	"secret": `Usage: mcpcell secret set NAME | rm NAME | ls | check [--profile PATH|NAME] [--project DIR]

Keeps credentials in the OS keyring (service "mcpcell", account NAME).
set reads the value from the terminal without echo, or from stdin when it
is not a terminal; it refuses values shorter than 8 bytes, and numbers
(a server could send one back as a JSON number), which could not be
redacted. ls lists names, never values. check resolves every [secrets]
reference of the profile.
`,
	"wrap": `Usage: mcpcell wrap --client claude-desktop|claude-code|cursor|vscode [--config FILE] [--server NAME]... [--dry-run] [--yes]

Puts mcpcell in front of every stdio server of a client's configuration:
the entry's command becomes mcpcell, its args "run --profile PROFILE --"
and the original command. A profile is written for each server (it
includes the default profile, and npm or pypi for a server that npx, uvx
or uv tool run downloads; it grants read of the server's code, read of
each other file on its command line, that file alone, and write on each
folder on it, but none too wide or sensitive, the script included: /, the
home folder, a system folder, a folder on the PATH, ~/.ssh or any folder
or file in a hidden folder of the home folder, any file in /etc, /var/lib,
/run, /proc and the like but what the default profile grants there; the
plan says what it grants for each argument, and why not);
credentials in its env (by name: TOKEN, KEY, SECRET, PASSWORD, PAT…; or by
form: a password in a URL, a webhook URL, ghp_, sk-, xoxb-, AKIA…) move
into the keyring and into [secrets]; other entries move into [env] set;
braced references the client fills in (${VAR} in Claude Code; ${input:…},
${env:…} in VS Code and Cursor) stay and are passed through. Credentials
wrap cannot move (in args: mcpcell puts no secret on a command line) stay
in the config, and wrap warns about each, masked. A keyring item that
holds another value is never overwritten (ITEM-2 is used instead). The file
is backed up next to itself, mode 0600, with each moved credential replaced
by the marker "mcpcell-keyring:ITEM"; wrap says where the backup still
holds a credential the config holds. A marker is honoured only in the
entry of the file its item was made for. The file is then replaced
atomically, mode kept, everything else in it as it was. Wrapping twice
changes nothing. --dry-run prints the plan and the diff (credentials
masked). Backups that hold credentials in plain text are named, not
removed. The configuration names this mcpcell binary's path: wrap
refuses one in a temporary or Go build folder (go run, go test), which
is gone or replaced by the time the client starts it; install mcpcell
first (go install github.com/mcpcell/mcpcell/cmd/mcpcell@latest).
`,
	"unwrap": `Usage: mcpcell unwrap --client CLIENT [--config FILE] [--server NAME]... [--restore-secrets] [--dry-run] [--yes]

Restores wrapped entries to their original command, args and env. Secrets
stay in the keyring unless --restore-secrets moves them back into the
config: those the profile takes from the keyring, and the markers
"mcpcell-keyring:ITEM" of a backup copied over the config, each only if
wrap made its item for that entry of that file (a marker of another
entry's item is refused). If an item cannot be read, unwrap names it and
changes nothing. Profiles are left in place.
`,
	"setup": `Usage: mcpcell setup apparmor [--write]

Prints the AppArmor profile that lets mcpcell make a cell's own user and
network namespace (for a profile with [network] hosts) where Ubuntu's
kernel.apparmor_restrict_unprivileged_userns=1 forbids it. The profile
attaches to mcpcell's path, symbolic links resolved, and confines
nothing. --write writes it to /etc/apparmor.d/mcpcell (run it as root)
and loads it with apparmor_parser -r. setup refuses a binary in a
temporary or Go build folder (go run, go test): install mcpcell first.
The other fix is system-wide: sysctl
kernel.apparmor_restrict_unprivileged_userns=0.
`,
	"version": "Usage: mcpcell version\n\nPrints mcpcell's version.\n",
	"help":    "Usage: mcpcell help [COMMAND]\n\nPrints the list of commands, or COMMAND's help. -h, -help or --help\namong a command's flags prints its help too.\n",
}

func (c *cli) usage(w io.Writer, topic string) {
	if topic != "" {
		fmt.Fprint(w, helps[topic])
		return
	}
	fmt.Fprint(w, usageText)
	fmt.Fprintln(w, "\nCommands: "+strings.Join([]string{"run", "probe", "check", "trust", "audit", "secret", "wrap", "unwrap", "setup", "version", "help"}, ", "))
}
