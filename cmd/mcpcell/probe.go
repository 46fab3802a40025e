package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mcpcell/mcpcell/internal/utf8cut"
	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/profiles"
)

// probe starts the server exactly as run does, by running run with the
// client's side replaced by pipes (real ones: run sees the probe's
// hang-up as it sees a client's), and plays the client on them: it
// initializes, lists what the server's capabilities declare, makes one
// call mcpcell refuses, and reports each entry with the profile's
// verdict. What it reports as shown is what came out of the pipe, which
// is what an agent sees; the hidden entries come from the server's own
// answers (jsonrpc.Interposer.Observe), redacted as the client's frames
// are.
func (c *cli) probe(args []string) int {
	var pf profileFlags
	fs := newFlags("probe", c.stderr, &pf)
	asJSON := fs.Bool("json", false, "print one JSON object")
	timeout := fs.Duration("timeout", 30*time.Second, "the most the whole probe may take")
	client := fs.String("client", probeClient, "the client name probe initializes as (clientInfo.name)")
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("probe: %v", err))
	}
	if *timeout <= 0 {
		return c.usage2(fmt.Errorf("probe: --timeout must be positive"))
	}
	if *client == "" {
		return c.usage2(fmt.Errorf("probe: --client must name a client"))
	}
	runArgs := []string{}
	if pf.profile != "" {
		runArgs = append(runArgs, "--profile", pf.profile)
	}
	if pf.project != "" {
		runArgs = append(runArgs, "--project", pf.project)
	}
	if len(fs.Args()) > 0 {
		runArgs = append(append(runArgs, "--"), fs.Args()...)
	}

	pr := &prober{given: len(fs.Args()) > 0, command: fs.Args(), client: *client, observed: map[string][]byte{}, errored: map[string]bool{}}
	upR, upW, err := os.Pipe() // the probe's requests: run's stdin
	if err != nil {
		return c.fail(fmt.Errorf("probe: %w", err), "")
	}
	downR, downW, err := os.Pipe() // what the agent would see: run's stdout
	if err != nil {
		upR.Close()
		upW.Close()
		return c.fail(fmt.Errorf("probe: %w", err), "")
	}
	defer downR.Close()
	stop := make(chan struct{})
	stopOnce := sync.OnceFunc(func() { close(stop) })
	r := *c
	r.stdin, r.stdout, r.probing, r.stop = upR, downW, pr, stop
	ran := make(chan int, 1)
	go func() {
		code := r.run(runArgs)
		upR.Close() // a refused start read nothing: the probe's write ends
		downW.Close()
		ran <- code
	}()
	deadline := time.Now().Add(*timeout)
	conn := newProbeConn(upW, downR, deadline, pr)
	rep, err := pr.converse(conn)
	conn.stop() // the server's requests get no more answers
	var late *probeTimeout
	if errors.As(err, &late) {
		stopOnce() // it did not answer in time: stopped now, by run's ladder
	}
	upW.Close() // the client's hang-up: run's ladder stops the server
	// run's ladder ends the server within probeLadder of the hang-up; past
	// the deadline and that, run is asked to stop it as a signal does.
	code, ended := waitRun(ran, time.Until(deadline)+probeLadder)
	stopped := !ended
	if !ended {
		stopOnce()
		code, ended = waitRun(ran, probeLadder)
	}
	if !ended {
		c.errorf("the session did not end %v after probe's --timeout and mcpcell's stop; probe exits, and the cell's processes with it", probeLadder)
		return exitFailed
	}
	if !pr.started() {
		return code // run refused the start and said why
	}
	if err != nil {
		return c.probeFailed(err, code, *timeout)
	}
	if stopped {
		fmt.Fprintf(c.stderr, "mcpcell: note: the server did not exit once the probe disconnected; mcpcell stopped it after --timeout (status %d)\n", code)
	} else if code != 0 {
		fmt.Fprintf(c.stderr, "mcpcell: note: the server exited with status %d once the probe disconnected\n", code)
	}
	rep.Pinned, rep.Review = pr.pinned()
	if *asJSON {
		c.stdout.Write(rep.json())
	} else {
		rep.human(c.stdout)
	}
	return 0
}

