package trust

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mcpcell/mcpcell/internal/utf8cut"
)

// Surface is the pinned surface of one session: the record of its
// profile, project and command, which a Policy asks (it implements
// profiles.Pins). It re-reads the record when a listing starts, so that
// an approval made meanwhile counts, and writes it only when it changes.
type Surface struct {
	store *Store
	name  string
	// review is the command that reviews and approves a change.
	review string
	now    func() time.Time

	mu  sync.Mutex
	rec *SurfaceRecord
	err error // the record could not be read: nothing counts as approved
	// window holds the kinds whose first listing this session began: only
	// its pages approve entries on first sight.
	window map[string]bool
}

// OpenSurface reads the surface record of origin, project and argv; the
// record shows the command as shown (credentials masked: the store is no
// new place for one a client config passes on a command line). review is
// the command a note names for approving a change.
func (s *Store) OpenSurface(origin, project string, argv, shown []string, review string) (*Surface, error) {
	name := SurfaceName(origin, project, argv)
	rec, err := s.ReadSurface(name)
	if err != nil {
		return nil, err
	}
	rec.Origin, rec.Project, rec.Command = origin, project, slices.Clone(shown)
	return &Surface{store: s, name: name, review: review, now: time.Now, rec: rec}, nil
}

// Review is the command that reviews and approves a change.
func (u *Surface) Review() string { return u.review }

// Begin starts a listing of kind: the record is read again. Trust on
// first use lasts one listing: a kind that has entries but no complete
// listing (its first listing never had its last page, or is still going
// on in another session) is established now, and only a listing that
// begins on a kind without entries approves what it sees first.
func (u *Surface) Begin(kind string) error {
	rec, err := u.store.ReadSurface(u.name)
	if err == nil && unsettled(rec.Kinds[kind]) {
		err = u.store.UpdateSurface(u.name, func(r *SurfaceRecord) bool {
			rec = r
			if !unsettled(r.Kinds[kind]) {
				return false
			}
			r.Kinds[kind].Established = true
			return true
		})
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.window, kind)
	if err != nil {
		u.err = err
		return err
	}
	rec.Origin, rec.Project, rec.Command = u.rec.Origin, u.rec.Project, u.rec.Command
	u.rec, u.err = rec, nil
	if s := rec.Kinds[kind]; s == nil || !s.Established && len(s.Approved) == 0 && len(s.Pending) == 0 {
		if u.window == nil {
			u.window = map[string]bool{}
		}
		u.window[kind] = true
	}
	return nil
}

// unsettled reports whether s has entries but is not established.
func unsettled(s *PinSet) bool {
	return s != nil && !s.Established && len(s.Approved)+len(s.Pending) > 0
}

// Approve approves the pending definition canon of name, as the user
// was shown it: a newer version that came meanwhile stays pending.
func (u *Surface) Approve(kind, name string, canon []byte) error {
	key, digest := Sum([]byte(name)), Sum(canon)
	var moved int
	err := u.store.UpdateSurface(u.name, func(r *SurfaceRecord) bool {
		p := r.set(kind).Pending[key]
		if p == nil || p.Digest != digest {
			return false
		}
		moved, _ = r.Approve([]Change{{Kind: kind, Key: key, New: p}})
		return moved > 0
	})
	if err != nil {
		return err
	}
	if moved == 0 {
		return fmt.Errorf("the %s %q is no longer pending in the version shown", kind, utf8cut.Cut(name, maxName))
	}
	return nil
}

// Approved reports whether a call to name may go on when no listing of
// kind has been seen in the session: while the record knows nothing of
// the kind every name may; after that only an approved name, and not one
// whose changed definition is pending.
func (u *Surface) Approved(kind, name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return false
	}
	s := u.rec.Kinds[kind]
	if s == nil || !s.Established && len(s.Approved)+len(s.Pending) == 0 {
		return true
	}
	key := Sum([]byte(name))
	if _, pending := s.Pending[key]; pending {
		return false
	}
	_, ok := s.Approved[key]
	return ok
}

