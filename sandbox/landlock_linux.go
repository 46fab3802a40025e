package sandbox

import (
	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
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
	if abi >= 10 && !net.UDP {
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
		for _, p := range net.BindTCP {
			out = append(out, landlock.BindTCP(p))
		}
	}
	return out
}
