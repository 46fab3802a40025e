package profiles

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mcpcell/mcpcell/internal/egress"
	"github.com/mcpcell/mcpcell/sandbox"
)

// Cell is what a profile asks of the sandbox, compiled from the profile
// alone: no path is resolved, no folder made and no kernel probed here
// (mcpcell does that when it plans the cell on a machine).
type Cell struct {
	// Grants are the [filesystem] grants as written (variables
	// expanded), each with its line and whether it is optional.
	Grants sandbox.Grants
	// Tmp is the grant of the cell's TMPDIR (${CACHE}/tmp), a write
	// grant beside Grants' that mcpcell makes.
	Tmp sandbox.Grant
	Net sandbox.Net
	// Hosts are the [network] hosts rules, each once, in the order
	// written. When there are any, the cell runs in a network namespace
	// of its own whose only exits are mcpcell's relay (Net.Egress, which
	// mcpcell plans on the machine: CompileCell leaves it nil) and
	// Net.ConnectTCP is empty.
	Hosts []egress.Rule
	// PortsFrom names the lines that grant TCP ports, for
	// sandbox.Kernel.Gaps.
	PortsFrom string
	// Env is the server's environment before its secrets: the base
	// variables and [env] pass taken from mcpcell's, then [env] set and
	// TMPDIR, sorted.
	Env []string
	// Widenings says each grant beyond the default of no network, with
	// its line.
	Widenings []string
}

// ResolverFiles is the origin of the grants mcpcell adds for a cell with
// [network] hosts: the files the server's resolver reads.
const ResolverFiles = "network.hosts (the resolver's files)"

// CompileCell compiles the cell p asks for; environ is mcpcell's own
// environment, where the variables the server is passed come from. The
// error joins each setting of p no cell can give, one error a line: a
// profile that Load returned has none.
func CompileCell(p *Profile, environ []string) (*Cell, error) {
	c := &Cell{
		Grants: sandbox.Grants{
			Read:  grantsOf(p.Read, p.Optional),
			Write: grantsOf(p.Write, p.Optional),
			Exec:  grantsOf(p.Exec, p.Optional),
		},
	}
	tmp := filepath.Join(p.Vars["CACHE"], "tmp")
	c.Tmp = sandbox.Grant{Path: tmp, From: "the cell's TMPDIR"}
	var portsFrom []string
	for _, x := range []struct {
		entries []Entry
		dst     *[]uint16
		verb    string
	}{{p.Ports, &c.Net.ConnectTCP, "TCP connect to port"}, {p.Bind, &c.Net.BindTCP, "TCP listen on port"}} {
		for _, e := range x.entries {
			n, _ := strconv.Atoi(e.Value)
			*x.dst = append(*x.dst, uint16(n))
			portsFrom = append(portsFrom, e.From.String())
			c.Widenings = append(c.Widenings, fmt.Sprintf("%s %s (%s)", x.verb, e.Value, e.From))
		}
	}
	c.PortsFrom = strings.Join(portsFrom, ", ")
	var errs []error
	for _, h := range p.Hosts {
		// Load parsed each rule already; a Profile built otherwise is
		// checked here.
		r, err := egress.ParseRule(h.Value, h.From.String())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: network.hosts: %w", h.From, err))
			continue
		}
		c.Hosts = append(c.Hosts, r)
		c.Widenings = append(c.Widenings, fmt.Sprintf("TCP to %s through mcpcell's relay (%s)", r, h.From))
	}
	if len(c.Hosts) > 0 {
		// The server's resolver reads these to find the cell's DNS stub
		// (at resolv.conf's nameservers) and the names /etc/hosts maps;
		// without them the transparent way fails for every client.
		for _, f := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf"} {
			c.Grants.Read = append(c.Grants.Read, sandbox.Grant{Path: f, From: ResolverFiles, Optional: true})
		}
	}
	c.Net.UDP, c.Net.Unix = p.UDP, p.Unix
	if p.UDP {
		c.Widenings = append(c.Widenings, "UDP to any address and port ([network] udp = true)")
	}
	switch {
	case p.Unix && len(c.Hosts) > 0:
		// The namespace closes abstract sockets (each network namespace
		// has its own), not sockets reached by a path.
		c.Widenings = append(c.Widenings, "UNIX sockets by path ([network] unix = true): the cell's network namespace does not close them, so a socket path reaches the daemon behind it on the host (the D-Bus session bus, if the server knows its address)")
	case p.Unix:
		c.Widenings = append(c.Widenings, "UNIX sockets, pathname and abstract ([network] unix = true): this reaches the D-Bus session bus if the server knows its address")
	}
	set := map[string]string{}
	for k, e := range p.EnvSet {
		set[k] = e.Value
	}
	set["TMPDIR"] = tmp
	var pass []string
	for _, e := range p.EnvPass {
		pass = append(pass, e.Value)
	}
	sort.Strings(pass)
	c.Env = sandbox.Environ(environ, pass, set)
	return c, errors.Join(errs...)
}

func grantsOf(entries []Entry, optional []Entry) []sandbox.Grant {
	var out []sandbox.Grant
	for _, e := range entries {
		opt := slices.ContainsFunc(optional, func(o Entry) bool { return o.Value == e.Value })
		out = append(out, sandbox.Grant{Path: filepath.Clean(e.Value), From: e.From.String(), Optional: opt})
	}
	return out
}

// Verdict is whether a cell may start on a kernel, and how confined.
type Verdict int

const (
	CellFull              Verdict = iota // the kernel enforces the cell as written
	CellWeaker                           // it has gaps; [sandbox] best_effort accepts a weaker cell
	CellUnconfined                       // not Linux; [sandbox] required = false runs the server unconfined
	CellRefused                          // it has gaps, and best_effort is off
	CellRefusedUnconfined                // not Linux, and [sandbox] required is true
)

// CellVerdict decides whether a cell with these gaps may start: never
// weaker than written unless the profile says so, and never unconfined
// unless the profile says that. check shows it, run acts on it.
func CellVerdict(k sandbox.Kernel, gaps []sandbox.Gap, required, bestEffort bool) Verdict {
	switch {
	case k.OS != "linux" && required:
		return CellRefusedUnconfined
	case k.OS != "linux":
		return CellUnconfined
	case len(gaps) > 0 && !bestEffort:
		return CellRefused
	case len(gaps) > 0:
		return CellWeaker
	}
	return CellFull
}
