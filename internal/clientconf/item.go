package clientconf

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Origin is the entry a keyring item was made for: the configuration
// file, the table in it, the server and the env variable. wrap records it
// next to each item it stores, in the keyring, which neither a config
// file nor a server in a cell can write; a marker is honoured, and an
// item restored into a config, only for the entry the item was made for.
type Origin struct {
	Client Client `json:"client"`
	Config string `json:"config"`
	Table  string `json:"table"`
	Server string `json:"server"`
	Env    string `json:"env"`
}

// originOf is the origin of an item made for env of entry e of f.
func originOf(f *File, e *Entry, env string) Origin {
	return Origin{Client: f.Client, Config: f.Path, Table: e.Where, Server: e.Name, Env: env}
}

func (o Origin) String() string {
	return fmt.Sprintf("%s of server %q in %s", o.Env, o.Server, o.Config)
}

var unsafeName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })

// itemBase is the keyring item wrap names for an entry's env variable.
func itemBase(c Client, e *Entry, env string) string {
	return strings.ToLower(unsafeName().ReplaceAllString(string(c)+"-"+e.Name+"-"+env, "-"))
}

// derived reports whether item is a name wrap makes from base: base
// itself, or base-N.
func derived(item, base string) bool {
	rest, ok := strings.CutPrefix(item, base)
	if rest == "" {
		return ok
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rest, "-"))
	return ok && strings.HasPrefix(rest, "-") && err == nil && n >= 2
}

// madeFor reports whether wrap made item for the entry want names: the
// name is one wrap makes for it, and the keyring's record of the item's
// origin is want.
func madeFor(item string, want Origin, f *File, e *Entry, origin func(string) (Origin, bool, error)) (bool, error) {
	if !derived(item, itemBase(f.Client, e, want.Env)) || origin == nil {
		return false, nil
	}
	got, found, err := origin(item)
	return found && got == want, err
}

// foreignMarker is the refusal of a marker that wrap did not make for
// the entry it is in.
func foreignMarker(f *File, e *Entry, env, item string, origin func(string) (Origin, bool, error)) error {
	msg := fmt.Sprintf("%s of server %q in %s is the marker of keyring item %s", env, e.Name, f.Path, item)
	if base := itemBase(f.Client, e, env); !derived(item, base) {
		msg += fmt.Sprintf(", which wrap makes for another server or variable (for this one it makes %s or %s-N)", base, base)
	} else {
		var got Origin
		var found bool
		if origin != nil {
			var err error
			if got, found, err = origin(item); err != nil {
				return err
			}
		}
		if found {
			msg += ", which wrap made for " + got.String()
		} else {
			msg += ", and the keyring has no record that wrap made it for this entry"
		}
	}
	return &Refusal{
		Msg:  msg + ": a marker stands only for the item wrap made for that entry of that file, so that a config cannot hand a server another's keyring item",
		Hint: "replace the marker with the credential itself (or remove " + env + ") and run wrap again",
	}
}

// pickItem chooses the keyring item for a credential: the one a kept
// profile takes it from, if wrap made it for this entry (an update of its
// own item) or it is free; else base, or base-2, base-3…, skipping items
// this plan uses and items that hold something else than this value for
// this entry.
func pickItem(f *File, e *Entry, kv KV, kept map[string]string, taken map[string]bool, o WrapOptions) (string, error) {
	base, want := itemBase(f.Client, e, kv.Key), originOf(f, e, kv.Key)
	held := func(item string) (string, bool, error) {
		if o.Held == nil {
			return "", false, nil
		}
		return o.Held(item)
	}
	if it, ok := kept[kv.Key]; ok && derived(it, base) && !taken[it] {
		_, found, err := held(it)
		if err != nil {
			return "", err
		}
		mine, err := madeFor(it, want, f, e, o.Origin)
		if err != nil {
			return "", err
		}
		if !found || mine {
			return it, nil
		}
	}
	for n := 1; n <= 100; n++ {
		item := base
		if n > 1 {
			item = base + "-" + strconv.Itoa(n)
		}
		if taken[item] {
			continue
		}
		v, found, err := held(item)
		if err != nil {
			return "", err
		}
		if !found {
			return item, nil
		}
		if v != kv.Value {
			continue
		}
		mine, err := madeFor(item, want, f, e, o.Origin)
		if err != nil {
			return "", err
		}
		if mine {
			return item, nil
		}
	}
	return "", fmt.Errorf("keyring items %s to %s-100 all hold other values", base, base)
}
