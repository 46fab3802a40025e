// Package jsonrpc owns the wire between an MCP client and its server:
// framing, strict decoding, the message model, and the Interposer that
// pumps frames both ways and asks a Policy about each message.
//
// # Frames
//
// A frame is one line of at most MaxFrame bytes (defaultMaxFrame when
// unset), ended by a newline with optional carriage returns before it. A
// carriage return anywhere else refuses the frame: JSON reads it as white
// space, but Python's universal newlines and Node's readline end a line
// there, so one frame could be two messages to the server and one to
// mcpcell.
//
// # One reading
//
// Parse accepts only what every peer's JSON parser reads the same way: no
// duplicate member names (nor names equal but for case, which Go's
// encoding/json reads as one member and JavaScript as two), valid UTF-8,
// ids that are strings or integers within ±MaxSafeID (no -0, fraction or
// exponent, which JavaScript and Python read as another id). A frame it
// refuses is read once more, leniently (sketchOf), only to find its id and
// whether it is a request or a response, wherever the id is written and
// also past the size bound; the refusal goes back to its sender under
// that id, or fails the request a refused response answers.
//
// # The interposer
//
// Client input → decode → Policy.Message → server input; server output →
// decode → Policy.Message or Policy.Reply (for the request it answers) →
// redaction → client output. Nothing else writes to the client's output
// but mcpcell's own requests and notifications (Ask, Notify), which go
// through the same writer and redaction after the frame being handled.
// A request of mcpcell's own has a string id of 128 random bits, kept
// with the server's requests to the client: a server can neither reuse,
// answer nor cancel it, and the client's answer goes to its callback,
// never to the server.
// Every request mcpcell reads gets exactly one answer: the peer's, or an
// error of mcpcell's with the request's id, also when the server exits.
// Every decision goes to the Recorder; decisions a peer can repeat at
// will are counted per RepeatWindow, so a flood costs the log a record a
// second per kind, not one per frame.
//
// # Example
//
//	ip := &jsonrpc.Interposer{Policy: pol, Recorder: log, MaxFrame: p.MaxFrame, Notes: os.Stderr}
//	err := ip.NewSession().Run(os.Stdin, os.Stdout, srv.Stdin, srv.Stdout)
package jsonrpc
