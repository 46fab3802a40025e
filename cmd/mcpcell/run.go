package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/egress"
	"github.com/mcpcell/mcpcell/internal/trust"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/keystore"
	"github.com/mcpcell/mcpcell/profiles"
	"github.com/mcpcell/mcpcell/sandbox"
)

func (c *cli) loadProfile(pf profileFlags) (*profiles.Profile, *profiles.Policy, int) {
	check := pf.trusted && !c.noTrust
	c.read, c.record, c.projectFlag = map[string][]byte{}, nil, pf.project
	loaded := false
	// The bytes kept (and, for run, checked) are those Load parses: a
	// file edited while it is read is never trusted by its old content.
	verify := func(p *profiles.Profile, path string, data []byte) error {
		c.read[path] = data
		if !check {
			return nil
		}
		if !loaded {
			rec, err := trustStore(p).Profile(p.Origin.File, p.Project)
			if err != nil {
				return err
			}
			c.record, loaded = rec, true
		}
		return c.record.CheckFile(p.Origin.File, path, data)
	}
	p, err := profiles.Load(profiles.Options{Profile: pf.profile, Project: pf.project, Getenv: c.getenv, AnyProject: pf.anyProject, Verify: verify})
	if err == nil && check && !embedded(p) {
		var files []string
		for _, s := range p.Includes {
			if !embeddedSource(s) {
				files = append(files, s.File)
			}
		}
		err = c.record.CheckFiles(p.Origin.File, files)
	}
	var change *trust.ProfileChange
	if errors.As(err, &change) {
		return nil, nil, c.untrusted(change.Error(), change.Profile, pf.project, nil)
	}
	var unsafe *profiles.UnsafeProjectError
	if errors.As(err, &unsafe) {
		c.errorf("%v", err)
		c.hintf("name a project of the server's own: mcpcell run --project DIR …")
		c.hintf("or write a profile: a %s in the project (include = [\"default\"] builds on the default), then mcpcell run --profile /abs/path/%s …; a profile file may grant even this folder, and every start then warns", profiles.FileName, profiles.FileName)
		c.hintf("or let mcpcell write one per server into your client's config: mcpcell wrap --client claude-desktop|claude-code|cursor|vscode")
		return nil, nil, exitFailed
	}
	if err != nil {
		return nil, nil, c.fail(fmt.Errorf("profile: %w", err), "fix the profile; mcpcell check shows the effective profile")
	}
	pol, err := profiles.Compile(p)
	if err != nil {
		return nil, nil, c.fail(fmt.Errorf("profile: %w", err), "fix the profile; mcpcell check shows the effective profile")
	}
	return p, pol, 0
}

