package clientconf

import (
	"fmt"
	"maps"
	"slices"
)

// UnwrapOptions says how to unwrap.
type UnwrapOptions struct {
	Mcpcell string // the running executable, also recognised as mcpcell
	Only    []string
	// Profile reads a wrapped entry's profile: its [env] set and its
	// secrets (env name to keyring item of service mcpcell).
	Profile func(path string) (set []KV, secrets map[string]string, err error)
	// Value reads a secret's value, for --restore-secrets; nil keeps
	// secrets in the keyring.
	Value func(item string) (string, error)
	// Origin reads the origin wrap recorded for an item (as
	// WrapOptions.Origin): an item is restored into a config only for the
	// entry it was made for.
	Origin func(item string) (o Origin, found bool, err error)
}

// PlanUnwrap decides what unwrap does with each entry of f. With
// o.Value it brings back the secrets of every selected entry that wrap
// made for it (those its profile takes from the keyring, and markers in
// its env, as a restored backup holds) or fails as a whole: an item that
// cannot be read is an error, so that nothing changes by half, and so is
// (a *Refusal) a marker of an item wrap did not make for its entry. An
// item the profile names that wrap did not make for the entry is not
// written into the config.
func PlanUnwrap(f *File, o UnwrapOptions) ([]*Server, error) {
	var out []*Server
	for _, e := range f.Entries {
		if !selected(o.Only, e.Name) {
			continue
		}
		s := &Server{Entry: e}
		out = append(out, s)
		if e.Invalid != "" {
			s.Action = "left alone: " + e.Invalid
			continue
		}
		// restore reads item for env, if wrap made it for this entry.
		restore := func(env, item string, marker bool) (v string, ok bool, err error) {
			mine, err := madeFor(item, originOf(f, e, env), f, e, o.Origin)
			if err != nil {
				return "", false, err
			}
			if !mine {
				if marker {
					return "", false, foreignMarker(f, e, env, item, o.Origin)
				}
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: the profile takes it from keyring item %s, which wrap did not make for this server: it is not written into the config (the item stays in the keyring); add it yourself if this server should have it", env, item))
				return "", false, nil
			}
			v, err = o.Value(item)
			if err != nil {
				return "", false, fmt.Errorf("%s of %s: %w", env, e.Name, err)
			}
			s.Secrets = append(s.Secrets, Secret{Env: env, Item: item, Value: v, Owned: true})
			return v, true, nil
		}
		// The env entries that stay in the config, with markers resolved.
		var env, shown []KV
		for _, kv := range e.Env {
			item, ok := parseMarker(kv.Value)
			if !ok {
				env, shown = append(env, kv), append(shown, kv)
				continue
			}
			if o.Value == nil {
				env, shown = append(env, kv), append(shown, kv)
				s.Notes = append(s.Notes, fmt.Sprintf("%s is a marker: its value is in the keyring as item %s; --restore-secrets puts it back", kv.Key, item))
				continue
			}
			v, _, err := restore(kv.Key, item, true)
			if err != nil {
				return nil, err
			}
			env, shown = append(env, KV{kv.Key, v}), append(shown, kv)
		}
		profile, project, orig, ok := wrapped(e, o.Mcpcell)
		if !ok {
			if len(s.Secrets) == 0 {
				s.Action = "left alone: not wrapped"
				continue
			}
			s.Action = "restore secrets"
			s.Members, s.Shown = withEnv(e.Members, env, false), withEnv(e.Members, shown, false)
			continue
		}
		s.Action, s.Profile, s.Project = "unwrap", profile, project
		if profile != "" {
			set, secrets, err := o.Profile(profile)
			if err != nil {
				if o.Value != nil {
					return nil, fmt.Errorf("%s: cannot read its profile %s, so its secrets cannot be restored: %w", e.Name, profile, err)
				}
				s.Notes = append(s.Notes, fmt.Sprintf("cannot read the profile %s (%v): its [env] is not restored", profile, err))
			}
			env, shown = append(env, set...), append(shown, set...)
			for _, name := range slices.Sorted(maps.Keys(secrets)) {
				item := secrets[name]
				if o.Value == nil {
					s.Notes = append(s.Notes, fmt.Sprintf("%s stays in the keyring (item %s) and the unwrapped server will not get it; --restore-secrets writes it back into the config", name, item))
					continue
				}
				v, ok, err := restore(name, item, false)
				if err != nil {
					return nil, err
				}
				if ok {
					env, shown = append(env, KV{name, v}), append(shown, KV{name, Marker(item)})
				}
			}
			s.Notes = append(s.Notes, "the profile "+profile+" is left in place")
		}
		unwrapped := make([]Member, 0, len(e.Members))
		for _, m := range e.Members {
			switch m.Name {
			case "command":
				unwrapped = append(unwrapped, Member{"command", mustJSON(e.Args[orig])})
			case "args":
				unwrapped = append(unwrapped, Member{"args", mustJSON(append([]string{}, e.Args[orig+1:]...))})
			default:
				unwrapped = append(unwrapped, m)
			}
		}
		s.Members, s.Shown = withEnv(unwrapped, env, true), withEnv(unwrapped, shown, true)
	}
	return out, nil
}

// withEnv is members with env as the env member: in its place, or (last)
// at the end; none when env is empty.
func withEnv(members []Member, env []KV, last bool) []Member {
	var out []Member
	for _, m := range members {
		if m.Name != "env" {
			out = append(out, m)
		} else if len(env) > 0 && !last {
			out = append(out, Member{"env", envJSON(env)})
		}
	}
	if len(env) > 0 && last {
		out = append(out, Member{"env", envJSON(env)})
	}
	return out
}
