package sandbox

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// The securebits (linux/securebits.h) that keep root from getting its
// capabilities back: at execve (NOROOT), when it changes uid
// (NO_SETUID_FIXUP), by keeping them over a uid change (KEEP_CAPS stays
// off) and as ambient capabilities; each locked, so that no process in the
// cell can unset it.
const (
	secbitNoroot                  = 1 << 0
	secbitNorootLocked            = 1 << 1
	secbitNoSetuidFixup           = 1 << 2
	secbitNoSetuidFixupLocked     = 1 << 3
	secbitKeepCapsLocked          = 1 << 5
	secbitNoCapAmbientRaise       = 1 << 6
	secbitNoCapAmbientRaiseLocked = 1 << 7

	lockedSecurebits = secbitNoroot | secbitNorootLocked | secbitNoSetuidFixup | secbitNoSetuidFixupLocked |
		secbitKeepCapsLocked | secbitNoCapAmbientRaise | secbitNoCapAmbientRaiseLocked
)

// dropCapabilities empties the calling thread's five capability sets
// (bounding, ambient, permitted, effective, inheritable) and locks the
// securebits above. It runs on the helper's locked thread, which becomes
// the server: capabilities belong to a thread, and execve keeps the
// calling thread's only.
//
// Emptying the bounding set and setting securebits need CAP_SETPCAP. A
// process without it (any user but root, or root in a container that took
// it away) keeps its bounding set: it can only shrink, and no_new_privs,
// set before, keeps execve from granting anything beyond the (now empty)
// permitted set, file capabilities and setuid root included.
func dropCapabilities() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading the capabilities: %w", err)
	}
	if data[0].Permitted&(1<<unix.CAP_SETPCAP) != 0 {
		data[0].Effective |= 1 << unix.CAP_SETPCAP
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			return fmt.Errorf("raising CAP_SETPCAP: %w", err)
		}
		if err := unix.Prctl(unix.PR_SET_SECUREBITS, lockedSecurebits, 0, 0, 0); err != nil {
			return fmt.Errorf("locking the securebits: %w", err)
		}
		for c := 0; ; c++ {
			err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
			if errors.Is(err, unix.EINVAL) {
				break // past the kernel's last capability
			}
			if err != nil {
				return fmt.Errorf("dropping capability %d from the bounding set: %w", c, err)
			}
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clearing the ambient capabilities: %w", err)
	}
	data = [2]unix.CapUserData{}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("dropping the capabilities: %w", err)
	}
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("reading the capabilities: %w", err)
	}
	for _, d := range data {
		if d.Effective|d.Permitted|d.Inheritable != 0 {
			return errors.New("capabilities remain after dropping them all")
		}
	}
	return nil
}
