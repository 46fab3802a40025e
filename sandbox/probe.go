package sandbox

import (
	"fmt"
	"runtime"
	"strings"
)

// NeedABI is the Landlock ABI a full cell needs: TCP rules (4), device
// ioctl (5) and the signal and abstract-socket scopes (6).
const NeedABI = 6

// Kernel is what the running kernel offers a cell.
type Kernel struct {
	OS          string
	Release     string
	LandlockABI int
	Seccomp     bool
	Arch        string // "" when the seccomp filter supports this architecture
}

// Gap is one thing a cell on this kernel would not enforce.
type Gap struct {
	What  string // what is not enforced
	Needs string // what would enforce it
	For   string // the profile setting that relies on it
}

func (g Gap) String() string { return fmt.Sprintf("%s (needs %s; %s)", g.What, g.Needs, g.For) }

// Gaps lists what a cell with net would not enforce on k. Ports names the
// profile lines that grant TCP ports, for the message.
func (k Kernel) Gaps(net Net, portsFrom string) []Gap {
	if k.OS != "linux" {
		return []Gap{{What: "no confinement at all", Needs: "Linux (Landlock and seccomp)", For: "every [filesystem] and [network] rule"}}
	}
	var gaps []Gap
	abi := k.LandlockABI
	if abi < 1 {
		gaps = append(gaps, Gap{"the filesystem rules", "Landlock ABI 1", "[filesystem]"})
	}
	// Before ABI 3 Landlock does not handle truncate(2) and ftruncate:
	// any file the server's user may write can be emptied.
	if abi >= 1 && abi < 3 {
		gaps = append(gaps, Gap{"truncating files outside the write grants", "Landlock ABI 3", "[filesystem]"})
	}
	// A cell with Egress has no route but to mcpcell's relay, whatever
	// Landlock says of TCP.
	if abi < 4 && net.Egress == nil {
		what := "the default of no TCP"
		if portsFrom != "" {
			what = "TCP port rules (" + portsFrom + ")"
		}
		gaps = append(gaps, Gap{what + ": the server could connect and listen anywhere", "Landlock ABI 4", "[network]"})
	}
	if abi >= 1 && abi < 5 {
		gaps = append(gaps, Gap{"ioctl on devices", "Landlock ABI 5", "[filesystem]"})
	}
	if abi < 6 {
		gaps = append(gaps, Gap{"signals to processes outside the cell, and abstract UNIX sockets", "Landlock ABI 6", "the cell's scopes"})
	}
	if !k.Seccomp || k.Arch != "" {
		why := "seccomp"
		if k.Arch != "" {
			why = "seccomp on x86-64 or arm64 (this is " + k.Arch + ")"
		}
		gaps = append(gaps, Gap{"UDP, raw, packet, Multipath TCP and UNIX sockets, io_uring, ptrace, the kernel keyring calls, calls on other processes (prlimit64, setpriority, …), namespaces and executable memfds", why, "[network] and the cell's syscall filter"})
	}
	return gaps
}

// Describe says in one line what the kernel offers.
func (k Kernel) Describe() string {
	sec := "seccomp available"
	if !k.Seccomp {
		sec = "no seccomp"
	} else if k.Arch != "" {
		sec = "seccomp filter unsupported on " + k.Arch
	}
	if k.OS != "linux" {
		return fmt.Sprintf("%s: no Landlock, no seccomp", k.OS)
	}
	ll := fmt.Sprintf("Landlock ABI %d", k.LandlockABI)
	if k.LandlockABI == 0 {
		ll = "no Landlock"
	}
	return fmt.Sprintf("kernel %s (%s), %s, %s", k.Release, runtime.GOARCH, ll, sec)
}

// Summary joins gaps for one stderr line.
func Summary(gaps []Gap) string {
	parts := make([]string, len(gaps))
	for i, g := range gaps {
		parts[i] = g.String()
	}
	return strings.Join(parts, "; ")
}

// Denied is what the seccomp filter always refuses (EPERM), beside the
// socket families and types the profile does not grant: what Landlock ABI 7
// does not cover, and what would let a root server leave the cell.
var Denied = []string{
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"ptrace", "process_vm_readv", "process_vm_writev",
	"add_key", "request_key", "keyctl",
	"bpf", "perf_event_open", "userfaultfd",
	"mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount", "fspick", "fsconfig",
	"unshare", "setns",
	"open_by_handle_at", "name_to_handle_at",
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"reboot", "swapon", "swapoff", "acct", "quotactl", "syslog",
	"iopl", "ioperm", "memfd_secret",
}

// OwnProcessOnly are the calls the seccomp filter allows on the caller's
// own process only (pid 0, or the server's pid), and for setpriority and
// ioprio_set on its own process group, never on a user's processes: what
// would let the server change the limits, priorities, CPUs and memory
// placement of mcpcell and every other process of the user (a CPU limit
// of one second kills), which neither Landlock's scopes nor, for a
// process of the same user, the kernel's permission checks prevent.
var OwnProcessOnly = []string{
	"prlimit64", "setpriority", "ioprio_set",
	"sched_setaffinity", "sched_setparam", "sched_setscheduler", "sched_setattr",
	"migrate_pages", "move_pages",
}

// Filtered says what else the seccomp filter refuses, by the calls'
// arguments.
var Filtered = []string{
	"clone with any CLONE_NEW* flag (new namespaces)",
	"clone3 (ENOSYS, so that libc and Go fall back to clone, whose flags the filter can read)",
	"memfd_create without MFD_NOEXEC_SEAL (a memfd the cell could execute)",
}
