package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// tryTimeout bounds a try: the helper's whole set-up takes milliseconds.
const tryTimeout = 10 * time.Second

// TryNamespace makes the cell's own network namespace for e as Start
// would for a spec with Net.Egress e, on this machine, for real: the
// helper starts in a new user and network namespace, brings lo up, adds
// e.Addrs, binds e.Listen and hands the sockets over. Then it exits,
// confining itself and executing nothing. TryNamespace returns nil when
// every step worked, or else the *NamespaceError Start would return. (A
// probe that only clones is not enough: under Ubuntu's AppArmor
// restriction the clone succeeds and bringing lo up fails.)
//
// It returns once the helper has exited, the sockets closed. helper is
// Cell.Helper; stderr gets the helper's.
func TryNamespace(helper []string, e Egress, stderr io.Writer) error {
	if helper == nil {
		return errors.New("trying the cell's network namespace needs the cell helper")
	}
	p, err := spawn(nil, helper, 0, true)
	if err != nil {
		return err
	}
	return p.try(Spec{Net: Net{Egress: &e}}, stderr)
}

// try sends spec, marked tryOnly, to the prepared helper p and waits for
// it to set up the namespace and exit.
func (p *Prepared) try(spec Spec, stderr io.Writer) error {
	p.used = true
	p.copyStderr(stderr)
	s := p.s
	defer func() {
		p.inW.Close()
		p.outR.Close()
	}()
	spec.tryOnly = true
	want := p.send(spec)
	// A helper that hangs must not hang mcpcell check: the deadline ends
	// the read, and Stop the helper.
	deadline := time.Now().Add(tryTimeout)
	p.statR.SetReadDeadline(deadline)
	status, sockets, problem := readStatus(p.statR, want)
	p.statR.Close()
	got := len(sockets)
	for _, f := range sockets {
		f.Close() // bound and handed over: that was the try
	}
	select {
	case <-s.done:
	case <-time.After(time.Until(deadline)):
		s.Stop(Ladder{})
		return errors.New("the cell helper did not exit after setting up the namespace")
	}
	code := s.Wait()
	last := readReports(status)
	switch {
	case last.NamespaceStep != "":
		return diagnose(last.NamespaceStep, last.Errno, os.ReadFile, resolvedExecutable())
	case last.Error != "":
		return errors.New(last.Error)
	case problem != "":
		return errors.New(problem)
	case last.SetupMicros != 0 || last.ABI != 0:
		return errors.New("the cell helper confined itself to start a server on a try")
	case code != 0:
		return fmt.Errorf("the cell helper exited with status %d while setting up the namespace", code)
	case got != want:
		return fmt.Errorf("the cell helper sent %d sockets, want %d", got, want)
	}
	return nil
}
