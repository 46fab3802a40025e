package profiles

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/egress"
)

// apply adds one file's settings: lists append, scalars and map keys set
// later win.
func (p *Profile) apply(f *File, at func(string) Source) error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{At: at(key), Msg: key + ": " + fmt.Sprintf(format, args...)})
	}
	add := func(dst *[]Entry, key string, vals []string) {
		for _, v := range vals {
			*dst = append(*dst, Entry{Value: v, From: at(key)})
		}
	}
	if len(f.Server.Command) > 0 {
		p.Command = f.Server.Command
	}
	if f.Server.Cwd != "" {
		p.Cwd = f.Server.Cwd
	}
	lists := map[string][]string{"filesystem.read": f.Filesystem.Read, "filesystem.write": f.Filesystem.Write, "filesystem.exec": f.Filesystem.Exec, "filesystem.optional": f.Filesystem.Optional}
	for _, key := range slices.Sorted(maps.Keys(lists)) {
		for _, v := range lists[key] {
			if !filepath.IsAbs(v) {
				bad(key, "%s", notAbsolute(v, "${PROJECT}/…"))
			}
		}
	}
	add(&p.Read, "filesystem.read", f.Filesystem.Read)
	add(&p.Write, "filesystem.write", f.Filesystem.Write)
	add(&p.Exec, "filesystem.exec", f.Filesystem.Exec)
	add(&p.Optional, "filesystem.optional", f.Filesystem.Optional)
	for _, v := range f.Network.Hosts {
		from := at("network.hosts")
		r, err := egress.ParseRule(v, from.String())
		if err != nil {
			bad("network.hosts", "%v", err)
			continue
		}
		// One rule, however often written: the first place that wrote it
		// is the one shown.
		if !slices.ContainsFunc(p.Hosts, func(e Entry) bool { return e.Value == r.String() }) {
			p.Hosts = append(p.Hosts, Entry{Value: r.String(), From: from})
		}
	}
	portLists := map[string][]int{"network.ports": f.Network.Ports, "network.bind": f.Network.Bind}
	for _, key := range slices.Sorted(maps.Keys(portLists)) {
		ports := portLists[key]
		dst := &p.Ports
		if key == "network.bind" {
			dst = &p.Bind
		}
		for _, n := range ports {
			if n < 1 || n > 65535 {
				bad(key, "port %d is outside 1–65535", n)
				continue
			}
			*dst = append(*dst, Entry{Value: fmt.Sprint(n), From: at(key)})
		}
	}
	if f.Network.UDP != nil {
		p.UDP, p.udpFrom = *f.Network.UDP, at("network.udp")
	}
	if f.Network.Unix != nil {
		p.Unix = *f.Network.Unix
	}
	for _, n := range f.Env.Pass {
		if !envName().MatchString(n) {
			bad("env.pass", "%q is not an environment variable name", n)
		}
	}
	add(&p.EnvPass, "env.pass", f.Env.Pass)
	for _, k := range slices.Sorted(maps.Keys(f.Env.Set)) {
		if !envName().MatchString(k) {
			bad("env.set", "%q is not an environment variable name", k)
		}
		p.EnvSet[k] = Entry{Value: f.Env.Set[k], From: at("env.set." + k)}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Secrets)) {
		key := "secrets." + k
		if !envName().MatchString(k) {
			bad(key, "%q is not an environment variable name", k)
			continue
		}
		switch v := f.Secrets[k].(type) {
		case string:
			if v == "" {
				bad(key, "empty keyring item name")
				continue
			}
			p.Secrets[k] = SecretRef{Service: "mcpcell", User: v, From: at(key)}
		case map[string]any:
			svc, _ := v["service"].(string)
			user, _ := v["user"].(string)
			if svc == "" || user == "" || len(v) != 2 {
				bad(key, `a keyring reference is "item" or { service = "…", user = "…" }`)
				continue
			}
			p.Secrets[k] = SecretRef{Service: svc, User: user, From: at(key)}
		default:
			bad(key, `a keyring reference is "item" or { service = "…", user = "…" }`)
		}
	}
	for _, r := range []struct {
		key   string
		dst   *Rules
		allow []string
		deny  []string
		uri   bool
	}{
		{"tools", &p.Tools, f.Tools.Allow, f.Tools.Deny, false},
		{"resources", &p.Resources, f.Resources.Allow, f.Resources.Deny, true},
		{"prompts", &p.Prompts, f.Prompts.Allow, f.Prompts.Deny, false},
	} {
		globs := map[string][]string{"allow": r.allow, "deny": r.deny}
		for _, verb := range slices.Sorted(maps.Keys(globs)) {
			for _, g := range globs[verb] {
				if _, err := compileGlob(g, r.uri); err != nil {
					bad(r.key+"."+verb, "%v", err)
				}
			}
		}
		if r.allow != nil {
			r.dst.AllowSet = true
		}
		add(&r.dst.Allow, r.key+".allow", r.allow)
		add(&r.dst.Deny, r.key+".deny", r.deny)
	}
	for _, tool := range slices.Sorted(maps.Keys(f.Tools.Args)) {
		// Messages name keys as TOML writes them: tools.args."read_*".path.
		key := dotted("tools", "args", tool)
		if _, err := compileGlob(tool, false); err != nil {
			errs = append(errs, &Error{At: at(key), Msg: key + ": " + err.Error()})
			continue
		}
		set, ok := p.ToolArgs[tool]
		if !ok {
			set = ArgRules{Args: map[string]ArgRule{}}
		}
		set.From = at(key)
		for _, arg := range slices.Sorted(maps.Keys(f.Tools.Args[tool])) {
			rule := f.Tools.Args[tool][arg]
			argKey := key + "." + tomlKey(arg)
			if err := checkArgRule(rule); err != nil {
				errs = append(errs, &Error{At: at(argKey), Msg: argKey + ": " + err.Error()})
				continue
			}
			rule.From = at(argKey)
			set.Args[arg] = rule
		}
		p.ToolArgs[tool] = set
	}
	if pin := f.Tools.Pin; pin != nil {
		p.Unpinned = Source{}
		if !*pin {
			p.Unpinned = at("tools.pin")
		}
	}
	for _, c := range []struct {
		v   *bool
		dst *bool
	}{{f.Client.Sampling, &p.Sampling}, {f.Client.Elicitation, &p.Elicitation}, {f.Client.Roots, &p.Roots}} {
		if c.v != nil {
			*c.dst = *c.v
		}
	}
	for _, n := range f.Client.Names {
		if n == "" {
			bad("client.names", "empty client name")
		}
	}
	p.ClientNames = append(p.ClientNames, f.Client.Names...)
	if f.Limits.MaxFrame != 0 {
		if f.Limits.MaxFrame < 1024 || f.Limits.MaxFrame > 1<<30 {
			bad("limits.max_frame", "%d is outside 1024 bytes to 1 GiB", f.Limits.MaxFrame)
		}
		p.MaxFrame = f.Limits.MaxFrame
	}
	if f.Audit.Path != "" {
		if !filepath.IsAbs(f.Audit.Path) {
			bad("audit.path", "%s", notAbsolute(f.Audit.Path, ""))
		}
		p.AuditPath = f.Audit.Path
	}
	if f.Audit.MaxSize != nil {
		if n, err := byteSize(f.Audit.MaxSize); err != nil {
			bad("audit.max_size", "%v", err)
		} else if n < audit.MinMaxSize || n > maxAuditSize {
			bad("audit.max_size", "%s is outside 64KiB to 1TiB", humanBytes(f.Audit.MaxSize))
		} else {
			p.AuditMaxSize = n
		}
	}
	if f.Audit.Keep != nil {
		if k := *f.Audit.Keep; k < 1 || k > 1000 {
			bad("audit.keep", "%d is outside 1 to 1000 (the rotated files kept besides the current one)", k)
		} else {
			p.AuditKeep = k
		}
	}
	if f.Sandbox.BestEffort != nil {
		p.BestEffort = *f.Sandbox.BestEffort
	}
	if f.Sandbox.Required != nil {
		p.Required = *f.Sandbox.Required
	}
	if n := f.Sandbox.MaxProcesses; n != nil {
		// A server needs a few threads of its own (node starts 7); the
		// top is the kernel's own limit on pids.
		if *n < MinMaxProcesses || *n > 1<<22 {
			bad("sandbox.max_processes", "%d is outside %d to %d", *n, MinMaxProcesses, 1<<22)
		} else {
			p.MaxProcesses, p.MaxProcessesFrom = *n, at("sandbox.max_processes")
		}
	}
	return errors.Join(errs...)
}

