// Package jsonrpc owns the wire between an MCP client and its server:
// framing, the message model (Message, ID, Error, Verdict, Event), and
// the interposer, whose two pumps carry frames each way and ask a Policy
// about every message.
//
// # Running a session
//
// An [Interposer] is configuration, set once by the caller; a [Session]
// is one client and one server, and holds everything that changes while
// they talk. mcpcell run does:
//
//	ip := &jsonrpc.Interposer{Policy: pol, Recorder: log, MaxFrame: p.MaxFrame, Notes: os.Stderr}
//	s := ip.NewSession() // the policy's consent asks through s from here on
//	err := s.Run(os.Stdin, os.Stdout, srv.Stdin, srv.Stdout)
//	s.Finish(time.Second) // the client's frame in hand is answered, no other is taken
//	s.EndCounts()         // the counts of repeats, before the session's last record
//
// Run returns when the server's output ends. Sessions of one Interposer
// may run at the same time; they share only its Policy and Recorder.
//
// # Frames
//
// A frame is one line of at most MaxFrame bytes (16 MiB when unset),
// ended by a newline with optional carriage returns before it. A
// carriage return anywhere else refuses the frame: JSON reads it as white
// space, but Python's universal newlines and Node's readline end a line
// there, so one frame could be two messages to the server and one to
// mcpcell.
//
// # One reading
//
// Strict decoding accepts only what every peer's JSON parser reads the
// same way: no duplicate member names (nor names equal but for case,
// which Go's encoding/json reads as one member and JavaScript as two),
// valid UTF-8, ids that are strings or integers within ±(2^53-1) (no -0,
// fraction or exponent, which JavaScript and Python read as another id).
// A frame it refuses is read once more, leniently (sketchOf), only to
// find its id and whether it is a request or a response, wherever the id
// is written and also past the size bound.
//
// # What a session promises
//
//   - Every request mcpcell reads gets exactly one answer: the peer's, or
//     an error of mcpcell's under the request's id as sent (null when a
//     refused frame's id cannot be read), also when the frame was refused,
//     the policy refused it, the audit log failed or the server exited. A refused response fails the request it
//     answers, with the requester's id: each side's ids are apart.
//   - One writer per stream: every frame to the client (the server's, the
//     refusals, mcpcell's own requests and notifications) goes through
//     one writer and its redaction, whole and in order; mcpcell's own go
//     after the frame being handled. The same holds for the server.
//   - A request of mcpcell's own (Ask) has a string id of 128 random bits,
//     kept with the server's requests to the client: the server can
//     neither reuse, answer nor cancel it, and the client's answer goes to
//     its callback, never to the server.
//   - Every decision goes to the Recorder. Decisions a peer can repeat at
//     will are counted per RepeatWindow, so a flood costs the log a record
//     a second per kind, not one per frame. Once a record is lost, new
//     requests are refused.
//   - What a peer makes mcpcell keep is bounded: requests in flight (4096
//     and 4 MiB each way), cancelled ids, the kinds of a window's repeats,
//     mcpcell's own questions.
//
// # Data flow
//
// Client to server (Up): the client's input → frame reader (size, line
// ends) → strict decoding, each message of a batch on its own → a
// request is checked against the session (server gone, audit failure, id
// in flight or cancelled, table full), put to Policy.Message, and kept
// in the table of the client's requests in flight; a notification is put
// to Policy.Message (after a cancel its request is owed no answer, and a
// late one is dropped); a response is
// matched to the server's request it answers, or to mcpcell's own (Ask),
// and put to Policy.Reply → the server's writer. Refusals go back to the
// client's writer.
//
// Server to client (Down): the server's output → frame reader → a line
// that is not JSON is dropped and noted → strict decoding → the same
// steps, with the tables swapped → the client's writer, which redacts
// (Interposer.Redact). Refusals of the server's requests go back to it;
// refused responses fail the client's request.
//
// Each pump flushes both writers when its input has nothing more
// buffered, then syncs the Recorder: records are written after the frames
// of their burst.
//
// # Where a new thing goes
//
//   - A rule on a method, a tool, a prompt, a resource or the arguments of
//     a call: package profiles, in the Policy. This package knows no MCP
//     method but ping (counted) and notifications/cancelled.
//   - A check every frame must pass whatever the profile: the frame reader
//     (frame.go) for lines, strict decoding for JSON, Parse for JSON-RPC;
//     its refusal goes through refuseFrame or refuseMessage (frames.go),
//     which answer in the frame's own id space.
//   - A new bound on what a peer makes mcpcell keep: pending.go (requests
//     in flight) or repeats.go (counts).
//   - A frame of mcpcell's own to the client: Ask or Notify (ask.go), never
//     a direct write.
//   - State of one session: a field of Session, never of Interposer.
//   - A new field of the audit record: Event, and internal/audit's
//     encoding.
//
// Files: interposer.go holds the model the policy and the audit log see
// and the Interposer; session.go the Session, its pumps, Finish and the
// writers; frames.go what a frame holds and the refusal of what is not
// taken; decide.go each kind of message put to the Policy; ask.go
// mcpcell's own requests; pending.go the tables of requests in flight;
// repeats.go the counting of repeats; recover.go the lenient reading;
// frame.go the frame reader and writer.
package jsonrpc
