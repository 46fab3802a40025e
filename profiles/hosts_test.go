package profiles

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpcell/mcpcell/sandbox"
)

// TestHostsErrors loads profiles whose [network] hosts cannot mean what
// they say, each with its control: the same profile without the hosts
// line loads.
func TestHostsErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		text string // after the line hosts = [HOSTS]
		more string // more.toml, which the profile includes when set
		// hosts is the hosts line's list (default "example.com:443");
		// want are the errors (F: the profile, M: more.toml).
		hosts string
		want  []string
	}{
		{name: "no port", hosts: `"example.com"`, want: []string{`F:3: network.hosts: "example.com": name the port, such as "example.com:443"`}},
		{name: "port 0", hosts: `"example.com:0"`, want: []string{`F:3: network.hosts: "example.com:0": the port must be a number from 1 to 65535`}},
		{name: "a wildcard inside a name", hosts: `"a.*.example.com:443"`, want: []string{`F:3: network.hosts: "a.*.example.com:443": "*" may only be the first label`}},
		{name: "a wildcard over a top-level domain", hosts: `"*.com:443"`, want: []string{`F:3: network.hosts: "*.com:443": a wildcard needs at least two labels after "*." (such as *.example.com)`}},
		{name: "an IPv6 address without brackets", hosts: `"::1:443"`, want: []string{`F:3: network.hosts: "::1:443": write an IPv6 address in brackets, then the port: [::1]:5432`}},
		{name: "each bad rule, one error a rule", hosts: `"a:1", "b", "c:x"`, want: []string{`F:3: network.hosts: "b": name the port, such as "b:443"`, `F:3: network.hosts: "c:x": the port must be a number from 1 to 65535`}},
		{
			name: "ports beside hosts",
			text: "ports = [5432]\n",
			want: []string{"F:4: network.ports and network.hosts (F:3) in one profile: ports means TCP to any host; hosts confines to names: use one"},
		},
		{
			name: "ports in an included file beside hosts",
			text: "include = [\"more.toml\"]\n",
			more: "[network]\nports = [443]\n",
			want: []string{"M:3: network.ports and network.hosts (F:3) in one profile: ports means TCP to any host; hosts confines to names: use one"},
		},
		{
			name: "udp beside hosts",
			text: "udp = true\n",
			want: []string{"F:4: network.udp and network.hosts (F:3) in one profile: a cell with hosts reaches no UDP service but its DNS stub: remove udp = true"},
		},
		{
			name: "proxy variables set, passed or taken from the keyring, in any case",
			text: "[env]\nset = { https_proxy = \"http://elsewhere:3128\", No_Proxy = \"*\", NODE_USE_ENV_PROXY = \"0\", PROXY_MODE = \"x\" }\npass = [\"HTTP_PROXY\", \"LANG\"]\n[secrets]\nALL_PROXY = \"proxy\"\n",
			want: []string{
				"F:5: env.set.NODE_USE_ENV_PROXY: the cell sets NODE_USE_ENV_PROXY itself when network.hosts (F:3) is set, to reach mcpcell's proxy: remove it (an upstream proxy goes in mcpcell's own environment)",
				"F:5: env.set.No_Proxy: the cell sets No_Proxy itself when network.hosts (F:3) is set, to reach mcpcell's proxy: remove it (an upstream proxy goes in mcpcell's own environment)",
				"F:5: env.set.https_proxy: the cell sets https_proxy itself when network.hosts (F:3) is set, to reach mcpcell's proxy: remove it (an upstream proxy goes in mcpcell's own environment)",
				"F:6: env.pass: the cell sets HTTP_PROXY itself when network.hosts (F:3) is set, to reach mcpcell's proxy: remove it (an upstream proxy goes in mcpcell's own environment)",
				"F:8: secrets.ALL_PROXY: the cell sets ALL_PROXY itself when network.hosts (F:3) is set, to reach mcpcell's proxy: remove it (an upstream proxy goes in mcpcell's own environment)",
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file, more := filepath.Join(dir, "p.toml"), filepath.Join(dir, "more.toml")
			if c.more != "" {
				write(t, more, "# more\n"+c.more)
			}
			hosts := c.hosts
			if hosts == "" {
				hosts = `"example.com:443"`
			}
			// An include goes before the first table; either way the
			// hosts line is line 3.
			head, text := "# a profile\n", c.text
			if strings.HasPrefix(text, "include") {
				first, rest, _ := strings.Cut(text, "\n")
				head, text = first+"\n", rest
			}
			write(t, file, head+"[network]\nhosts = ["+hosts+"]\n"+text)
			_, err := Load(Options{Profile: file, Getenv: env(nil)})
			at := strings.NewReplacer("F:", file+":", "M:", more+":")
			var want []string
			for _, w := range c.want {
				want = append(want, at.Replace(w))
			}
			if got := strings.Split(fmt.Sprint(err), "\n"); !slices.Equal(got, want) {
				t.Errorf("errors:\n got %q\nwant %q", got, want)
			}
			// The control: without the hosts line, the rest loads.
			write(t, file, head+"[network]\n"+text)
			if _, err := Load(Options{Profile: file, Getenv: env(nil)}); err != nil {
				t.Errorf("without hosts: %v", err)
			}
		})
	}
}

