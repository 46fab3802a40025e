package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// session is a line client of one server process.
type session struct {
	cmd *exec.Cmd
	in  *bufio.Writer
	w   io.WriteCloser
	out *bufio.Reader
	id  int
}

func start(m mode, server []string) (*session, error) {
	argv := m.argv(server)
	if m.trust != nil {
		if err := m.trust(server); err != nil {
			return nil, err
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), m.env...)
	cmd.Stderr = io.Discard
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &session{cmd: cmd, w: w, in: bufio.NewWriterSize(w, 64<<10), out: bufio.NewReaderSize(r, 1<<20)}, nil
}

func (s *session) send(method, params string) int {
	s.id++
	fmt.Fprintf(s.in, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", s.id, method, params)
	return s.id
}

// recv reads frames until a response, and returns its size. An error
// response is an error: a measurement counts only answers.
func (s *session) recv() (int, error) {
	for {
		line, err := s.out.ReadSlice('\n')
		head := string(line[:min(len(line), 96)])
		n := len(line)
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = s.out.ReadSlice('\n')
			n += len(line)
		}
		if err != nil {
			return n, err
		}
		switch {
		case strings.Contains(head, `"method"`):
			continue
		case strings.Contains(head, `"error"`):
			return n, fmt.Errorf("error response: %s", head)
		}
		return n, nil
	}
}

func (s *session) call(method, params string) (int, error) {
	s.send(method, params)
	if err := s.in.Flush(); err != nil {
		return 0, err
	}
	return s.recv()
}

func (s *session) initialize() error {
	_, err := s.call("initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}`)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, err = s.call("tools/list", `{}`)
	return err
}

func (s *session) close() {
	s.in.Flush()
	s.w.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// hwm is a process's peak resident set (VmHWM) in bytes.
func hwm(pid int) int {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return kb << 10
		}
	}
	return 0
}