func (c *cli) run(args []string) int {
	pf := profileFlags{trusted: true}
	fs := newFlags("run", c.stderr, &pf)
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("run: %v", err))
	}
	// From here on a signal to mcpcell never takes Go's default exit,
	// which would leave a started cell without its reaper and stop ladder
	// and the audit log without its end: serve runs the ladder for it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)
	// The helper's runtime starts while the profile is read (a Go program
	// takes some 8 ms to start here); it waits for its spec.
	var prepared *sandbox.Prepared
	if runtime.GOOS == "linux" && c.helper != nil {
		prepared, _ = sandbox.Prepare(c.helper, c.unhardened) // on failure Start tries again
		defer prepared.Discard()
	}
	// What loadProfile says goes to the user and, for a profile file
	// whose content is not trusted, into the deny start record.
	said := &bytes.Buffer{}
	stderr := c.stderr
	c.stderr = io.MultiWriter(stderr, said)
	p, pol, code := c.loadProfile(pf)
	c.stderr = stderr
	if code != 0 {
		c.refusedUnloaded(pf, said.String())
		return code
	}
	st := &starting{p: p, pol: pol, environ: c.environ}
	defer st.finish()
	// A write grant over mcpcell's own folders is refused before anything
	// is acted on: with the trust store in it, the record that let the
	// profile pass may be the server's.
	if err := ownWrites(p, ownGrants(p, c.environ)); err != nil {
		return st.fail(c, "filesystem", err, "fix the profile; mcpcell check shows the effective profile")
	}
	// One line on every start says which profile and project serve: a
	// client's log then shows what the server could reach.
	c.sayf("profile %s, project %s (%s)", profileName(p), p.Project, p.ProjectFrom)
	command := fs.Args()
	if len(command) == 0 {
		command = p.Command
	}
	// A frame is held once, while it passes; a soft limit of one and a half frames
	// and some room keeps the collector from letting garbage of earlier
	// large frames pile up.
	debug.SetMemoryLimit(int64(p.MaxFrame+p.MaxFrame/2) + 8<<20)
	if len(command) == 0 {
		st.refuse("command", errors.New("no server command"))
		c.errorf("no server command")
		c.hintf("give one after --, as in: mcpcell run -- npx -y @modelcontextprotocol/server-everything, or set [server] command in the profile")
		return exitUsage
	}
	// The command is part of what the user trusted: it is checked before
	// anything is acted on (the keyring, the audit log, the cell's
	// folders), from a plan that creates nothing.
	if !embedded(p) && !c.noTrust {
		if code := c.checkCommandFirst(st, command); code != 0 {
			return code
		}
	}
	surface, err := c.openSurface(p, command, len(fs.Args()) > 0)
	if err != nil {
		return st.fail(c, "trust", err, "the trust store is in "+trustStore(p).Dir+"; mcpcell does not start a server whose tool surface it cannot check")
	}
	if surface != nil {
		pol.SetPins(surface)
	}
	defer startProfile(c.getenv("MCPCELL_CPUPROFILE"))()
	// The keyring is slow (tens of ms an item): ask it while the rest
	// starts.
	resolved := make(chan resolution, 1)
	go func() { resolved <- c.resolveSecrets(p) }()
	session := audit.NewSession()
	var red *keystore.Redactor
	log, err := openLog(p, pol, session, func(s string) string { return red.String(s) })
	if err != nil {
		err = fmt.Errorf("cannot open the audit log, so the server is not started: %w", err)
		return st.fail(c, "audit", err, "set [audit] path in the profile to a writable file")
	}
	st.log = log
	res := <-resolved
	if res.err != nil {
		st.refuse("secrets", res.err)
		return c.fail(res.err, res.hint)
	}
	red = keystore.NewRedactor(res.secrets)
	if red != nil {
		// Everything mcpcell says from here on passes the redactor. The
		// server's stderr is a stream of its own, through it: the start
		// of a value held back there cannot be flushed by a note that
		// comes before the rest.
		rw := red.Writer(c.stderr)
		defer rw.Close()
		c.stderr = rw
		srvErr := red.Writer(rw)
		defer srvErr.Close()
		c.serverStderr = srvErr
	}

	// A signal before the server starts keeps it from starting; one after
	// that waits in sigs for serve.
	select {
	case sig := <-sigs:
		err := fmt.Errorf("got %v before the server started; it was not started", sig)
		st.refuse("signal", err)
		c.errorf("%v", err)
		return 128 + int(sig.(syscall.Signal))
	case <-c.stop:
		err := errors.New("stopped before the server started (probe's --timeout); it was not started")
		st.refuse("stopped", err)
		c.errorf("%v", err)
		return exitFailed
	default:
	}
	srv, relay, code := c.startCell(st, command, res.secrets, prepared)
	if srv == nil {
		return code
	}
	if relay != nil {
		// Before the log closes: the relay's last records go in it.
		defer relay.Close()
	}
	defer sandbox.KillDescendants(srv.Pid())
	// When the server exits, what it left behind goes too: a descendant
	// holding its stdout would otherwise keep the session open.
	go func() {
		<-srv.Done()
		sandbox.KillDescendants(srv.Pid())
	}()
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "start", Rule: "session", Note: fmt.Sprintf("server %s (pid %d), cell set up in %v with Landlock ABI %d", command[0], srv.Pid(), srv.Setup, srv.ABI)})
	if c.unhardened&sandbox.NoReaper == 0 {
		go c.reap(p, srv, log)
	}
	// The first record is written before any frame moves: no log, no session.
	if err := log.Flush(); err != nil {
		srv.Stop(sandbox.Ladder{})
		err = fmt.Errorf("cannot write the audit log %s, so the server is not run: %w", p.AuditPath, err)
		return st.fail(c, "audit", err, "free space or fix [audit] path in the profile")
	}
	st.started = true

	ip := &jsonrpc.Interposer{
		Policy:   pol,
		Recorder: log,
		MaxFrame: p.MaxFrame,
		Notes:    c.stderr,
	}
	if red != nil {
		ip.Redact, ip.RedactText = red.Frame, red.Text
	}
	if c.probing != nil {
		ip.Observe = c.probing.attach(p, pol, ip)
	}
	// A change withheld from a listing may be approved by the user where
	// the client can ask them.
	s := ip.NewSession()
	cons := &consent{session: s, pol: pol, server: serverLabel(p, command)}
	if surface != nil {
		cons.review = surface.Review()
	}
	pol.SetWithheld(cons.Changed)
	return c.serve(ip, s, srv, log, sigs, st.explain)
}

