package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// F4: the end record says what the ladder did, not what the exit status
// suggests: a server that exits 137 the moment its input ends
// (fakekill.js) exited after its stdin closed, and no SIGTERM or SIGKILL
// is claimed. The control (TestEndRecordCause's "server ignores EOF"):
// a server that ignores the close gets the steps mcpcell took.
func TestEndRecordForgedKill(t *testing.T) {
	needNode(t)
	profile := writeProfile(t, "")
	fakekill := attackScript(t, filepath.Dir(profile), "fakekill.js")
	s := startSession(t, cellCommand(t, profile, "node", fakekill, "137"))
	s.call(0, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}`)
	s.in.Close()
	s.exited(15 * time.Second)
	end := endRecord(auditRecords(t, profile))
	if end == nil || end.Rule != "client-closed" || !strings.Contains(end.Note, "the client closed stdin; the server exited with status 137 after its stdin closed") || strings.Contains(end.Note, "SIG") {
		t.Fatalf("end record %+v: want the status, after stdin closed, and no signal claimed", end)
	}
}