// TestNetworkPresets loads each preset that grants hosts, as --profile
// and as an include beside another (the include = ["node",
// "npm"]), and compiles it: its rules, its cache, nothing else of the
// network.
func TestNetworkPresets(t *testing.T) {
	for _, c := range []struct {
		preset string
		hosts  []string
		write  string // a write grant in the cell's cache, and its variable
		env    string
	}{
		{"npm", []string{"registry.npmjs.org:443"}, "npm", "npm_config_cache"},
		{"pypi", []string{"pypi.org:443", "files.pythonhosted.org:443"}, "uv", "UV_CACHE_DIR"},
		{"github", []string{"api.github.com:443", "github.com:443", "*.githubusercontent.com:443"}, "", ""},
	} {
		t.Run(c.preset, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "proj", FileName)
			write(t, file, "include = [\"node\", \""+c.preset+"\"]\n")
			for _, opts := range []Options{
				{Profile: c.preset, Cwd: filepath.Dir(file)},
				{Profile: file},
			} {
				opts.Getenv = env(map[string]string{"HOME": "/home/u", "XDG_CACHE_HOME": filepath.Join(dir, "cache")})
				p, err := Load(opts)
				if err != nil {
					t.Fatalf("--profile %s: %v", opts.Profile, err)
				}
				cell, err := CompileCell(p, nil)
				if err != nil {
					t.Fatalf("--profile %s: compile: %v", opts.Profile, err)
				}
				var hosts []string
				for _, r := range cell.Hosts {
					hosts = append(hosts, r.String())
					if !strings.HasPrefix(r.From, "preset:"+c.preset+":") {
						t.Errorf("--profile %s: %s from %s, want preset:%s:LINE", opts.Profile, r, r.From, c.preset)
					}
				}
				if !slices.Equal(hosts, c.hosts) {
					t.Errorf("--profile %s: hosts %q, want %q", opts.Profile, hosts, c.hosts)
				}
				if n := cell.Net; len(n.ConnectTCP)+len(n.BindTCP) > 0 || n.UDP || n.Unix || n.Egress != nil {
					t.Errorf("--profile %s: network %+v, want the host rules alone", opts.Profile, n)
				}
				if c.write == "" {
					continue
				}
				cache := filepath.Join(p.Vars["CACHE"], c.write)
				if !slices.ContainsFunc(cell.Grants.Write, func(g sandbox.Grant) bool { return g.Path == cache }) {
					t.Errorf("--profile %s: no write grant on %s in %+v", opts.Profile, cache, cell.Grants.Write)
				}
				if !slices.Contains(cell.Env, c.env+"="+cache) {
					t.Errorf("--profile %s: no %s=%s in %q", opts.Profile, c.env, cache, cell.Env)
				}
			}
		})
	}
}
