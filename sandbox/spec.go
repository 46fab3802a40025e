package sandbox

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/mcpcell/mcpcell/internal/pathwalk"
)

// Grant is one path the profile grants, with where it was written.
type Grant struct {
	Path     string    // as written (variables expanded)
	Resolved string    // symlinks resolved; "" when missing and optional
	Links    []SymLink // the links Resolve met on the way to Resolved
	From     string    // file:line
	Optional bool
	Dir      bool
}

// Access is what a rule on one path allows.
type Access uint8

const (
	Read Access = 1 << iota
	Write
	Exec
)

func (a Access) String() string {
	var parts []string
	for _, x := range []struct {
		bit  Access
		name string
	}{{Read, "read"}, {Write, "write"}, {Exec, "exec"}} {
		if a&x.bit != 0 {
			parts = append(parts, x.name)
		}
	}
	return strings.Join(parts, "+")
}

// PathRule is the access granted beneath one resolved path.
type PathRule struct {
	Path   string
	Access Access
	Dir    bool
}

// Net is what the server may do on the network.
type Net struct {
	ConnectTCP []uint16
	BindTCP    []uint16
	UDP        bool // any UDP
	Unix       bool // UNIX sockets, pathname and abstract
	// Egress, when set, starts the server in a network namespace of its
	// own whose only exits are the sockets Egress lists (see
	// internal/egress): ConnectTCP then reaches nothing else.
	Egress *Egress
}

// Egress is the layout of a cell's own network namespace. The helper
// brings lo up, adds Addrs to it, binds Listen in order and hands the
// sockets to mcpcell (Server.Sockets) before it confines itself.
type Egress struct {
	Addrs  []netip.Addr // beyond 127.0.0.0/8 and ::1, which lo has
	Listen []Listen
}

// Listen is one socket bound inside the namespace: a listening TCP
// socket, or a UDP socket when UDP is set.
type Listen struct {
	Addr netip.AddrPort
	UDP  bool
}

func (l Listen) String() string {
	if l.UDP {
		return "udp " + l.Addr.String()
	}
	return "tcp " + l.Addr.String()
}

// Spec is what the helper applies before it starts the server. It is
// sent to the helper over a pipe, never in argv or the environment.
type Spec struct {
	Command    []string
	Path       string // the resolved server executable
	Dir        string
	Env        []string
	Rules      []PathRule
	Net        Net
	BestEffort bool
	Parent     int // the pid the helper's parent must have
	// PretendABI lowers the Landlock ABI the helper believes in, and
	// PretendNoSeccomp hides seccomp: both only weaken what the kernel
	// has, to test refusals and best-effort cells.
	PretendABI       int
	PretendNoSeccomp bool
	// Unhardened switches parts of the cell off, for tests' controls.
	Unhardened Unhardened

	// hostNet is mcpcell's own network namespace (its inode), which a
	// helper given an Egress must not be in.
	hostNet uint64
	// tryOnly makes the helper exit once the namespace of Net.Egress is
	// set up and its sockets handed over, confining and executing
	// nothing (TryNamespace).
	tryOnly bool
}

// Unhardened switches parts of the cell's hardening off, so that a test
// can show that each part is what stops an attack: the same attempt
// succeeds in a cell without it. mcpcell itself never sets it; only a
// test binary does.
type Unhardened uint8

const (
	KeepCapabilities    Unhardened = 1 << iota // root keeps its capabilities, securebits unlocked
	KeepSession                                // the server stays in mcpcell's session and process group
	AllowOtherProcesses                        // prlimit64, setpriority, sched_set*, … on any pid
	AllowNamespaces                            // clone with CLONE_NEW* flags, and clone3
	AllowExecMemfd                             // memfd_create without MFD_NOEXEC_SEAL
	NoReaper                                   // no reaping of adopted orphans, no process cap
	AllowSetID                                 // set-user-ID and set-group-ID modes on files
)

// report is what the helper tells mcpcell on its status socket.
type report struct {
	Error       string
	SetupMicros int64
	ABI         int
	// NamespaceStep and Errno say which step of the network namespace's
	// set-up failed, and how (Error says both in words).
	NamespaceStep string
	Errno         syscall.Errno
	Sockets       int // the count of sockets sent with this report
}

// Grants is the filesystem part of a profile, before resolution.
type Grants struct {
	Read, Write, Exec []Grant
}

// Resolve checks every granted path and resolves its symlinks. A missing
// path is an error unless it is optional.
func (g *Grants) Resolve() error {
	var errs []error
	for _, list := range [][]Grant{g.Read, g.Write, g.Exec} {
		for i := range list {
			gr := &list[i]
			// One walk gives the resolved path and the links met on the
			// way to it: CheckLinks judges the links of this very
			// resolution, not of another walk a server could race.
			gr.Links = nil
			real, err := pathwalk.Follow(gr.Path, func(at, target string) { gr.Links = append(gr.Links, SymLink{At: at, Target: target}) })
			if err == nil {
				_, err = os.Lstat(real)
			}
			if err != nil {
				if gr.Optional && errors.Is(err, os.ErrNotExist) {
					continue
				}
				errs = append(errs, fmt.Errorf("%s: granted path %s: %w (mark it optional in [filesystem] optional if it may be missing)", gr.From, gr.Path, err))
				continue
			}
			st, err := os.Stat(real)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: granted path %s: %w", gr.From, gr.Path, err))
				continue
			}
			gr.Resolved, gr.Dir = real, st.IsDir()
		}
	}
	return errors.Join(errs...)
}

// Rules merges the grants into one rule per resolved path. Write implies
// read; so does exec, since the kernel opens a file for reading to execve
// it (Landlock asks for READ_FILE as well as EXECUTE).
func (g *Grants) Rules() []PathRule {
	byPath := map[string]*PathRule{}
	for _, x := range []struct {
		list []Grant
		acc  Access
	}{{g.Read, Read}, {g.Write, Write | Read}, {g.Exec, Exec | Read}} {
		for _, gr := range x.list {
			if gr.Resolved == "" {
				continue
			}
			r := byPath[gr.Resolved]
			if r == nil {
				r = &PathRule{Path: gr.Resolved, Dir: gr.Dir}
				byPath[gr.Resolved] = r
			}
			r.Access |= x.acc
		}
	}
	out := make([]PathRule, 0, len(byPath))
	for _, r := range byPath {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// Within reports whether path lies beneath one of the rules with access a.
func Within(rules []PathRule, path string, a Access) bool {
	for _, r := range rules {
		if r.Access&a == 0 {
			continue
		}
		if path == r.Path || strings.HasPrefix(path, r.Path+string(filepath.Separator)) || r.Path == "/" {
			return true
		}
	}
	return false
}