// probeClient is the client name probe initializes as by default.
const probeClient = "mcpcell-probe"

// probeLadder is the most run's ladder takes from the client's hang-up
// to its end: the EOF wait, the SIGTERM wait, the drains.
const probeLadder = eofGrace + termGrace + 2*drainGrace

// waitRun waits up to d for run's exit status.
func waitRun(ran <-chan int, d time.Duration) (int, bool) {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case code := <-ran:
		return code, true
	case <-t.C:
		return 0, false
	}
}

// probeFailed explains why the probe could not complete.
func (c *cli) probeFailed(err error, code int, timeout time.Duration) int {
	var late *probeTimeout
	var gone *probeGone
	var answered *probeError
	switch {
	case errors.As(err, &late):
		c.errorf("the server did not answer %s within %v (--timeout); mcpcell stopped it", late.method, timeout)
		c.hintf("a server that waits on the network (the profile grants none unless it says so) or on a terminal never answers; its stderr is above; raise --timeout if it is only slow")
	case errors.As(err, &gone):
		c.errorf("the server exited with status %d before answering %s", code, gone.method)
		c.hintf("its stderr and mcpcell's messages are above; a server that cannot read a file of its own code needs the file's folder in [filesystem] read (mcpcell check shows the grants)")
	case errors.As(err, &answered) && answered.byMcpcell && answered.method == "initialize" && answered.clientNames != nil:
		c.errorf("%s", err)
		c.hintf("the profile allows only the clients named in [client] names (%s); probe as one of them with --client NAME", printable(strings.Join(answered.clientNames, ", ")))
	case errors.As(err, &answered) && answered.byMcpcell:
		c.errorf("%s", err)
		c.hintf("mcpcell refused it, by the profile; mcpcell check shows the profile")
	case errors.As(err, &answered):
		c.errorf("%s", err)
		c.hintf("the server refused it; its stderr is above")
	default:
		c.errorf("probe: %v", err)
	}
	return exitFailed
}

// The lists probe asks for, each when the server's capabilities declare
// its capability.
var probeLists = []probeListSpec{
	{"tools/list", "tools", "name", "tools", "tools"},
	{"prompts/list", "prompts", "name", "prompts", "prompts"},
	{"resources/list", "resources", "uri", "resources", "resources"},
	{"resources/templates/list", "resourceTemplates", "uriTemplate", "resource templates", "resources"},
}

type probeListSpec struct {
	method, field, key, noun, capability string
}

// Bounds on one list: a hostile server can page forever.
const (
	probeMaxPages = 100
	probeMaxItems = 10000
	probeMaxText  = 1024 // bytes kept of a name, a title, a description's first line
	// probeMaxInstructions is the bytes kept of the server's instructions.
	probeMaxInstructions = 2000
)

// prober is the probe's side of run: run hands it the profile, the
// policy and the session's redaction (attach), and the interposer shows
// it each server message before the policy (observe).
type prober struct {
	given   bool     // a command was given on the command line
	command []string // as given
	client  string   // the clientInfo name probe initializes as
	mu      sync.Mutex
	p       *profiles.Profile
	pol     *profiles.Policy
	redact  func([]byte) []byte
	// observed holds the server's own answer to a list request of the
	// probe's in flight, by id, redacted.
	observed map[string][]byte
	// errored says, by id, whether the server's own answer to a request
	// of the probe's was an error: an error answer the client got for an
	// id not here (or here as false) is mcpcell's.
	errored map[string]bool
	// outEnded is closed when the server's output has ended (serving):
	// before the session answers for a server that is gone.
	outEnded <-chan struct{}
}

// attach is run's call once the server has started and its session is
// set up: from here on the probe may ask the policy.
func (pr *prober) attach(p *profiles.Profile, pol *profiles.Policy, ip *jsonrpc.Interposer) func(*jsonrpc.Call, *jsonrpc.Message) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.p, pr.pol, pr.redact = p, pol, ip.Redact
	return pr.observe
}