// maxAuditSize is the largest [audit] max_size.
const maxAuditSize = 1 << 40

// byteSize reads a size: a whole number of bytes, or a string of one with
// a unit, binary (KiB, MiB, GiB, TiB) or decimal (kB, MB, GB, TB).
func byteSize(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		m := sizeText().FindStringSubmatch(v)
		if m == nil {
			return 0, fmt.Errorf("%q is not a size: write bytes (65536) or a number and a unit, as \"64MiB\" (B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)", v)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := sizeUnits[strings.ToLower(m[2])]
		if err != nil || n > maxAuditSize/unit {
			return 0, fmt.Errorf("%q is outside 64KiB to 1TiB", v)
		}
		return n * unit, nil
	}
	return 0, fmt.Errorf("wrong type: want a whole number of bytes or a string such as \"64MiB\", got %s", tomlTypeName(v))
}

var (
	sizeText  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*([0-9]+)\s*((?i:[kmgt]i?b|b)?)\s*$`) })
	sizeUnits = map[string]int64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
)

// humanBytes writes a size as the profile did.
func humanBytes(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// shellVar is a shell's $NAME at the start of a path (the braced form
// is the profile's own, which expand handles).
var shellVar = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)`) })

var envName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`) })

// notAbsolute says that a path of the profile is not absolute, and what
// to write instead: ${HOME} for a ~ or $HOME, which no shell expands in a
// profile; else use ("" for nothing).
func notAbsolute(v, use string) string {
	if rest, ok := strings.CutPrefix(v, "~"); ok {
		if rest == "" || strings.HasPrefix(rest, "/") {
			return fmt.Sprintf("%q is not an absolute path: a profile does not expand ~ (use \"${HOME}%s\")", v, rest)
		}
		return fmt.Sprintf("%q is not an absolute path: a profile does not expand ~user (give the folder's absolute path)", v)
	}
	if m := shellVar().FindStringSubmatch(v); m != nil {
		name, rest := m[1], v[len(m[0]):]
		if rest == "" || strings.HasPrefix(rest, "/") {
			if slices.Contains(varNames(), name) {
				return fmt.Sprintf("%q is not an absolute path: a profile does not expand $%s (use \"${%s}%s\", with braces)", v, name, name, rest)
			}
			return fmt.Sprintf("%q is not an absolute path: a profile does not expand $%s nor any environment variable (give the absolute path, or use one of ${%s})", v, name, strings.Join(varNames(), "}, ${"))
		}
	}
	if use == "" {
		return fmt.Sprintf("%q is not an absolute path", v)
	}
	return fmt.Sprintf("%q is not an absolute path (use %s)", v, use)
}