// checkCommandFirst refuses a server command line, or a file the kernel
// runs for it, that the profile's record does not trust. It decides from
// a plan of the cell that creates nothing; a refusal is then recorded in
// the (trusted) profile's audit log. What else keeps the command from
// starting (a missing exec grant) startCell reports in its order.
func (c *cli) checkCommandFirst(st *starting, command []string) int {
	p := st.p
	plan, err := c.planCell(p, false)
	if err != nil {
		return st.fail(c, "profile", err, planHint(err, "fix the profile; mcpcell check shows the effective profile"))
	}
	_, chain, _ := serverPath(command, plan.env, plan.grants.Rules())
	if len(chain) == 0 && c.record != nil && c.record.Command(command) != nil {
		return 0 // a trusted argv whose program is gone: startCell says so
	}
	if err := c.checkCommand(command, chain); err != nil {
		st.refuse("trust", err)
		return c.untrusted(err.Error(), p.Origin.File, c.projectFlag, command)
	}
	return 0
}

// openLog opens the profile's audit log for a session.
func openLog(p *profiles.Profile, pol *profiles.Policy, session string, redact func(string) string) (*audit.Log, error) {
	return audit.Open(p.AuditPath, audit.Meta{Session: session, Profile: p.Name, Client: pol.ClientName, Redact: redact, MaxSize: p.AuditMaxSize, Keep: p.AuditKeep})
}

// reap reaps the orphans the server leaves as they die and holds the
// cell to [sandbox] max_processes: a cell that holds more is killed whole,
// and the session ends.
func (c *cli) reap(p *profiles.Profile, srv *sandbox.Server, log *audit.Log) {
	n := sandbox.Reaper{Server: srv.Pid(), Max: p.MaxProcesses}.Run(srv.Done())
	if n == 0 {
		return
	}
	from := "the default"
	if p.MaxProcessesFrom.File != "" {
		from = p.MaxProcessesFrom.String()
	}
	msg := fmt.Sprintf("the server's cell held %d processes (threads counted), more than [sandbox] max_processes = %d (%s), so mcpcell killed it", n, p.MaxProcesses, from)
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Rule: "sandbox.max_processes", Note: msg})
	c.errorf("%s", msg)
	c.hintf("raise [sandbox] max_processes in the profile if the server needs more")
	// Recorded first: the server's death ends the session.
	sandbox.KillDescendants(srv.Pid())
}

// profileName names where the profile came from, for people.
func profileName(p *profiles.Profile) string {
	if name, ok := strings.CutPrefix(p.Origin.File, "preset:"); ok {
		if name == profiles.DefaultName {
			return "(the embedded default)"
		}
		return "(the embedded preset " + name + ")"
	}
	return p.Origin.File
}

