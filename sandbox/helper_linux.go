package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"
	"time"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
	"golang.org/x/sys/unix"
)

// HelperCommand is the hidden subcommand that runs Helper.
const HelperCommand = "__cell"

// Helper is mcpcell's re-executed self: it reads the Spec on fd 3,
// confines itself and execs the server, reporting on fd 4. It returns only
// on failure, with the exit status to use.
//
// With Net.Egress, the helper was started in a user and network namespace
// of its own: first it brings lo up, adds the addresses, binds the
// sockets and sends them to mcpcell on fd 4, while it still holds
// CAP_NET_ADMIN there. A spec of TryNamespace ends the helper there,
// with status 0.
//
// Everything that confines happens on one locked OS thread, the one that
// calls execve: no_new_privs, the parent-death signal, one Landlock
// restriction (filesystem, TCP and scopes together), dropping every
// capability and the seccomp filter. Every other fd is closed by execve.
// The helper was started in a session of its own (see setProcAttr).
func Helper() int {
	runtime.LockOSThread() // never unlocked: this thread becomes the server
	status := os.NewFile(4, "status")
	fail := func(format string, args ...any) int {
		status.Write(encodeReport(report{Error: fmt.Sprintf(format, args...)}))
		return 126
	}
	specFile := os.NewFile(3, "spec")
	if status == nil || specFile == nil {
		fmt.Fprintln(os.Stderr, "mcpcell: error: __cell is internal: mcpcell run starts it")
		return 2
	}
	data, err := io.ReadAll(specFile)
	specFile.Close()
	var spec *Spec
	if err == nil {
		spec, err = decodeSpec(data)
	}
	switch {
	case errors.Is(err, io.EOF):
		return 0 // a prepared helper mcpcell did not need
	case err != nil:
		return fail("reading the cell spec: %v", err)
	}
	start := time.Now()
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0); err != nil {
		return fail("setting the parent-death signal: %v", err)
	}
	// The parent may have died before the signal was armed.
	if os.Getppid() != spec.Parent {
		return fail("mcpcell (pid %d) is gone; not starting the server", spec.Parent)
	}
	if e := spec.Net.Egress; e != nil {
		// A helper started in mcpcell's own network (a prepared one, say)
		// would give the server the host's network.
		if ns := netNamespace(); ns == 0 || ns == spec.hostNet {
			return fail("the cell helper is not in a network namespace of its own; not starting the server")
		}
		fds, err := setUpNamespace(e)
		if err == nil {
			err = sendSockets(status, fds)
			for _, fd := range fds {
				unix.Close(fd) // mcpcell holds them now
			}
		}
		var nsErr *nsError
		if errors.As(err, &nsErr) {
			status.Write(encodeReport(report{NamespaceStep: nsErr.step, Errno: nsErr.errno}))
			return 126
		}
		if err != nil {
			return fail("handing the namespace's sockets to mcpcell: %v", err)
		}
	}
	if spec.tryOnly {
		return 0 // mcpcell check's try: the set-up above worked; nothing is confined or run
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fail("setting no_new_privs: %v", err)
	}
	if err := os.Chdir(spec.Dir); err != nil {
		return fail("entering the working folder: %v", err)
	}
	abi := min(landlockABI(), maxABI)
	if spec.PretendABI > 0 {
		abi = min(abi, spec.PretendABI)
	}
	if abi > 0 {
		cfg := landlockConfig(abi, spec.Net)
		if spec.BestEffort {
			cfg = cfg.BestEffort()
		}
		rules, closeRules, err := pinRules(spec.Rules)
		if err != nil {
			return fail("%v", err)
		}
		fd, flags, err := cfg.NewRulesetFD(landlockRules(cfg, rules, spec.Net)...)
		closeRules()
		if err != nil {
			return fail("building the Landlock ruleset: %v", err)
		}
		if fd >= 0 {
			err = ll.LandlockRestrictSelf(fd, flags)
			unix.Close(fd)
			if err != nil {
				return fail("enforcing the Landlock ruleset: %v", err)
			}
		}
	} else if !spec.BestEffort {
		return fail("this kernel has no Landlock")
	}
	// After the ruleset, whose paths root may need CAP_DAC_READ_SEARCH
	// to open.
	if spec.Unhardened&KeepCapabilities == 0 {
		if err := dropCapabilities(); err != nil {
			return fail("%v", err)
		}
	}
	if !spec.PretendNoSeccomp {
		// The helper's pid is the server's: it execs the server.
		prog, err := seccompFilter(spec.Net, os.Getpid(), spec.Unhardened)
		if err == nil {
			err = loadSeccomp(prog)
		}
		if err != nil && !spec.BestEffort {
			return fail("%v", err)
		}
	}
	// Nothing of mcpcell's leaks into the server: every fd above 2 closes
	// at execve, the status pipe among them.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fail("closing inherited files: %v", err)
	}
	status.Write(encodeReport(report{SetupMicros: time.Since(start).Microseconds(), ABI: abi}))
	err = syscall.Exec(spec.Path, spec.Command, spec.Env)
	return fail("starting %s: %v", spec.Path, err)
}
