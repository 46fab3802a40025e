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
// # What is here
//
//   - rule.go: the syntax of a rule (ParseRule) and which names it covers.
//   - plan.go: the layout of a cell's namespace (NewPlan): the address
//     of each rule, the proxy's, the stub's, the sockets to bind.
//   - the relay: the proxy, the transparent listeners, the DNS stub, the
//     checks of SNI and Host, and one audit record per connection.
//
// A new way in is a listener in the plan and a case in the relay; a new
// check is a step of the relay's decision, with a test from the
// attacker's side on 127.0.0.0/8.
package egress
