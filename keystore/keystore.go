package keystore

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// Service is the keyring service of mcpcell's own items.
const Service = "mcpcell"

// MinLength is the shortest secret mcpcell accepts: shorter values could
// not be redacted without replacing unrelated text.
const MinLength = 8

// Numeric reports whether v is a number, or has a line of MinLength
// bytes or more that is one (each such line of a value is redacted on its
// own). A server can send a number back as a JSON number in spellings no
// redactor can list (1234, 1234.0, 1.234e3 are one number; and a redactor
// reads strings, not numbers), so mcpcell refuses such a value as a
// secret.
func Numeric(v string) bool { return numberIn(v) != "" }

// number reports whether v is a number, read as a JSON parser reads one
// written without quotes: digits with a sign, a decimal point or an
// exponent; white space around.
func number(v string) bool {
	s := strings.TrimSpace(v)
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits := func(i int) int {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i
	}
	i := digits(0)
	n := i
	if i < len(s) && s[i] == '.' {
		j := digits(i + 1)
		n += j - i - 1
		i = j
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(s)
}

// numberIn says how v is a number: "" when it is not; else "is a number"
// or "has a line that is a number".
func numberIn(v string) string {
	if number(v) {
		return "is a number"
	}
	if strings.Contains(v, "\n") {
		for _, line := range strings.Split(v, "\n") {
			if line = strings.TrimRight(line, "\r"); len(line) >= MinLength && number(line) {
				return "has a line that is a number"
			}
		}
	}
	return ""
}

// numberHint is what to do with a number the server needs.
const numberHint = "a number cannot be redacted; if the server needs it anyway, give it with [env] set or pass in the profile, knowing mcpcell does not redact it there"

// Ref names a keyring item: service and user (account).
type Ref struct {
	Service, User string
}

func (r Ref) String() string {
	if r.Service == Service {
		return fmt.Sprintf("%q", r.User)
	}
	return fmt.Sprintf("%q (service %s)", r.User, r.Service)
}

// Secret is a resolved credential. Its value leaves only through Value.
type Secret struct {
	Name  string // the environment variable it fills
	value string
}

// New wraps a value.
func New(name, value string) Secret { return Secret{Name: name, value: value} }

// Value returns the credential itself.
func (s Secret) Value() string { return s.value }

func (s Secret) String() string { return "[secret " + s.Name + "]" }

// GoString keeps %#v safe too.
func (s Secret) GoString() string { return s.String() }

// Format prints the name for every verb, so %v, %+v, %#v, %s and %q are
// all safe.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, s.String()) }

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Store is a keyring: the OS keyring, or another in tests.
type Store interface {
	Get(Ref) (string, error)
	Set(Ref, string) error
	Delete(Ref) error
}

// Error is a keyring failure a user can fix; Hint says how.
type Error struct {
	Msg, Hint string
	Err       error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound is a missing item.
var ErrNotFound = errors.New("not in the keyring")

// timeout bounds the wait for the keyring: a Secret Service being
// activated, or an unlock prompt nobody can see, would hold run for
// minutes.
const timeout = 20 * time.Second

// Resolve reads every reference at once, concurrently. name is the
// environment variable each fills. All failures are reported together;
// past timeout the keyring's silence is one.
func Resolve(store Store, refs map[string]Ref) (map[string]Secret, error) {
	type result struct {
		secrets map[string]Secret
		err     error
	}
	done := make(chan result, 1)
	go func() {
		s, err := resolve(store, refs)
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.secrets, r.err
	case <-time.After(timeout):
		return nil, &Error{Msg: fmt.Sprintf("the keyring did not answer within %v: a Secret Service may be starting, or an unlock prompt waiting where nobody sees it", timeout), Hint: "unlock the keyring in your desktop session (or: gnome-keyring-daemon --unlock), then try again"}
	}
}

func resolve(store Store, refs map[string]Ref) (map[string]Secret, error) {
	out := make(map[string]Secret, len(refs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	for name, ref := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := store.Get(ref)
			if err == nil && len(v) < MinLength {
				err = &Error{Msg: fmt.Sprintf("secret %s for %s is shorter than %d bytes, too short to redact without false matches", ref, name, MinLength), Hint: "store a longer value: mcpcell secret set " + ref.User}
			}
			if how := numberIn(v); err == nil && how != "" {
				err = &Error{Msg: fmt.Sprintf("secret %s for %s %s, which the server could send back as a JSON number in a spelling redaction cannot find (1234.0, 1.234e3)", ref, name, how), Hint: numberHint}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			out[name] = New(name, v)
		}()
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return out, errors.Join(errs...)
}

// Hint returns the fix for err, or "".
func Hint(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Hint
	}
	return ""
}

// indexUser is the item that lists the names of mcpcell's items: the
// keyring cannot enumerate them.
const indexUser = ".mcpcell-index"

// Names lists the items mcpcell has stored (never their values).
func Names(store Store) ([]string, error) {
	v, err := store.Get(Ref{Service, indexUser})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range strings.Split(v, "\n") {
		if n != "" {
			out = append(out, n)
		}
	}
	return out, nil
}

// Put stores value as item name of mcpcell's own service and lists it.
func Put(store Store, name, value string) error {
	if value == "" {
		return &Error{Msg: "refusing an empty secret", Hint: "type or pipe the value"}
	}
	if len(value) < MinLength {
		return &Error{Msg: fmt.Sprintf("refusing a secret shorter than %d bytes: it could not be redacted from the server's output without false matches", MinLength), Hint: "store the real credential, which is longer"}
	}
	if how := numberIn(value); how != "" {
		return &Error{Msg: fmt.Sprintf("refusing a secret that %s: a server could send it back as a JSON number (1234, 1234.0 and 1.234e3 are one number), which redaction cannot find in every spelling", how), Hint: numberHint}
	}
	if err := checkName(name); err != nil {
		return err
	}
	if err := store.Set(Ref{Service, name}, value); err != nil {
		return err
	}
	return editIndex(store, name, true)
}

// Remove deletes item name and unlists it.
func Remove(store Store, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := store.Delete(Ref{Service, name})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if ierr := editIndex(store, name, false); ierr != nil {
		return ierr
	}
	return err
}

func checkName(name string) error {
	if name == "" || name == indexUser || strings.ContainsAny(name, "\n\x00") {
		return &Error{Msg: fmt.Sprintf("%q is not a usable secret name", name), Hint: "use a plain name such as github"}
	}
	return nil
}

func editIndex(store Store, name string, add bool) error {
	names, err := Names(store)
	if err != nil {
		return err
	}
	var kept []string
	for _, n := range names {
		if n != name {
			kept = append(kept, n)
		}
	}
	if add {
		kept = append(kept, name)
	}
	sort.Strings(kept)
	if len(kept) == 0 {
		err := store.Delete(Ref{Service, indexUser})
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return store.Set(Ref{Service, indexUser}, strings.Join(kept, "\n"))
}
