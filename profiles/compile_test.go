package profiles

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/sandbox"
)

// TestCompileCell compiles profile files, loaded as mcpcell loads them,
// into their cells: no path of the cell exists, none is made.
func TestCompileCell(t *testing.T) {
	environ := []string{"PATH=/usr/bin", "HOME=/home/u", "LANG=C.UTF-8", "LC_ALL=C", "TMPDIR=/tmp/mine", "EDITOR=vi", "SECRET_TOKEN=t", "GOPATH=/go"}
	for _, c := range []struct {
		name string
		text string // the profile file, in the project, after its first line
		// grants: want, in the project, the profile file and the cell's
		// cache; F: in the rest is the profile file.
		grants    func(p, f, cache string) sandbox.Grants
		net       sandbox.Net
		portsFrom string
		env       []string // as well as TMPDIR=C/tmp
		widenings []string
		more      string   // more.toml beside the profile file (M:)
		hosts     []string // rule (from)
		err       string
	}{
		{
			name:   "nothing granted",
			grants: func(p, f, cache string) sandbox.Grants { return sandbox.Grants{} },
			env:    []string{"HOME=/home/u", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin"},
		},
		{
			name: "grants, optional, with their lines",
			text: "[filesystem]\nread = [\"${PROJECT}/docs/\", \"/etc/hosts\"]\nwrite = [\"${PROJECT}/out\", \"${CACHE}/npm\"]\nexec = [\"/usr/bin\"]\noptional = [\"/etc/hosts\", \"${CACHE}/npm\"]\n",
			grants: func(p, f, cache string) sandbox.Grants {
				return sandbox.Grants{
					Read:  []sandbox.Grant{{Path: p + "/docs", From: f + ":3"}, {Path: "/etc/hosts", From: f + ":3", Optional: true}},
					Write: []sandbox.Grant{{Path: p + "/out", From: f + ":4"}, {Path: cache + "/npm", From: f + ":4", Optional: true}},
					Exec:  []sandbox.Grant{{Path: "/usr/bin", From: f + ":5"}},
				}
			},
			env: []string{"HOME=/home/u", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin"},
		},
		{
			name:      "ports, bind, UDP and UNIX sockets widen the cell",
			text:      "[network]\nports = [5432, 443]\nbind = [8080]\nudp = true\nunix = true\n",
			net:       sandbox.Net{ConnectTCP: []uint16{5432, 443}, BindTCP: []uint16{8080}, UDP: true, Unix: true},
			portsFrom: "F:3, F:3, F:4",
			widenings: []string{
				"TCP connect to port 5432 (F:3)",
				"TCP connect to port 443 (F:3)",
				"TCP listen on port 8080 (F:4)",
				"UDP to any address and port ([network] udp = true)",
				"UNIX sockets, pathname and abstract ([network] unix = true): this reaches the D-Bus session bus if the server knows its address",
			},
			env: []string{"HOME=/home/u", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin"},
		},
		{
			name: "the environment: base, pass, set, and the cell's TMPDIR over all",
			text: "[env]\npass = [\"SECRET_TOKEN\", \"EDITOR\", \"ABSENT\"]\nset = { LANG = \"fr_FR.UTF-8\", TMPDIR = \"/elsewhere\", NODE_ENV = \"production\" }\n",
			env:  []string{"EDITOR=vi", "HOME=/home/u", "LANG=fr_FR.UTF-8", "LC_ALL=C", "NODE_ENV=production", "PATH=/usr/bin", "SECRET_TOKEN=t"},
		},
		{
			name:   "host rules, each once, go to the relay and grant no port",
			text:   "include = [\"more.toml\"]\n[network]\nhosts = [\"API.GitHub.com:443\", \"*.githubusercontent.com:443\",\n  \"10.0.0.5:5432\", \"[::1]:8080\", \"api.github.com.:443\"]\n",
			more:   "[network]\nhosts = [\"localhost:5432\", \"api.github.com:443\"]\n",
			hosts:  []string{"localhost:5432 (M:3)", "api.github.com:443 (M:3)", "*.githubusercontent.com:443 (F:4)", "10.0.0.5:5432 (F:4)", "[::1]:8080 (F:4)"},
			grants: resolverGrants,
			widenings: []string{
				"TCP to localhost:5432 through mcpcell's relay (M:3)",
				"TCP to api.github.com:443 through mcpcell's relay (M:3)",
				"TCP to *.githubusercontent.com:443 through mcpcell's relay (F:4)",
				"TCP to 10.0.0.5:5432 through mcpcell's relay (F:4)",
				"TCP to [::1]:8080 through mcpcell's relay (F:4)",
			},
			env: []string{"HOME=/home/u", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin"},
		},
		{
			name:   "UNIX sockets beside host rules: the namespace does not close socket paths",
			text:   "[network]\nhosts = [\"example.com:443\"]\nunix = true\n",
			net:    sandbox.Net{Unix: true},
			hosts:  []string{"example.com:443 (F:3)"},
			grants: resolverGrants,
			widenings: []string{
				"TCP to example.com:443 through mcpcell's relay (F:3)",
				"UNIX sockets by path ([network] unix = true): the cell's network namespace does not close them, so a socket path reaches the daemon behind it on the host (the D-Bus session bus, if the server knows its address)",
			},
			env: []string{"HOME=/home/u", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			project := filepath.Join(root, "proj")
			file := filepath.Join(project, FileName)
			write(t, file, "# a profile\n"+c.text)
			more := filepath.Join(project, "more.toml")
			if c.more != "" {
				write(t, more, "# more\n"+c.more)
			}
			p, err := Load(Options{Profile: file, Getenv: env(map[string]string{"HOME": "/home/u", "XDG_CACHE_HOME": filepath.Join(root, "cache")})})
			if err != nil {
				t.Fatal(err)
			}
			cell, err := CompileCell(p, environ)
			at := strings.NewReplacer("F:", file+":", "M:", more+":")
			if got := fmt.Sprint(err); c.err == "" && err != nil || c.err != "" && got != at.Replace(c.err) {
				t.Errorf("error: got %v, want %q", err, at.Replace(c.err))
			}
			if cell == nil {
				t.Fatal("no cell")
			}
			cache := p.Vars["CACHE"]
			if !strings.HasPrefix(cache, filepath.Join(root, "cache")+"/") {
				t.Fatalf("the cell's cache is %s, not in %s", cache, root)
			}
			var want sandbox.Grants
			if c.grants != nil {
				want = c.grants(project, file, cache)
			}
			for _, x := range []struct {
				name      string
				got, want []sandbox.Grant
			}{{"read", cell.Grants.Read, want.Read}, {"write", cell.Grants.Write, want.Write}, {"exec", cell.Grants.Exec, want.Exec}} {
				if !slices.EqualFunc(x.got, x.want, grantEqual) {
					t.Errorf("%s grants: got %+v, want %+v", x.name, x.got, x.want)
				}
			}
			if want := (sandbox.Grant{Path: cache + "/tmp", From: "the cell's TMPDIR"}); !grantEqual(cell.Tmp, want) {
				t.Errorf("TMPDIR grant: got %+v, want %+v", cell.Tmp, want)
			}
			if !slices.Equal(cell.Net.ConnectTCP, c.net.ConnectTCP) || !slices.Equal(cell.Net.BindTCP, c.net.BindTCP) || cell.Net.UDP != c.net.UDP || cell.Net.Unix != c.net.Unix {
				t.Errorf("network: got %+v, want %+v", cell.Net, c.net)
			}
			var hosts, wantHosts []string
			for _, r := range cell.Hosts {
				hosts = append(hosts, fmt.Sprintf("%s (%s)", r, r.From))
			}
			for _, h := range c.hosts {
				wantHosts = append(wantHosts, at.Replace(h))
			}
			if !slices.Equal(hosts, wantHosts) {
				t.Errorf("host rules:\n got %q\nwant %q", hosts, wantHosts)
			}
			if cell.Net.Egress != nil {
				t.Errorf("egress plan: got %+v, want none (mcpcell plans it on the machine)", cell.Net.Egress)
			}
			if want := at.Replace(c.portsFrom); cell.PortsFrom != want {
				t.Errorf("ports from: got %q, want %q", cell.PortsFrom, want)
			}
			wantEnv := slices.Sorted(slices.Values(append(slices.Clone(c.env), "TMPDIR="+cache+"/tmp")))
			if !slices.Equal(cell.Env, wantEnv) {
				t.Errorf("environment:\n got %q\nwant %q", cell.Env, wantEnv)
			}
			var wantW []string
			for _, w := range c.widenings {
				wantW = append(wantW, at.Replace(w))
			}
			if !slices.Equal(cell.Widenings, wantW) {
				t.Errorf("widenings:\n got %q\nwant %q", cell.Widenings, wantW)
			}
		})
	}
}

func grantEqual(a, b sandbox.Grant) bool {
	return a.Path == b.Path && a.From == b.From && a.Optional == b.Optional && a.Resolved == "" && b.Resolved == "" && a.Links == nil && !a.Dir
}

// TestCompileCellPure shows that compiling touches nothing: a profile
// built in memory, whose paths do not exist, compiles the same twice.
func TestCompileCellPure(t *testing.T) {
	p := &Profile{
		Vars:   map[string]string{"CACHE": "/nonexistent/cache/cells/x"},
		Write:  []Entry{{Value: "/nonexistent/out/", From: Source{File: "f", Line: 2}}},
		EnvSet: map[string]Entry{"A": {Value: "1"}},
	}
	a, errA := CompileCell(p, nil)
	b, errB := CompileCell(p, nil)
	if errA != nil || errB != nil {
		t.Fatalf("errors: %v, %v", errA, errB)
	}
	want := []sandbox.Grant{{Path: "/nonexistent/out", From: "f:2"}}
	if !slices.EqualFunc(a.Grants.Write, want, grantEqual) || !slices.EqualFunc(b.Grants.Write, want, grantEqual) {
		t.Errorf("write grants: got %+v and %+v, want %+v", a.Grants.Write, b.Grants.Write, want)
	}
	if wantEnv := []string{"A=1", "TMPDIR=/nonexistent/cache/cells/x/tmp"}; !slices.Equal(a.Env, wantEnv) {
		t.Errorf("environment: got %q, want %q", a.Env, wantEnv)
	}
}

// TestCompileCellHosts shows that a Profile not made by Load is checked
// too: a host rule Load would refuse is an error, and the others compile.
func TestCompileCellHosts(t *testing.T) {
	p := &Profile{
		Vars:  map[string]string{"CACHE": "/nonexistent/cache/cells/x"},
		Hosts: []Entry{{Value: "example.com", From: Source{File: "f", Line: 2}}, {Value: "example.org:443", From: Source{File: "f", Line: 3}}},
	}
	cell, err := CompileCell(p, nil)
	if want := `f:2: network.hosts: "example.com": name the port, such as "example.com:443"`; fmt.Sprint(err) != want {
		t.Errorf("error: got %v, want %s", err, want)
	}
	if len(cell.Hosts) != 1 || cell.Hosts[0].String() != "example.org:443" || cell.Hosts[0].From != "f:3" {
		t.Errorf("host rules: got %+v, want example.org:443 from f:3", cell.Hosts)
	}
}

// TestCellVerdict decides, for each kind of gap a kernel has, whether
// the cell starts: full, weaker with best_effort, refused without it,
// and unconfined or refused off Linux.
func TestCellVerdict(t *testing.T) {
	linux := func(abi int, seccomp bool, arch string) sandbox.Kernel {
		return sandbox.Kernel{OS: "linux", LandlockABI: abi, Seccomp: seccomp, Arch: arch}
	}
	ports := sandbox.Net{ConnectTCP: []uint16{443}}
	for _, c := range []struct {
		name   string
		k      sandbox.Kernel
		net    sandbox.Net
		needs  []string // the gaps, by what would enforce them
		strict Verdict  // required, no best_effort (the default)
		best   Verdict  // [sandbox] best_effort = true
		loose  Verdict  // [sandbox] required = false
	}{
		{"ABI 7 with seccomp", linux(7, true, ""), ports, nil, CellFull, CellFull, CellFull},
		{"ABI 6 with seccomp", linux(6, true, ""), sandbox.Net{}, nil, CellFull, CellFull, CellFull},
		{"no scopes (ABI 5)", linux(5, true, ""), sandbox.Net{}, []string{"Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"no device ioctl (ABI 4)", linux(4, true, ""), ports, []string{"Landlock ABI 5", "Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"no TCP rules (ABI 3), ports granted", linux(3, true, ""), ports, []string{"Landlock ABI 4", "Landlock ABI 5", "Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"no TCP rules (ABI 3), no network", linux(3, true, ""), sandbox.Net{}, []string{"Landlock ABI 4", "Landlock ABI 5", "Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"no truncate rules (ABI 2)", linux(2, true, ""), sandbox.Net{}, []string{"Landlock ABI 3", "Landlock ABI 4", "Landlock ABI 5", "Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"ABI 1", linux(1, true, ""), sandbox.Net{}, []string{"Landlock ABI 3", "Landlock ABI 4", "Landlock ABI 5", "Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"no Landlock", linux(0, true, ""), sandbox.Net{}, []string{"Landlock ABI 1", "Landlock ABI 4", "Landlock ABI 6"}, CellRefused, CellWeaker, CellRefused},
		{"no seccomp", linux(7, false, ""), sandbox.Net{}, []string{"seccomp"}, CellRefused, CellWeaker, CellRefused},
		{"seccomp filter unsupported on the architecture", linux(7, true, "riscv64"), sandbox.Net{}, []string{"seccomp on x86-64 or arm64 (this is riscv64)"}, CellRefused, CellWeaker, CellRefused},
		{"macOS", sandbox.Kernel{OS: "darwin"}, sandbox.Net{}, []string{"Linux (Landlock and seccomp)"}, CellRefusedUnconfined, CellRefusedUnconfined, CellUnconfined},
	} {
		gaps := c.k.Gaps(c.net, "")
		var needs []string
		for _, g := range gaps {
			needs = append(needs, g.Needs)
		}
		if !slices.Equal(needs, c.needs) {
			t.Errorf("%s: gaps need %q, want %q", c.name, needs, c.needs)
		}
		for _, x := range []struct {
			profile              string
			required, bestEffort bool
			want                 Verdict
		}{{"strict", true, false, c.strict}, {"best_effort", true, true, c.best}, {"required = false", false, false, c.loose}} {
			got := CellVerdict(c.k, gaps, x.required, x.bestEffort)
			if got != x.want {
				t.Errorf("%s, %s: got %s, want %s", c.name, x.profile, verdictName(got), verdictName(x.want))
			}
		}
	}
}

func verdictName(v Verdict) string {
	names := []string{CellFull: "full", CellWeaker: "weaker", CellUnconfined: "unconfined", CellRefused: "refused", CellRefusedUnconfined: "refused unconfined"}
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// resolverGrants are the grants of a cell with host rules: the files the
// server's resolver reads, to find the DNS stub and what /etc/hosts maps.
func resolverGrants(p, f, cache string) sandbox.Grants {
	var g sandbox.Grants
	for _, path := range []string{"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf"} {
		g.Read = append(g.Read, sandbox.Grant{Path: path, From: "network.hosts (the resolver's files)", Optional: true})
	}
	return g
}