// Judge pins the entries of one page of a listing of kind, each a name
// and its canonical definition (see profiles.Canonical): it returns, for
// each, "" when it is approved, or what makes it pending ("new", or the
// members that changed, as "description, inputSchema"). Only the pages of
// the kind's first listing (one this session began with Begin on a kind
// without entries) approve an entry as it is first seen, and only while
// the record on disk does not say the kind is established; last says the
// page ends a listing, which establishes it. A record that cannot be read
// or written approves nothing new: err says why.
func (u *Surface) Judge(kind string, names []string, canon [][]byte, last bool) ([]string, error) {
	out := make([]string, len(names))
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		for i := range out {
			out[i] = "the trust store cannot be read"
		}
		return out, u.err
	}
	now := u.now().UTC()
	type add struct {
		i        int // the entry's index in names
		key      string
		pin      *Pin
		approved bool
	}
	var adds []add
	s := u.rec.Kinds[kind]
	established := s != nil && s.Established
	open := u.window[kind] && !established
	firstSeen := map[string]string{} // this page's approvals by first sight
	for i, name := range names {
		key, digest := Sum([]byte(name)), Sum(canon[i])
		var old *Pin
		if s != nil {
			old = s.Approved[key]
		}
		switch {
		case old != nil && old.Digest == digest:
			if s.Pending[key] != nil {
				// Changed back: the pending version is no longer listed.
				adds = append(adds, add{i: i, key: key})
			}
			continue
		case old == nil && open && (firstSeen[key] == "" || firstSeen[key] == digest):
			if firstSeen[key] == "" {
				firstSeen[key] = digest
				adds = append(adds, add{i, key, newPin(name, digest, canon[i], now), true})
			}
			continue
		case old == nil && firstSeen[key] != "":
			out[i] = "listed twice, differently"
		case old == nil:
			out[i] = "new"
		default:
			out[i] = changedMembers(old, canon[i])
		}
		if s != nil {
			if p := s.Pending[key]; p != nil && p.Digest == digest {
				continue // already recorded
			}
		}
		adds = append(adds, add{i, key, newPin(name, digest, canon[i], now), false})
	}
	establish := last && !established
	if last {
		delete(u.window, kind)
	}
	if len(adds) == 0 && !establish {
		return out, nil
	}
	var full int
	apply := func(r *SurfaceRecord) bool {
		full = 0
		set := r.set(kind)
		room := maxRecordText - r.kept()
		changed := false
		for _, a := range adds {
			if a.pin == nil {
				if set.Pending[a.key] != nil {
					delete(set.Pending, a.key)
					changed = true
				}
				continue
			}
			if a.approved {
				// Another session may have established the kind, or
				// approved another definition of the name, since this
				// record was read: first sight is over.
				if prev := set.Approved[a.key]; prev != nil && prev.Digest == a.pin.Digest {
					continue
				} else if prev != nil {
					a.approved, out[a.i] = false, changedMembers(prev, canon[a.i])
				} else if set.Established {
					a.approved, out[a.i] = false, "new"
				}
			}
			dst := set.Pending
			if a.approved {
				dst = set.Approved
			}
			if prev := dst[a.key]; prev != nil {
				if prev.Digest == a.pin.Digest {
					continue
				}
				room += prev.kept()
			} else if len(dst) >= MaxEntries {
				full++
				continue
			}
			p := *a.pin
			if p.kept() > room {
				p.Text, p.Members = "", nil
			}
			room -= p.kept()
			dst[a.key] = &p
			if a.approved {
				delete(set.Pending, a.key)
			}
			changed = true
		}
		if establish && !set.Established {
			set.Established, changed = true, true
		}
		return changed
	}
	var applied *SurfaceRecord
	err := u.store.UpdateSurface(u.name, func(r *SurfaceRecord) bool {
		r.Origin, r.Project, r.Command = u.rec.Origin, u.rec.Project, u.rec.Command
		ok := apply(r)
		applied = r
		return ok
	})
	if err != nil {
		// Fail closed: what this page would have approved stays hidden.
		for i, name := range names {
			if out[i] == "" && !u.approvedLocked(kind, name, canon[i]) {
				out[i] = "not recorded in the trust store"
			}
		}
		return out, err
	}
	if applied != nil {
		u.rec = applied
	}
	if full > 0 {
		// An entry that found no room is not approved: hidden.
		set := u.rec.set(kind)
		for i, name := range names {
			if out[i] == "" {
				if p := set.Approved[Sum([]byte(name))]; p == nil || p.Digest != Sum(canon[i]) {
					out[i] = fmt.Sprintf("over the trust store's %d entries", MaxEntries)
				}
			}
		}
	}
	return out, nil
}

// approvedLocked reports whether the record in memory approves this very
// definition.
func (u *Surface) approvedLocked(kind, name string, canon []byte) bool {
	s := u.rec.Kinds[kind]
	if s == nil {
		return false
	}
	p := s.Approved[Sum([]byte(name))]
	return p != nil && p.Digest == Sum(canon)
}
