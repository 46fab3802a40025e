package profiles

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ArgRules are the argument constraints written under one [tools.args]
// key: a glob of tool names, as in [tools] allow.
type ArgRules struct {
	From Source             // the key's line
	Args map[string]ArgRule // by argument name
}

// argKey is one [tools.args] key, compiled: every tool whose name it
// matches gets its constraints.
type argKey struct {
	key    string
	from   Source
	re     *keyGlob // matches the names with the key of a name the key glob matches
	checks []argCheck
}

// compileArgs builds the [tools.args] checks. A key that can name no tool
// the client may call is an error: the constraint would guard nothing.
func compileArgs(p *Profile) ([]argKey, error) {
	var keys []argKey
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(p.ToolArgs)) {
		set := p.ToolArgs[key]
		// A key applies to every name with the key of a name it matches:
		// a server may look tools up mapping case or normalising.
		re, err := compileKeyGlob(key, false)
		if err == nil {
			err = p.Tools.namesNone(key)
		}
		if err != nil {
			errs = append(errs, &Error{At: set.From, Msg: "tools.args." + tomlKey(key) + ": " + err.Error()})
			continue
		}
		k := argKey{key: key, from: set.From, re: re}
		for _, arg := range slices.Sorted(maps.Keys(set.Args)) {
			r := set.Args[arg]
			c := argCheck{
				arg: arg, spec: r, within: r.Within, enum: enumValues(r.Enum), maxLen: r.MaxLen, pattern: r.Match,
				rule: fmt.Sprintf("tools.args.%s.%s (%s)", tomlKey(key), tomlKey(arg), r.From),
			}
			if r.Match != "" {
				c.match = regexp.MustCompile(`^(?:` + r.Match + `)$`)
			}
			k.checks = append(k.checks, c)
		}
		keys = append(keys, k)
	}
	if len(errs) > 0 {
		// In the order they were written, not the order of the keys.
		slices.SortStableFunc(errs, func(a, b error) int {
			x, y := a.(*Error).At, b.(*Error).At
			return cmp.Or(strings.Compare(x.File, y.File), x.Line-y.Line)
		})
		return nil, errors.Join(errs...)
	}
	return keys, nil
}

// namesNone says why a [tools.args] key names no tool these rules let
// the client call, or returns nil. With [tools] allow absent every name
// is allowed; otherwise some name must match both the key and an allow
// glob. A key is also refused when a deny glob hides every name it
// matches (decided for literal names, a deny equal to the key, and a
// deny of only stars).
func (r Rules) namesNone(key string) error {
	if r.AllowSet {
		met := false
		for _, a := range r.Allow {
			if globsMeet(key, a.Value) {
				met = true
				break
			}
		}
		if !met {
			allow := "none"
			if len(r.Allow) > 0 {
				var vals []string
				for _, a := range r.Allow {
					vals = append(vals, a.Value)
				}
				allow = strings.Join(quoteAll(vals), ", ")
			}
			return fmt.Errorf("no [tools] allow pattern admits it (allow: %s)", allow)
		}
	}
	for _, d := range r.Deny {
		if globCovers(d.Value, key) {
			return fmt.Errorf("[tools] deny %q (%s) hides every tool it names", d.Value, d.From)
		}
	}
	return nil
}

// AppliedArg is one constraint as it applies to the tools a pattern names.
type AppliedArg struct {
	Arg  string  // the argument
	Key  string  // the [tools.args] key that wrote it
	Rule ArgRule //
	// Partly: the key names some of the pattern's tools, maybe not all;
	// the constraint applies to those whose names the key also matches.
	Partly bool
}

// ToolArgs is what `check` shows of [tools.args]: for each pattern of
// tools the client may call (each [tools] allow glob, or each key when
// allow is absent), the constraints that apply, by argument name.
type ToolArgs struct {
	Tool string
	Args []AppliedArg
}

// ArgsPerTool lists, per tool pattern, the [tools.args] constraints that
// apply to the tools it names.
func (p *Profile) ArgsPerTool() []ToolArgs {
	var tools []string
	if p.Tools.AllowSet {
		for _, a := range p.Tools.Allow {
			tools = append(tools, a.Value)
		}
	} else {
		tools = slices.Sorted(maps.Keys(p.ToolArgs))
	}
	var out []ToolArgs
	seen := map[string]bool{}
	for _, tool := range tools {
		if seen[tool] {
			continue
		}
		seen[tool] = true
		t := ToolArgs{Tool: tool}
		for _, key := range slices.Sorted(maps.Keys(p.ToolArgs)) {
			if !globsMeet(key, tool) {
				continue
			}
			set := p.ToolArgs[key]
			for _, arg := range slices.Sorted(maps.Keys(set.Args)) {
				t.Args = append(t.Args, AppliedArg{Arg: arg, Key: key, Rule: set.Args[arg], Partly: !globCovers(key, tool)})
			}
		}
		out = append(out, t)
	}
	return out
}

// tomlKey writes k as a TOML key: bare when it can be, quoted otherwise.
func tomlKey(k string) string {
	if k != "" && strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == "" {
		return k
	}
	return strconv.Quote(k)
}
