package sandbox

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Ladder.Drain: the server's input stays open through the EOF wait, so
// what the caller still writes (what the client sent before it hung up)
// reaches the server; then Stop closes it, so a write blocked on a server
// that does not read fails rather than hold the caller. The control:
// without Drain the input is closed at once and a late write is lost.
func TestStopDrain(t *testing.T) {
	catCell := func(t *testing.T) Cell {
		c := sleepCell(t)
		cat, err := exec.LookPath("cat")
		if err == nil {
			cat, err = filepath.EvalSymlinks(cat)
		}
		if err != nil {
			t.Fatal(err)
		}
		c.Spec.Command, c.Spec.Path = []string{"cat"}, cat
		return c
	}
	for _, drain := range []bool{true, false} {
		t.Run(fmt.Sprintf("late write, drain=%v", drain), func(t *testing.T) {
			srv, err := Start(catCell(t), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop(Ladder{})
			stopped := make(chan struct{})
			go func() { srv.Stop(Ladder{EOF: 10 * time.Second, Term: time.Second, Drain: drain}); close(stopped) }()
			time.Sleep(50 * time.Millisecond) // Stop is in its EOF wait
			_, werr := srv.Stdin.Write([]byte("the client's last frame\n"))
			srv.Stdin.Close()
			out, _ := io.ReadAll(srv.Stdout)
			<-stopped
			if drain && (werr != nil || string(out) != "the client's last frame\n" || srv.Wait() != 0) {
				t.Errorf("write: %v; the server echoed %q and exited %d; want the frame echoed and status 0", werr, out, srv.Wait())
			}
			if !drain && werr == nil {
				t.Errorf("without Drain a write during the EOF wait succeeded; the control shows nothing")
			}
		})
	}
	t.Run("server that does not read", func(t *testing.T) {
		// It ignores SIGTERM too: only the closed input can end the write
		// before the kill.
		c := sleepCell(t)
		sh, err := filepath.EvalSymlinks("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		c.Spec.Command, c.Spec.Path = []string{"sh", "-c", "trap '' TERM; exec sleep 600"}, sh
		srv, err := Start(c, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop(Ladder{})
		wrote := make(chan error, 1)
		go func() {
			_, err := srv.Stdin.Write(make([]byte, 1<<20)) // more than the pipe holds
			wrote <- err
		}()
		stopped := make(chan struct{})
		go func() {
			srv.Stop(Ladder{EOF: 200 * time.Millisecond, Term: 2 * time.Second, Drain: true})
			close(stopped)
		}()
		select {
		case err := <-wrote:
			t.Fatalf("the write ended (%v) during the EOF wait; want it blocked until the wait is over", err)
		case <-time.After(100 * time.Millisecond):
		}
		select {
		case err := <-wrote:
			if err == nil {
				t.Errorf("the blocked write succeeded")
			}
		case <-time.After(time.Second): // the kill comes 2 s after the SIGTERM
			t.Fatalf("the write still blocks 1 s after the EOF wait")
		}
		<-stopped
		if code := srv.Wait(); code != 128+9 {
			t.Errorf("the server's status %d, want %d (SIGKILL)", code, 128+9)
		}
	})
}
