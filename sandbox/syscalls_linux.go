//go:build linux && (amd64 || arm64)

package sandbox

import "golang.org/x/sys/unix"

// syscallNumbers maps the names the filter uses to this architecture's
// numbers (x/sys/unix has them per architecture); archSyscalls adds the
// ones only some architectures have.
var syscallNumbers = map[string]uint32{
	"socket":            unix.SYS_SOCKET,
	"io_uring_setup":    unix.SYS_IO_URING_SETUP,
	"io_uring_enter":    unix.SYS_IO_URING_ENTER,
	"io_uring_register": unix.SYS_IO_URING_REGISTER,
	"ptrace":            unix.SYS_PTRACE,
	"process_vm_readv":  unix.SYS_PROCESS_VM_READV,
	"process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
	"add_key":           unix.SYS_ADD_KEY,
	"request_key":       unix.SYS_REQUEST_KEY,
	"keyctl":            unix.SYS_KEYCTL,
	"bpf":               unix.SYS_BPF,
	"perf_event_open":   unix.SYS_PERF_EVENT_OPEN,
	"userfaultfd":       unix.SYS_USERFAULTFD,
	"mount":             unix.SYS_MOUNT,
	"umount2":           unix.SYS_UMOUNT2,
	"pivot_root":        unix.SYS_PIVOT_ROOT,
	"chroot":            unix.SYS_CHROOT,
	"move_mount":        unix.SYS_MOVE_MOUNT,
	"open_tree":         unix.SYS_OPEN_TREE,
	"fsopen":            unix.SYS_FSOPEN,
	"fsmount":           unix.SYS_FSMOUNT,
	"fspick":            unix.SYS_FSPICK,
	"fsconfig":          unix.SYS_FSCONFIG,
	"unshare":           unix.SYS_UNSHARE,
	"setns":             unix.SYS_SETNS,
	"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT,
	"name_to_handle_at": unix.SYS_NAME_TO_HANDLE_AT,
	"init_module":       unix.SYS_INIT_MODULE,
	"finit_module":      unix.SYS_FINIT_MODULE,
	"delete_module":     unix.SYS_DELETE_MODULE,
	"kexec_load":        unix.SYS_KEXEC_LOAD,
	"kexec_file_load":   unix.SYS_KEXEC_FILE_LOAD,
	"reboot":            unix.SYS_REBOOT,
	"swapon":            unix.SYS_SWAPON,
	"swapoff":           unix.SYS_SWAPOFF,
	"acct":              unix.SYS_ACCT,
	"quotactl":          unix.SYS_QUOTACTL,
	"syslog":            unix.SYS_SYSLOG,
	"memfd_secret":      unix.SYS_MEMFD_SECRET,

	// Filtered on their arguments.
	"clone":              unix.SYS_CLONE,
	"clone3":             unix.SYS_CLONE3,
	"memfd_create":       unix.SYS_MEMFD_CREATE,
	"prlimit64":          unix.SYS_PRLIMIT64,
	"setpriority":        unix.SYS_SETPRIORITY,
	"ioprio_set":         unix.SYS_IOPRIO_SET,
	"sched_setaffinity":  unix.SYS_SCHED_SETAFFINITY,
	"sched_setparam":     unix.SYS_SCHED_SETPARAM,
	"sched_setscheduler": unix.SYS_SCHED_SETSCHEDULER,
	"sched_setattr":      unix.SYS_SCHED_SETATTR,
	"migrate_pages":      unix.SYS_MIGRATE_PAGES,
	"move_pages":         unix.SYS_MOVE_PAGES,
}