// serving is serve's call before any frame moves: ended is closed at the
// end of the server's output.
func (pr *prober) serving(ended <-chan struct{}) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.outEnded = ended
}

// errorBy says who made the error answer the client got to request id:
// the server (its own answer, seen by observe, was an error), or mcpcell,
// for a server that is gone (its output had ended) or by the profile.
func (pr *prober) errorBy(id int) (server, gone bool) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.errored[fmt.Sprint(id)] {
		return true, false
	}
	select {
	case <-pr.outEnded: // a nil channel (no session yet) is not closed
		return false, true
	default:
		return false, false
	}
}

// clientNames are the profile's [client] names, nil when it names none.
func (pr *prober) clientNames() []string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.p == nil || len(pr.p.ClientNames) == 0 {
		return nil
	}
	return slices.Clone(pr.p.ClientNames)
}

func (pr *prober) started() bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.pol != nil
}

// pinned says whether the session pinned the tool surface, and the
// command that reviews a change.
func (pr *prober) pinned() (bool, string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.p.Unpinned.File != "" {
		return false, ""
	}
	command := pr.command
	if !pr.given {
		command = pr.p.Command
	}
	return true, reviewCommand(pr.p, command, pr.given)
}

func (pr *prober) observe(c *jsonrpc.Call, m *jsonrpc.Message) {
	if c == nil || m.Kind != jsonrpc.Response {
		return
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.errored[string(c.ID.Raw())] = m.Error != nil
	if !slices.ContainsFunc(probeLists, func(l probeListSpec) bool { return l.method == c.Method }) {
		return
	}
	raw := bytes.Clone(m.Raw)
	if pr.redact != nil {
		raw = pr.redact(raw)
	}
	pr.observed[string(c.ID.Raw())] = raw
}

// take returns the server's own answer to request id, once.
func (pr *prober) take(id int) []byte {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	k := fmt.Sprint(id)
	raw := pr.observed[k]
	delete(pr.observed, k)
	return raw
}

// probeReport is what probe prints; its JSON form is documented in
// helps["probe"].
type probeReport struct {
	Profile  string       `json:"profile"`
	Project  string       `json:"project"`
	Server   probeServer  `json:"server"`
	Lists    []*probeList `json:"lists"`
	Call     *probeCall   `json:"refusedCall"`
	NoCall   string       `json:"noRefusedCall,omitempty"`
	Pinned   bool         `json:"pinned"`
	Review   string       `json:"review,omitempty"`
	withheld bool
}

type probeServer struct {
	Name         string   `json:"name"`
	Version      string   `json:"version"`
	Protocol     string   `json:"protocolVersion"`
	Declares     []string `json:"capabilities"`
	Instructions string   `json:"instructions,omitempty"` // as the agent gets them, cut
	Client       string   `json:"client"`                 // the clientInfo name probe initialized as
}

type probeList struct {
	List      string        `json:"list"` // tools, prompts, resources, resourceTemplates
	Listed    int           `json:"listed"`
	Shown     int           `json:"shown"`
	Entries   []*probeEntry `json:"entries"`
	Stopped   string        `json:"stopped,omitempty"` // why probe stopped paging
	Error     *probeErr     `json:"error,omitempty"`
	Undeclare bool          `json:"notDeclared,omitempty"`
	noun      string
}

type probeEntry struct {
	Name        string     `json:"name"` // a tool or prompt name, a URI, a URI template
	Title       string     `json:"title,omitempty"`
	Description string     `json:"description,omitempty"`
	Verdict     string     `json:"verdict"` // shown, hidden, withheld, uncallable
	Rule        string     `json:"rule"`
	Args        []probeArg `json:"args,omitempty"`
}

type probeArg struct {
	Key        string `json:"key"`
	Arg        string `json:"arg"`
	Constraint string `json:"constraint"`
	Rule       string `json:"rule"`
}

type probeErr struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	By      string `json:"by"` // server, mcpcell: who answered, from the session
}

type probeCall struct {
	Tool     string          `json:"tool"`
	Why      string          `json:"why"` // hidden, unlisted
	Response json.RawMessage `json:"response"`
}

