package profiles

import (
	"cmp"

	"github.com/mcpcell/mcpcell/internal/jsontext"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// MCP protocol versions with behaviour that differs for a proxy.
const (
	V20250326 = "2025-03-26" // batches
	V20251125 = "2025-11-25" // argument errors become isError results
	V20260728 = "2026-07-28" // no initialize; _meta on every request
)

// _meta keys of the 2026-07-28 protocol.
const (
	metaVersion = "io.modelcontextprotocol/protocolVersion"
	metaClient  = "io.modelcontextprotocol/clientInfo"
	metaCaps    = "io.modelcontextprotocol/clientCapabilities"
)

// modern reports whether v is a protocol version that every request
// declares in its _meta (2026-07-28 on); older ones are negotiated by
// initialize alone.
func modern(v string) bool { return v >= V20260728 }

// declared checks the protocol version a request names against the
// session's and returns the version to decide the request in. A session
// keeps one version: initialize (once its result came) or the first
// modern request the server answered fixes it, and a request that names
// another one in its _meta is refused, so that no request moves the
// policy (batches, the notifications a client may send, error codes)
// away from what the server speaks. Nothing changes here: declare
// commits once the request is forwarded.
func (p *Policy) declared(method, initVersion, declared string) (string, jsonrpc.Verdict) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method == "initialize" {
		switch {
		case p.fixed:
			return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: the session's protocol version is already %s: it is not initialized again", p.version)
		case p.initializing:
			return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: an initialize is already in flight")
		}
		if declared != "" && declared != initVersion {
			return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: initialize names protocol version %q, its _meta %q", initVersion, declared)
		}
		return initVersion, jsonrpc.Verdict{}
	}
	switch {
	case declared == "":
		return p.version, jsonrpc.Verdict{}
	case p.fixed && declared != p.version:
		return "", p.mismatch(declared)
	case p.fixed:
		return p.version, jsonrpc.Verdict{}
	case !modern(declared):
		// Not a declaration: an older version is negotiated by
		// initialize. Once known, another one is refused all the same.
		if p.version != "" && declared != p.version {
			return "", p.mismatch(declared)
		}
		return cmp.Or(p.version, declared), jsonrpc.Verdict{}
	case p.initializing:
		return "", refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: an initialize for protocol version %s is in flight; a request for %s is refused", p.version, declared)
	}
	return declared, jsonrpc.Verdict{}
}

// mismatch refuses a request that names another version than the
// session's: in a modern session as a server refuses a version it does
// not support (-32022, naming the one it does), so that a client can
// retry in it.
func (p *Policy) mismatch(declared string) jsonrpc.Verdict {
	if modern(p.version) {
		v := refuse(codeUnsupportedVersion, "protocol-version", "mcpcell: this session speaks protocol version %s, not %s", p.version, declared)
		v.Err.Data = []byte(`{"supported":[` + string(jsontext.Quote(p.version)) + `],"requested":` + string(jsontext.Quote(declared)) + `}`)
		return v
	}
	return refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: this session speaks protocol version %s (fixed by initialize), not %s", p.version, declared)
}

// codeUnsupportedVersion is 2026-07-28's UnsupportedProtocolVersionError.
const codeUnsupportedVersion = -32022

// declare commits what a forwarded request says of the version: an
// initialize is in flight, and its version stands until its result
// fixes one; a modern version stands until a result fixes one. It
// refuses the request when a result fixed another version since declared
// looked.
func (p *Policy) declare(method, initVersion, declared string) jsonrpc.Verdict {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case method == "initialize":
		if p.fixed || p.initializing {
			return refuse(jsonrpc.CodeInvalidRequest, "protocol-version", "mcpcell: the session's protocol version is already %s: it is not initialized again", p.version)
		}
		p.initializing, p.version = true, initVersion
	case declared == "" || !modern(declared):
	case p.fixed && declared != p.version:
		return p.mismatch(declared)
	case !p.fixed && p.version == "":
		p.version = declared
	}
	return jsonrpc.Verdict{}
}

// settle fixes the session's version from the server's answer to a
// request c: the initialize result's protocolVersion, or, for a request
// that declared a modern version, the version the server answered in. It
// returns a refusal when an initialize result names no version.
func (p *Policy) settle(c *jsonrpc.Call, m *jsonrpc.Message, r *reader) jsonrpc.Verdict {
	st, _ := c.State.(callState)
	if c.Method != "initialize" && !modern(st.declared) {
		return jsonrpc.Verdict{Rule: "reply"}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Method == "initialize" {
		p.initializing = false
		if m.Error != nil {
			if !p.fixed {
				p.version = ""
			}
			return jsonrpc.Verdict{Rule: "reply"}
		}
		v, ok := r.str(m.Result, "protocolVersion")
		if r.bad != nil {
			return jsonrpc.Verdict{}
		}
		if !ok || v == "" {
			if !p.fixed {
				p.version = ""
			}
			return refuse(jsonrpc.CodeInternalError, "protocol-version", "mcpcell: the server's initialize result names no protocolVersion")
		}
		if !p.fixed {
			p.version, p.fixed = v, true
		}
		return jsonrpc.Verdict{Rule: "reply"}
	}
	switch {
	case p.fixed:
	case m.Error == nil:
		p.version, p.fixed = st.declared, true
	case p.version == st.declared && !p.initializing:
		// A probe a legacy server refused: initialize may follow.
		p.version = ""
	}
	return jsonrpc.Verdict{Rule: "reply"}
}

func (p *Policy) versionOr(version string) string {
	if version != "" {
		return version
	}
	return p.Version()
}
