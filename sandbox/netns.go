package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// NamespaceError says why the cell's own network namespace (Net.Egress)
// could not be made or set up. The cell never falls back to the host's
// network: the server is not started.
type NamespaceError struct {
	Step  string // "creating the namespace", "bringing lo up", …
	Err   error  // the errno, or what else went wrong
	Cause string // what is true, in words; "" when nothing more is known
	fix   string
}

func (e *NamespaceError) Error() string {
	msg := "the server's own network namespace (for [network] hosts): " + e.Step + ": " + e.Err.Error()
	if e.Cause != "" {
		msg += ": " + e.Cause
	}
	return msg
}

func (e *NamespaceError) Unwrap() error { return e.Err }

// Fix says what would let the namespace be made, for a hint line; "" when
// there is nothing to suggest.
func (e *NamespaceError) Fix() string { return e.fix }

// Steps of the namespace's set-up, as NamespaceError.Step names them.
const (
	stepCreate = "creating the namespace"
	stepLoUp   = "bringing lo up"
)

// The sysctls the diagnosis reads.
const (
	sysctlUnprivClone    = "/proc/sys/kernel/unprivileged_userns_clone"
	sysctlAppArmorUserns = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
)

// diagnose turns a failed step of the namespace's set-up into a
// NamespaceError with its cause and fix. readFile reads the /proc/sys
// files (os.ReadFile but in tests); exe is mcpcell's executable, which an
// AppArmor profile would name.
func diagnose(step string, err error, readFile func(string) ([]byte, error), exe string) *NamespaceError {
	e := &NamespaceError{Step: step, Err: err}
	sysctl := func(path string) string {
		b, err := readFile(path)
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	appArmor := func() {
		e.Cause = "Ubuntu's AppArmor restriction of unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1) takes every capability from the namespace"
		e.fix = "let mcpcell make user namespaces: `sudo " + exe + " setup apparmor --write` writes and loads an AppArmor profile for it; or, for the whole system, `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`"
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return e
	}
	if step == stepCreate {
		switch errno {
		case syscall.ENOSPC, syscall.EUSERS:
			e.Cause = "the limit on user or network namespaces is 0 or reached"
			e.fix = "raise the limits: `sudo sysctl -w user.max_user_namespaces=10000 user.max_net_namespaces=10000` (or find what holds so many namespaces)"
		case syscall.EPERM:
			switch {
			case sysctl(sysctlUnprivClone) == "0":
				e.Cause = "unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0)"
				e.fix = "`sudo sysctl -w kernel.unprivileged_userns_clone=1` (persist it in /etc/sysctl.d)"
			case sysctl(sysctlAppArmorUserns) == "1":
				appArmor()
			default:
				e.Cause = "a seccomp filter or a container forbids user namespaces"
				e.fix = "is mcpcell running inside a cell or a container? Run it outside, or let that container make user namespaces"
			}
		case syscall.EINVAL:
			e.Cause = "this kernel has no user or network namespaces"
			e.fix = "use a kernel built with CONFIG_USER_NS and CONFIG_NET_NS"
		}
		return e
	}
	if errno == syscall.EPERM {
		if sysctl(sysctlAppArmorUserns) == "1" {
			appArmor()
		} else {
			e.Cause = "the namespace has no capability to set up its network (a security module or a container may take capabilities from user namespaces)"
		}
	}
	return e
}

// resolvedExecutable is mcpcell's own binary with its links resolved, as
// an AppArmor profile must name it.
func resolvedExecutable() string {
	exe, err := os.Executable()
	if err != nil {
		return "mcpcell's binary"
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		return real
	}
	return exe
}