// converse plays the client: initialize, the lists, the refused call.
func (pr *prober) converse(conn *probeConn) (*probeReport, error) {
	info, _ := json.Marshal(map[string]string{"name": pr.client, "version": version()})
	init, err := conn.call("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":`+string(info)+`}`)
	if err != nil {
		return nil, err
	}
	rep := &probeReport{}
	pr.mu.Lock()
	rep.Profile, rep.Project = profileName(pr.p), pr.p.Project
	pr.mu.Unlock()
	var ir struct {
		Instructions    string                     `json:"instructions"`
		ProtocolVersion string                     `json:"protocolVersion"`
		Capabilities    map[string]json.RawMessage `json:"capabilities"`
		ServerInfo      struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"serverInfo"`
	}
	json.Unmarshal(init, &ir)
	rep.Server = probeServer{Name: oneLine(ir.ServerInfo.Name), Version: oneLine(ir.ServerInfo.Version), Protocol: oneLine(ir.ProtocolVersion), Client: pr.client,
		Instructions: utf8cut.Marked(ir.Instructions, probeMaxInstructions)}
	for k := range ir.Capabilities {
		rep.Server.Declares = append(rep.Server.Declares, oneLine(k))
	}
	slices.Sort(rep.Server.Declares)
	if err := conn.notify("notifications/initialized"); err != nil {
		return nil, err
	}
	var tools *probeList
	for _, l := range probeLists {
		pl := &probeList{List: l.field, noun: l.noun}
		rep.Lists = append(rep.Lists, pl)
		if _, ok := ir.Capabilities[l.capability]; !ok {
			pl.Undeclare = true
			continue
		}
		if err := pr.list(conn, pl, l.method, l.key); err != nil {
			return nil, err
		}
		if l.field == "tools" && pl.Error == nil {
			tools = pl
		}
		for _, e := range pl.Entries {
			rep.withheld = rep.withheld || e.Verdict == "withheld" || e.Verdict == "uncallable"
		}
	}
	return rep, pr.refusedCall(conn, rep, tools)
}

