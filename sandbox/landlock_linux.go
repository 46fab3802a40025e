package sandbox

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// maxABI is the newest Landlock ABI this build knows.
const maxABI = 11

// landlockABI is the kernel's Landlock ABI, 0 without Landlock.
func landlockABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// fsRights is every filesystem right of an ABI.
func fsRights(abi int) landlock.AccessFSSet {
	n := map[int]uint{1: 13, 2: 14, 3: 15, 4: 15, 5: 16, 6: 16, 7: 16, 8: 16}[abi]
	if abi >= 9 {
		n = 17
	}
	return landlock.AccessFSSet(1<<n - 1)
}

const (
	readDir   = ll.AccessFSReadFile | ll.AccessFSReadDir
	writeDir  = readDir | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSRemoveDir | ll.AccessFSRemoveFile | ll.AccessFSMakeDir | ll.AccessFSMakeReg | ll.AccessFSMakeSym | ll.AccessFSMakeSock | ll.AccessFSMakeFifo | ll.AccessFSRefer | ll.AccessFSIoctlDev
	readFile  = ll.AccessFSReadFile
	writeFile = ll.AccessFSReadFile | ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSIoctlDev
	execute   = ll.AccessFSExecute
)

// landlockConfig is the whole cell for one ABI: the filesystem, TCP, and
// the scopes, restricted in one ruleset. Write implies read and
// truncate; exec is its own right (go-landlock's RODirs would add it to
// read).
func landlockConfig(abi int, net Net) landlock.Config {
	c := landlock.Config{HandledAccessFS: fsRights(abi)}
	if abi >= 9 && net.Unix {
		c.HandledAccessFS &^= ll.AccessFSResolveUnix
	}
	if abi >= 4 {
		c.HandledAccessNet = ll.AccessNetBindTCP | ll.AccessNetConnectTCP
	}
	// With Egress, UDP is left to the namespace, which has nothing but
	// lo to send to (the DNS stub is UDP).
	if abi >= 10 && !net.UDP && net.Egress == nil {
		c.HandledAccessNet |= ll.AccessNetBindUDP | ll.AccessNetConnectSendUDP
	}
	if abi >= 6 {
		c.Scoped = ll.ScopeSignal
		if !net.Unix {
			c.Scoped |= ll.ScopeAbstractUnixSocket
		}
	}
	return c
}

// landlockRules turns path rules and ports into go-landlock rules, each
// limited to the rights the config handles.
func landlockRules(c landlock.Config, rules []PathRule, net Net) []landlock.Rule {
	var out []landlock.Rule
	for _, r := range rules {
		var a landlock.AccessFSSet
		switch {
		case r.Dir && r.Access&Write != 0:
			a |= writeDir
		case r.Dir && r.Access&Read != 0:
			a |= readDir
		case r.Access&Write != 0:
			a |= writeFile
		case r.Access&Read != 0:
			a |= readFile
		}
		if r.Access&Exec != 0 {
			a |= execute
		}
		a &= c.HandledAccessFS
		if a != 0 {
			out = append(out, landlock.PathAccess(a, r.Path))
		}
	}
	if c.HandledAccessNet&ll.AccessNetConnectTCP != 0 {
		for _, p := range net.ConnectTCP {
			out = append(out, landlock.ConnectTCP(p))
		}
		// In its own namespace the server connects to the sockets the
		// helper bound: their ports, on whichever address.
		if net.Egress != nil {
			for _, l := range net.Egress.Listen {
				if !l.UDP {
					out = append(out, landlock.ConnectTCP(l.Addr.Port()))
				}
			}
		}
		for _, p := range net.BindTCP {
			out = append(out, landlock.BindTCP(p))
		}
	}
	return out
}

// pinRules opens each rule's path without following any symbolic link
// (openat2 RESOLVE_NO_SYMLINKS) and returns the rules with each path
// named through its descriptor (/proc/self/fd/N), which go-landlock's
// open follows to that very file. mcpcell resolved the paths and refused
// a grant through a link a server could have made, but a server of
// another session of the cell may swap a folder for a link after that
// check: the rule is then bound to what the check saw, or the start
// fails. closeAll closes the descriptors once the ruleset is built.
func pinRules(rules []PathRule) (pinned []PathRule, closeAll func(), err error) {
	var fds []int
	closeAll = func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	pinned = make([]PathRule, 0, len(rules))
	for _, r := range rules {
		fd, err := unix.Openat2(unix.AT_FDCWD, r.Path, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS})
		if errors.Is(err, unix.ELOOP) {
			closeAll()
			return nil, nil, fmt.Errorf("the granted path %s passes through a symbolic link that was not there when mcpcell checked it (a server that can write there may have made it); remove the link", r.Path)
		}
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("opening the granted path %s: %w", r.Path, err)
		}
		fds = append(fds, fd)
		r.Path = "/proc/self/fd/" + strconv.Itoa(fd)
		pinned = append(pinned, r)
	}
	return pinned, closeAll, nil
}