// startCell plans the cell, refuses a weaker one unless the profile
// accepts it, and starts the server in it.
func (c *cli) startCell(st *starting, command []string, secrets map[string]keystore.Secret, prepared *sandbox.Prepared) (*sandbox.Server, *egress.Relay, int) {
	p, log := st.p, st.log
	plan, err := c.planCell(p, true)
	if err != nil {
		return nil, nil, st.fail(c, "profile", err, planHint(err, "fix the profile; mcpcell check shows the effective profile"))
	}
	for _, w := range plan.broad {
		c.sayf("warning: %s", w)
		log.Record(jsonrpc.Event{Time: time.Now(), Decision: "warn", Rule: "filesystem", Note: w})
	}
	// Secrets go into the server's environment only, last, over anything
	// of the same name.
	plan.env = withSecrets(plan.env, secrets)
	rules := plan.grants.Rules()
	if err := checkWorkDir(rules, p.Cwd); err != nil {
		return nil, nil, st.fail(c, "filesystem", err, "grant it in [filesystem] read or write, or set [server] cwd")
	}
	path, chain, err := serverPath(command, plan.env, rules)
	if err != nil {
		return nil, nil, st.fail(c, "command", err, err.(*startError).hint)
	}
	// What an exit before the server answered is explained by, found
	// before the server runs: it cannot choose it.
	st.missing = findUnreadable(command, chain, p.Cwd, rules, p.Folders())
	if !embedded(p) && !c.noTrust {
		if err := c.checkCommand(command, chain); err != nil {
			st.refuse("trust", err)
			return nil, nil, c.untrusted(err.Error(), p.Origin.File, c.projectFlag, command)
		}
	}
	confine := plan.kernel.OS == "linux"
	switch profiles.CellVerdict(plan.kernel, plan.gaps, p.Required, p.BestEffort) {
	case profiles.CellRefusedUnconfined:
		err := fmt.Errorf("mcpcell cannot confine a server on %s", plan.kernel.OS)
		return nil, nil, st.fail(c, "sandbox", err, "set [sandbox] required = false in the profile to run the server unconfined (the policy, audit log and keyring still work)")
	case profiles.CellRefused:
		errs := []error{fmt.Errorf("this kernel cannot enforce the cell as written: %s", plan.kernel.Describe())}
		for _, g := range plan.gaps {
			errs = append(errs, fmt.Errorf("not enforceable: %s", g))
		}
		err := errors.Join(errs...)
		return nil, nil, st.fail(c, "sandbox", err, fmt.Sprintf("upgrade the kernel (Landlock ABI %d or newer, seccomp), or accept a weaker cell with [sandbox] best_effort = true", sandbox.NeedABI))
	case profiles.CellUnconfined:
		fmt.Fprintf(c.stderr, "mcpcell: warning: [sandbox] required = false: the server runs unconfined on %s\n", plan.kernel.OS)
		log.Record(jsonrpc.Event{Time: time.Now(), Decision: "weaker", Rule: "sandbox.best_effort", Note: "not enforced: " + sandbox.Summary(plan.gaps)})
	case profiles.CellWeaker:
		fmt.Fprintf(c.stderr, "mcpcell: warning: [sandbox] best_effort: this cell does not enforce: %s\n", sandbox.Summary(plan.gaps))
		log.Record(jsonrpc.Event{Time: time.Now(), Decision: "weaker", Rule: "sandbox.best_effort", Note: "not enforced: " + sandbox.Summary(plan.gaps)})
	}
	for _, w := range plan.widening {
		c.sayf("note: the profile grants %s", w)
	}

	cell := sandbox.Cell{Spec: sandbox.Spec{
		Command: command, Path: path, Dir: p.Cwd, Env: plan.env,
		Rules: rules, Net: plan.net, BestEffort: p.BestEffort,
		PretendABI: plan.pretend, PretendNoSeccomp: plan.noSecc,
		Unhardened: c.unhardened,
	}}
	if confine {
		cell.Helper, cell.Prepared = c.helper, prepared
		if err := sandbox.BecomeSubreaper(); err != nil {
			err = fmt.Errorf("becoming the reaper of the server's processes: %w", err)
			return nil, nil, st.fail(c, "sandbox", err, "")
		}
	}
	if plan.egress != nil && !confine {
		// Never the host's network for a profile that names hosts.
		err := fmt.Errorf("[network] hosts needs the cell's own network namespace, which only Linux gives; the server is not started unconfined with the host's network")
		return nil, nil, st.fail(c, "network.hosts", err, "remove [network] hosts from the profile to run the server unconfined")
	}
	srv, err := sandbox.Start(cell, cmp.Or(c.serverStderr, c.stderr))
	if err != nil {
		var ns *sandbox.NamespaceError
		if errors.As(err, &ns) {
			return nil, nil, st.fail(c, "network.hosts", err, cmp.Or(ns.Fix(), "a profile with [network] hosts needs user and network namespaces; mcpcell never falls back to the host's network"))
		}
		return nil, nil, st.fail(c, "sandbox", err, "run mcpcell check to see the cell; grant what the server needs in the profile")
	}
	if plan.egress == nil {
		return srv, nil, 0
	}
	relay, err := egress.Serve(egress.Config{Plan: plan.egress, Sockets: srv.Sockets, Record: egressRecorder(log), Resolve: c.egressResolve, Dial: c.egressDial})
	if err != nil {
		srv.Stop(sandbox.Ladder{})
		err = fmt.Errorf("starting the relay of the cell's [network] hosts: %w", err)
		return nil, nil, st.fail(c, "network.hosts", err, "")
	}
	return srv, relay, 0
}

type resolution struct {
	secrets map[string]keystore.Secret
	err     error
	hint    string
}

// resolveSecrets reads the profile's [secrets] from the keyring.
func (c *cli) resolveSecrets(p *profiles.Profile) resolution {
	if len(p.Secrets) == 0 {
		return resolution{}
	}
	refs := map[string]keystore.Ref{}
	for name, r := range p.Secrets {
		refs[name] = keystore.Ref{Service: r.Service, User: r.User}
	}
	secrets, err := keystore.Resolve(c.store, refs)
	if err != nil {
		return resolution{err: fmt.Errorf("%w; the server is not started without its secrets", err), hint: keystore.Hint(err)}
	}
	return resolution{secrets: secrets}
}

