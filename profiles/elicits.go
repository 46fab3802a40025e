package profiles

import "github.com/mcpcell/mcpcell/internal/jsontext"

// v20250618 is the first protocol version with elicitation.
const v20250618 = "2025-06-18"

// elicitCaps is what a client's initialize declared of elicitation.
type elicitCaps struct {
	declared bool // capabilities.elicitation is an object
	form     bool // it names form mode, or no mode ({} is form)
}

// clientElicits keeps what the client's initialize, forwarded, declared
// of elicitation: the capability as the client sent it, before the
// profile's [client] elicitation = false strips it for the server.
func (p *Policy) clientElicits(caps []byte) {
	var c elicitCaps
	if jsontext.TypeOf(caps) == "object" {
		form, url := jsontext.Lookup(caps, "form"), jsontext.Lookup(caps, "url")
		c = elicitCaps{declared: true, form: form != nil || url == nil}
	}
	p.mu.Lock()
	p.elicits = c
	p.mu.Unlock()
}

// ClientElicits reports whether mcpcell may ask the client's user a
// question of its own with a form elicitation (elicitation/create): the
// session's protocol version, fixed by initialize, is 2025-06-18 or
// 2025-11-25 (older ones have no elicitation; from 2026-07-28 on a server
// sends no requests on stdio), and the client declared elicitation in
// form mode (2025-11-25: `{}` or `{"form":{}}`, not `{"url":{}}` alone).
// It does not depend on the profile's [client] elicitation, which is what
// the server may ask.
func (p *Policy) ClientElicits() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.fixed || !p.elicits.declared {
		return false
	}
	switch p.version {
	case v20250618:
		return true // one mode: any object declares it
	case V20251125:
		return p.elicits.form
	}
	return false
}
