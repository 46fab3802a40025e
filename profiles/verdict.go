package profiles

import "fmt"

// EntryVerdict is what a list filter decided on one entry of a server's
// listing (see Policy.Entry).
type EntryVerdict struct {
	Shown bool   // the client is shown the entry
	Rule  string // the rule that decided, with its file:line
	// Pinned says the rules allow the entry but pinning withheld it: it
	// changed since the user trusted the tool surface.
	Pinned bool
}

// Entry decides on the entry name of a list as the list filters do:
// field is the list's member ("tools", "prompts", "resources",
// "resourceTemplates") and name the entry's name, URI or URI template.
// The rules are the filters' own; pinning is asked as a call would ask
// it, so ask after the session's listing of field, whose page judged the
// entry. It does not ask whether a listing cap or a stale page withheld
// the entry: what the client got says that.
func (p *Policy) Entry(field, name string) (EntryVerdict, error) {
	var rs *ruleSet
	kind := plainName
	switch field {
	case "tools":
		rs = &p.tools
	case "prompts":
		rs = &p.prompts
	case "resources":
		rs, kind = &p.resources, uriName
	case "resourceTemplates":
		rs, kind = &p.resources, templateName
	default:
		return EntryVerdict{}, fmt.Errorf("no list %q", field)
	}
	shown, rule := rs.entry(&lazyKey{name: name}, kind)
	if !shown || field == "resources" {
		return EntryVerdict{Shown: shown, Rule: rule}, nil
	}
	if ok, why := p.pinnedCall(field, name); !ok {
		return EntryVerdict{Rule: why, Pinned: true}, nil
	}
	return EntryVerdict{Shown: true, Rule: rule}, nil
}

// ArgConstraint is one [tools.args] constraint on an argument of a tool.
type ArgConstraint struct {
	Key  string  // the [tools.args] key (a glob of tool names) that wrote it
	Arg  string  // the argument
	Rule ArgRule // the constraint, with where it was written
	// Name is the rule as a refusal and the audit log name it:
	// tools.args.KEY.ARG (file:line).
	Name string
}

// ArgsFor lists the [tools.args] constraints a call to tool is checked
// against, matched as a call matches them, in the order they are checked.
func (p *Policy) ArgsFor(tool string) []ArgConstraint {
	var out []ArgConstraint
	k := lazyKey{name: tool}
	for i := range p.args {
		key := &p.args[i]
		if !key.re.match(k.get()) {
			continue
		}
		for _, c := range key.checks {
			out = append(out, ArgConstraint{Key: key.key, Arg: c.arg, Rule: c.spec, Name: c.rule})
		}
	}
	return out
}
