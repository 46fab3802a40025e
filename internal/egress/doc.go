// Package egress is a cell's way out to the hosts its profile names:
// `[network] hosts = ["api.github.com:443"]`.
//
// A cell with host rules runs in a network namespace of its own whose
// only exits are sockets mcpcell holds: an HTTP proxy (CONNECT and
// absolute-form requests), one listener per rule on an address in
// 127.0.0.0/8 that a DNS stub gives the rule's name, and the stub itself
// on the addresses /etc/resolv.conf names. The sandbox binds them inside
// the namespace and hands them to mcpcell; this package decides, for
// each connection and each query, whether a rule covers it, and relays
// what it allows to the address it checked.
//
//	plan, err := egress.NewPlan(rules, resolvConf, hosts)
//	// spec.Net.Egress = the plan's Addrs and Sockets; spec.Env += plan.Env()
//	// spec.Net.ConnectTCP = plan.ConnectPorts()
//	relay, err := egress.Serve(egress.Config{Plan: plan, Sockets: server.Sockets, Record: audit})
//	defer relay.Close()
//
// # What it promises
//
//   - Nothing goes upstream before the decision: the target (the CONNECT
//     host, the URL's host, or the listener's host) is granted; on port
//     443 the ClientHello's SNI is granted and is the target's name (a
//     wildcard listener takes its name from it); on port 80, and for
//     absolute-form requests, the Host header likewise. Other ports of
//     exact names and literal addresses are relayed as they are; a client
//     that speaks TLS first there is held to its SNI too.
//   - A name is resolved by mcpcell and dialled at the address checked;
//     loopback, private, link-local, CGNAT and metadata addresses, and
//     the addresses this machine routes to itself (its interfaces', and
//     the ranges of its local routes) whatever their range, are refused unless a rule names the address or /etc/hosts
//     maps the name. Through an upstream proxy the name goes as a name,
//     after every address mcpcell resolves it to has passed the same
//     checks; a name mcpcell cannot resolve (a network whose DNS is the
//     proxy's) is left to the proxy.
//   - HTTP is relayed one request per upstream connection, so a second
//     request on one connection reaches no other host. An absolute-form
//     request to port 443 is refused: TLS goes by CONNECT. The answer's
//     heads are capped (64 KiB) and must come within AnswerTimeout of
//     the request; the body streams. Whichever side goes ends the other
//     (a client that only half-closes after its request still gets the
//     answer).
//   - The stub answers a granted name with the plan's address and any
//     other NXDOMAIN; it forwards nothing, so a query's name reaches no
//     resolver.
//   - One Record per allowed connection; refused connections, as
//     refused names, are folded per target and second (the first in
//     full, the rest counted), so a flood of them costs the audit log a
//     few records a second. The callback runs on a goroutine of its own
//     and never holds a connection up. Close ends every goroutine.
//
// What it cannot promise: what is inside TLS is not seen, so a granted
// name on a shared CDN can carry a Host header for another site (domain
// fronting); a client with ECH sends the provider's outer name, which
// must then be granted.
//
// # What is here
//
//   - rule.go: the syntax of a rule (ParseRule) and which names it covers.
//   - plan.go: the layout of a cell's namespace (NewPlan): the address
//     of each host, the proxy's, the stub's, the sockets to bind.
//   - relay.go, stream.go, dial.go: Serve, the proxy and the transparent
//     listeners, the checks of SNI and Host, resolving and dialling, the
//     upstream proxy.
//   - hello.go: the ClientHello's server name; dns.go: the stub's
//     messages; address.go: the addresses a name may not reach;
//     record.go: the audit record and its queue.
//   - egresstest: the servers the attacker's tests reach.
//
// A new way in is a listener in the plan and a case in the relay; a new
// check is a step of the relay's decision, with a test from the
// attacker's side on 127.0.0.0/8.
package egress
