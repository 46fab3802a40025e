package main

import (
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/mcpcell/mcpcell/jsonrpc"
	"github.com/mcpcell/mcpcell/jsonrpc/audit"
	"github.com/mcpcell/mcpcell/profiles"
	"github.com/mcpcell/mcpcell/sandbox"
)

// grace is how long each step of the shutdown ladder waits.
const grace = 2 * time.Second

func (c *cli) loadProfile(pf profileFlags) (*profiles.Profile, *profiles.Policy, int) {
	p, err := profiles.Load(profiles.Options{Profile: pf.profile, Project: pf.project, Getenv: c.getenv})
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
	var pf profileFlags
	fs := newFlags("run", c.stderr, &pf)
	if err := fs.Parse(args); err != nil {
		return c.usage2(fmt.Errorf("run: %v", err))
	}
	p, pol, code := c.loadProfile(pf)
	if code != 0 {
		return code
	}
	command := fs.Args()
	if len(command) == 0 {
		command = p.Command
	}
	if len(command) == 0 {
		c.errorf("no server command")
		c.hintf("give one after --, as in: mcpcell run -- npx -y @modelcontextprotocol/server-everything, or set [server] command in the profile")
		return exitUsage
	}
	session := audit.NewSession()
	log, err := audit.Open(p.AuditPath, audit.Meta{Session: session, Profile: p.Name, Client: pol.ClientName})
	if err != nil {
		return c.fail(fmt.Errorf("cannot open the audit log, so the server is not started: %w", err), "set [audit] path in the profile to a writable file")
	}
	defer log.Close()

	set := map[string]string{}
	for k, e := range p.EnvSet {
		set[k] = e.Value
	}
	var pass []string
	for _, e := range p.EnvPass {
		pass = append(pass, e.Value)
	}
	sort.Strings(pass)
	cell := sandbox.Cell{Command: command, Dir: p.Cwd, Env: sandbox.Environ(c.environ, pass, set)}
	srv, err := sandbox.Start(cell, c.stderr)
	if err != nil {
		log.Record(jsonrpc.Event{Time: time.Now(), Decision: "deny", Rule: "start", Note: err.Error()})
		return c.fail(err, "check the command, or run it once directly to see why it fails")
	}
	if err := log.Record(jsonrpc.Event{Time: time.Now(), Decision: "start", Rule: "session", Note: fmt.Sprintf("server %s (pid %d)", command[0], srv.Pid())}); err != nil {
		srv.Stop(0)
		return c.fail(fmt.Errorf("cannot write the audit log %s, so the server is not run: %w", p.AuditPath, err), "free space or fix [audit] path in the profile")
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			srv.Stop(grace)
		}
	}()

	ip := &jsonrpc.Interposer{
		Policy:       pol,
		Recorder:     log,
		MaxFrame:     p.MaxFrame,
		Notes:        c.stderr,
		ClientClosed: func() { go srv.Stop(grace) },
	}
	if err := ip.Run(c.stdin, c.stdout, srv.Stdin, srv.Stdout); err != nil {
		fmt.Fprintf(c.stderr, "mcpcell: reading from the server: %v\n", err)
	}
	srv.Stop(grace)
	exit := srv.Wait()
	log.Record(jsonrpc.Event{Time: time.Now(), Decision: "end", Rule: "session", Note: fmt.Sprintf("server exited with status %d", exit)})
	return exit
}