// list reads one list page by page, through nextCursor, within bounds.
func (pr *prober) list(conn *probeConn, pl *probeList, method, key string) error {
	cursor := ""
	for page := 0; ; page++ {
		if page == probeMaxPages {
			pl.Stopped = fmt.Sprintf("the server's %s went on past %d pages; probe stopped there (a server can page forever)", method, probeMaxPages)
			return nil
		}
		params := `{}`
		if cursor != "" {
			b, _ := json.Marshal(map[string]string{"cursor": cursor})
			params = string(b)
		}
		result, err := conn.call(method, params)
		var answered *probeError
		if errors.As(err, &answered) {
			by := "server"
			if answered.byMcpcell {
				by = "mcpcell"
			}
			pl.Error = &probeErr{Code: answered.code, Message: oneLine(answered.message), By: by}
			return nil
		}
		if err != nil {
			return err
		}
		own := pr.take(conn.lastID)
		shown := map[string]bool{}
		seen, next := listEntries(result, pl.List, key)
		for _, e := range seen {
			shown[e.Name] = true
		}
		// The server's own page holds the hidden entries too; without it
		// (no answer of the server's reached the policy) the shown are
		// all probe knows.
		all := seen
		if own != nil {
			var m struct {
				Result json.RawMessage `json:"result"`
			}
			json.Unmarshal(own, &m)
			all, _ = listEntries(m.Result, pl.List, key)
		}
		for _, e := range all {
			if len(pl.Entries) == probeMaxItems {
				pl.Stopped = fmt.Sprintf("the server's %s listed more than %d entries; probe shows the first %d", method, probeMaxItems, probeMaxItems)
				return nil
			}
			pr.judge(pl.List, e, shown[e.Name])
			pl.Listed++
			if e.Verdict == "shown" {
				pl.Shown++
			}
			e.Name = cut(e.Name)
			pl.Entries = append(pl.Entries, e)
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// judge sets e's verdict and rule: shown is whether the client got it.
func (pr *prober) judge(field string, e *probeEntry, shown bool) {
	pr.mu.Lock()
	pol := pr.pol
	pr.mu.Unlock()
	v, err := pol.Entry(field, e.Name)
	e.Verdict, e.Rule = verdictOf(v, err, shown)
	if field == "tools" && e.Verdict == "shown" {
		for _, a := range pol.ArgsFor(e.Name) {
			e.Args = append(e.Args, probeArg{Key: a.Key, Arg: a.Arg, Constraint: describeArg(a.Rule), Rule: a.Name})
		}
	}
}

// verdictOf is an entry's verdict and rule: the policy's verdict v (err:
// none) on it, and whether the client got it (shown).
func verdictOf(v profiles.EntryVerdict, err error, shown bool) (verdict, rule string) {
	switch {
	case err != nil:
		return "hidden", err.Error()
	case shown && v.Pinned:
		// Listed to the agent, yet every call to it is refused: a
		// listing past pinning's bound (the first ones approved, the
		// rest overflowing), the policy's rule says which.
		return "uncallable", v.Rule
	case shown:
		return "shown", v.Rule
	case v.Pinned:
		return "withheld", v.Rule
	case v.Shown:
		// The rules allow it, pinning too, yet the client did not get
		// it: a listing bound or a stale page (the notes on stderr say).
		return "withheld", "withheld by mcpcell: see its note on stderr"
	}
	return "hidden", v.Rule
}

// refusedCall makes one tools/call that mcpcell refuses, to show what an
// agent gets: a tool the profile hides, else a name the listing does not
// hold. It asks the policy first and sends nothing it would forward.
func (pr *prober) refusedCall(conn *probeConn, rep *probeReport, tools *probeList) error {
	if tools == nil {
		rep.NoCall = "the server lists no tools, so probe made no call"
		return nil
	}
	name, why := "", ""
	names := map[string]bool{}
	for _, e := range tools.Entries {
		names[e.Name] = true
		if name == "" && e.Verdict == "hidden" && len(e.Name) < probeMaxText {
			name, why = e.Name, "hidden"
		}
	}
	if name == "" {
		why, name = "unlisted", "mcpcell-probe-no-such-tool"
		for i := 2; names[name]; i++ {
			name = fmt.Sprintf("mcpcell-probe-no-such-tool-%d", i)
		}
	}
	id := conn.nextID + 1
	params, _ := json.Marshal(map[string]any{"name": name, "arguments": map[string]any{}})
	frame := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":%s}`, id, params)
	m, err := jsonrpc.Parse([]byte(frame))
	if err != nil {
		return err
	}
	// The policy decides on this very frame as the session will: one it
	// would forward is never sent.
	pr.mu.Lock()
	pol := pr.pol
	pr.mu.Unlock()
	if v := pol.Message(jsonrpc.Up, m); v.Action != jsonrpc.Refuse {
		rep.NoCall = fmt.Sprintf("the profile would let a call to %s reach the server, so probe made none", showQuoted(name))
		return nil
	}
	raw, err := conn.send(frame, id, "tools/call")
	if err != nil {
		return err
	}
	rep.Call = &probeCall{Tool: cut(name), Why: why, Response: raw}
	return nil
}

// listEntries reads the entries of a list result and its nextCursor.
func listEntries(result []byte, field, key string) ([]*probeEntry, string) {
	var r map[string]json.RawMessage
	json.Unmarshal(result, &r)
	var next string
	json.Unmarshal(r["nextCursor"], &next)
	var list []map[string]json.RawMessage
	json.Unmarshal(r[field], &list)
	out := make([]*probeEntry, 0, len(list))
	for _, e := range list {
		str := func(k string) string {
			var s string
			json.Unmarshal(e[k], &s)
			return s
		}
		pe := &probeEntry{Name: str(key), Title: oneLine(str("title")), Description: oneLine(str("description"))}
		if key != "name" && pe.Title == "" {
			pe.Title = oneLine(str("name"))
		}
		out = append(out, pe)
	}
	return out, next
}

// oneLine is the first line of s, cut.
func oneLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimLeft(s, " \t\r\n"), "\n")
	return cut(strings.TrimRight(s, "\r"))
}

func cut(s string) string { return utf8cut.Marked(s, probeMaxText) }

// human writes the report as aligned tables. Everything a server chose
// goes through printable: no terminal escape, bidi override or newline
// of its reaches the terminal.
func (rep *probeReport) human(w io.Writer) {
	fmt.Fprintf(w, "server   %s %s, protocol %s, declares %s\n", printable(rep.Server.Name), printable(rep.Server.Version), printable(rep.Server.Protocol), printable(strings.Join(rep.Server.Declares, ", ")))
	fmt.Fprintf(w, "profile  %s, project %s, probed as client %s\n", printable(rep.Profile), printable(rep.Project), showQuoted(rep.Server.Client))
	if rep.Server.Instructions != "" {
		// One line: its newlines escaped, as every other character a
		// terminal may take for its own.
		fmt.Fprintf(w, "instructions to the agent: %s\n", printable(rep.Server.Instructions))
	}
	for _, l := range rep.Lists {
		fmt.Fprintln(w)
		switch {
		case l.Undeclare:
			fmt.Fprintf(w, "%s: the server does not declare them\n", l.noun)
			continue
		case l.Error != nil:
			who := "the server's"
			if l.Error.By == "mcpcell" {
				who = "mcpcell's"
			}
			fmt.Fprintf(w, "%s: the list failed: %s error %d: %s\n", l.noun, who, l.Error.Code, printable(l.Error.Message))
			continue
		}
		fmt.Fprintf(w, "%s: %d listed, %d shown to the agent\n", l.noun, l.Listed, l.Shown)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, e := range l.Entries {
			about := e.Title
			if e.Description != "" {
				about = strings.TrimPrefix(about+": "+e.Description, ": ")
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", e.Verdict, printable(e.Name), printable(e.Rule), printable(utf8cut.Marked(about, 60)))
			for _, a := range e.Args {
				fmt.Fprintf(tw, "  \t  arg %s\t%s\t%s\n", printable(a.Arg), printable(a.Rule), printable(a.Constraint))
			}
		}
		tw.Flush()
		if l.Stopped != "" {
			fmt.Fprintf(w, "  (%s)\n", l.Stopped)
		}
	}
	fmt.Fprintln(w)
	if rep.Call != nil {
		what := "a tool the profile hides"
		if rep.Call.Why == "unlisted" {
			what = "a tool the server did not list"
		}
		fmt.Fprintf(w, "refused call: an agent that calls %s (%s) gets, and the server never sees it:\n  %s\n", printable(rep.Call.Tool), what, printable(string(rep.Call.Response)))
	} else {
		fmt.Fprintf(w, "refused call: none: %s\n", printable(rep.NoCall))
	}
	if rep.Pinned {
		fmt.Fprintf(w, "\npins: probe is a session like run's: this listing pinned the tool surface for the profile, project and command, as a first run would; a later change is withheld until you approve it with\n  %s\n", printable(rep.Review))
		if rep.withheld {
			fmt.Fprintf(w, "withheld entries changed since you trusted them: review them with %s\n", printable(rep.Review))
		}
	}
}

// json is the report as one JSON object, with every character a
// terminal may show as other than itself escaped.
func (rep *probeReport) json() []byte {
	for _, l := range rep.Lists {
		if l.Entries == nil && l.Error == nil && !l.Undeclare {
			l.Entries = []*probeEntry{}
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
	return escapeInvisible(b.Bytes())
}

// escapeInvisible escapes in JSON text what printable escapes in plain
// text (encoding/json escapes the controls below U+0020 itself).
func escapeInvisible(b []byte) []byte {
	var out bytes.Buffer
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r >= 0x7f && invisible(r) && r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		case r >= 0x7f && invisible(r):
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			out.Write(b[i : i+size])
		}
		i += size
	}
	return out.Bytes()
}

// probeConn is the probe's client side of the pipes.
type probeConn struct {
	out    io.WriteCloser
	frames chan []byte
	// answers holds the answers to the server's requests, written in turn
	// by one writer; one that does not fit (the server does not read
	// them) is dropped.
	answers chan string
	done    chan struct{} // closed by stop: frames are read and dropped, requests not answered
	expire  <-chan time.Time
	by      *prober // who made an error answer
	nextID  int
	lastID  int
	stopped sync.Once
}

func newProbeConn(out io.WriteCloser, in io.Reader, deadline time.Time, by *prober) *probeConn {
	pc := &probeConn{out: out, frames: make(chan []byte, 16), answers: make(chan string, 64), done: make(chan struct{}), expire: time.After(time.Until(deadline)), by: by}
	go func() {
		for {
			select {
			case <-pc.done:
				return
			case a := <-pc.answers:
				if _, err := io.WriteString(pc.out, a); err != nil {
					return
				}
			}
		}
	}()
	go func() {
		defer close(pc.frames)
		r := bufio.NewReaderSize(in, 64<<10)
		for {
			line, err := r.ReadBytes('\n')
			if len(bytes.TrimSpace(line)) > 0 {
				select {
				case pc.frames <- line:
				case <-pc.done: // read on, so that run's writes end
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return pc
}

func (pc *probeConn) stop() { pc.stopped.Do(func() { close(pc.done) }) }

// Why a request got no result.
type (
	probeTimeout struct{ method string }
	probeGone    struct{ method string }
	probeError   struct {
		method  string
		code    int
		message string
		// byMcpcell: mcpcell answered, not the server; clientNames are
		// the profile's [client] names then, if it has any.
		byMcpcell   bool
		clientNames []string
	}
)

func (e *probeTimeout) Error() string { return "no answer to " + e.method }
func (e *probeGone) Error() string    { return "the session ended before an answer to " + e.method }
func (e *probeError) Error() string {
	who := "the server's"
	if e.byMcpcell {
		who = "mcpcell's"
	}
	return fmt.Sprintf("%s answer to %s is an error: %d %s", who, e.method, e.code, showQuoted(utf8cut.Marked(e.message, 500)))
}

// call sends a request and returns its result.
func (pc *probeConn) call(method, params string) ([]byte, error) {
	id := pc.nextID + 1
	raw, err := pc.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params), id, method)
	if err != nil {
		return nil, err
	}
	var m struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	json.Unmarshal(raw, &m)
	if m.Error != nil {
		// Who answered is known from the session, never from the text,
		// which a server may word as mcpcell's.
		server, gone := pc.by.errorBy(id)
		switch {
		case gone:
			return nil, &probeGone{method}
		case server:
			return nil, &probeError{method: method, code: m.Error.Code, message: m.Error.Message}
		}
		return nil, &probeError{method: method, code: m.Error.Code, message: m.Error.Message, byMcpcell: true, clientNames: pc.by.clientNames()}
	}
	return m.Result, nil
}

func (pc *probeConn) notify(method string) error {
	if _, err := io.WriteString(pc.out, `{"jsonrpc":"2.0","method":"`+method+`"}`+"\n"); err != nil {
		return &probeGone{method}
	}
	return nil
}

// send writes frame, the request id, and returns the frame that answers
// it. A request of the server's is answered "method not found".
func (pc *probeConn) send(frame string, id int, method string) ([]byte, error) {
	pc.nextID, pc.lastID = id, id
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(pc.out, frame+"\n")
		written <- err
	}()
	want := fmt.Sprint(id)
	for {
		select {
		case err := <-written:
			if err != nil {
				return nil, &probeGone{method}
			}
		case f, ok := <-pc.frames:
			if !ok {
				return nil, &probeGone{method}
			}
			var m struct {
				ID     json.RawMessage `json:"id"`
				Method string          `json:"method"`
			}
			if json.Unmarshal(f, &m) != nil {
				continue
			}
			switch {
			case m.Method != "" && m.ID != nil:
				select {
				case pc.answers <- `{"jsonrpc":"2.0","id":` + string(m.ID) + `,"error":{"code":-32601,"message":"Method not found"}}` + "\n":
				default: // the server is not reading its answers
				}
			case m.Method == "" && string(m.ID) == want:
				return bytes.TrimSpace(f), nil
			}
		case <-pc.expire:
			return nil, &probeTimeout{method}
		}
	}
}