// withSecrets sets each secret in env, replacing a variable of the same
// name.
func withSecrets(env []string, secrets map[string]keystore.Secret) []string {
	if len(secrets) == 0 {
		return env
	}
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := secrets[k]; !ok {
			out = append(out, kv)
		}
	}
	for name, s := range secrets {
		out = append(out, name+"="+s.Value())
	}
	return out
}

// starting is a start of the server under way, once the trusted profile
// is known: the audit log once open, and why the start was refused. Every
// start that does not reach the server writes one deny start record, its
// rule "start" (what the viewer and a script look for), its note the
// cause and the error the user saw.
type starting struct {
	p       *profiles.Profile
	pol     *profiles.Policy
	environ []string
	log     *audit.Log // nil until run opens it
	why     string     // cause: error, the first refusal's
	started bool       // the server runs and the log has its start record
	// The files of the server's code its cell cannot read, found before
	// it started, to explain an exit before it answered.
	missing []unreadable
}

// explain says why the server may have exited (status exit) before it
// answered, from the grants of the cell it ran in.
func (st *starting) explain(exit int) (msg, hint string) {
	return explainExit(st.p, exit, st.missing)
}

// fail refuses the start for cause and reports err with hint, as c.fail.
func (st *starting) fail(c *cli, cause string, err error, hint string) int {
	st.refuse(cause, err)
	return c.fail(err, hint)
}

// refuse notes why the start is refused; the first reason counts.
func (st *starting) refuse(cause string, err error) {
	if st.why == "" {
		st.why = cause + ": " + joinLines(err.Error())
	}
}

// finish writes the deny start record of a start that did not happen,
// opening the log if run had not (no secret has been read then: nothing
// to redact), and closes the log. A log that cannot be opened gets no
// record: the refusal was printed. Nor does one when a write grant holds
// mcpcell's own folders or the log: the record that let the profile
// pass may be the server's, and so may be its [audit] path and any link
// there.
func (st *starting) finish() {
	if !st.started {
		if st.log == nil && ownWrites(st.p, ownGrants(st.p, st.environ)) == nil {
			st.log, _ = openLog(st.p, st.pol, audit.NewSession(), func(s string) string { return s })
		}
		if st.log != nil {
			st.log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Rule: "start", Note: cmp.Or(st.why, "refused")})
		}
	}
	if st.log != nil {
		st.log.Close()
	}
}

// refusedUnloaded records a start refused before a trusted profile was
// known (said is what loadProfile printed). Only a profile file whose
// content is not trusted is logged, and never where that content says
// (its [audit] path): in the default log of its name,
// ${STATE}/audit/NAME.jsonl, which its path and the environment choose.
// An embedded profile refused its project goes to that profile's own
// log, and a profile file that is not there to the embedded default's:
// mcpcell's own, which nothing of a file chooses.
func (c *cli) refusedUnloaded(pf profileFlags, said string) {
	var top *profiles.Profile
	errStop := errors.New("stop")
	embeddedP, err := profiles.Load(profiles.Options{Profile: pf.profile, Project: pf.project, Getenv: c.getenv, AnyProject: true, Verify: func(p *profiles.Profile, _ string, _ []byte) error {
		top = p // the file is found: its name and ${STATE} are set, nothing of it applied
		return errStop
	}})
	if top == nil {
		if err != nil || !embedded(embeddedP) {
			embeddedP, err = profiles.Load(profiles.Options{Profile: profiles.DefaultName, Getenv: c.getenv, AnyProject: true})
		}
		if err != nil {
			return
		}
		top = embeddedP
	}
	var lines []string
	for _, l := range strings.Split(said, "\n") {
		if msg, ok := strings.CutPrefix(l, "mcpcell: error: "); ok {
			lines = append(lines, msg)
		}
	}
	path := filepath.Join(top.Vars["STATE"], "audit", top.Name+".jsonl")
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return // not a log mcpcell made: a link is not followed for an untrusted file
	}
	log, err := audit.Open(path, audit.Meta{Session: audit.NewSession(), Profile: top.Name})
	if err != nil {
		return
	}
	note := strings.TrimPrefix(cmp.Or(strings.Join(lines, "; "), "refused"), "profile: ")
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Rule: "start", Note: "profile: " + note})
	log.Close()
}

// joinLines joins the lines of msg (a joined error's) with "; ".
func joinLines(msg string) string { return strings.ReplaceAll(msg, "\n", "; ") }

// ownGrants are the profile's write grants, resolved as far as they
// resolve, for ownWrites.
func ownGrants(p *profiles.Profile, environ []string) sandbox.Grants {
	cell, _ := profiles.CompileCell(p, environ) // planCell reports its errors
	own := sandbox.Grants{Write: cell.Grants.Write}
	own.Resolve() // planCell reports what does not resolve
	return own
}
