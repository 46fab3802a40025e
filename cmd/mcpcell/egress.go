package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/mcpcell/mcpcell/internal/audit"
	"github.com/mcpcell/mcpcell/internal/egress"
	"github.com/mcpcell/mcpcell/jsonrpc"
)

// egressRecorder writes the relay's records into the audit log: one per
// allowed connection (method egress/proxy or egress/transparent, subject
// host:port), the refused ones folded as the relay folds them (the first
// of a target in a second in full, the rest of that second one record
// with a count), and one per refused DNS name and second (egress/dns).
func egressRecorder(log *audit.Log) func(egress.Record) {
	return func(r egress.Record) { log.Record(egressEvent(r)) }
}

func egressEvent(r egress.Record) jsonrpc.Event {
	e := jsonrpc.Event{Time: r.Start, Rule: "network.hosts", Duration: r.Duration, Count: r.Count}
	switch r.Kind {
	case egress.KindDNS:
		e.Method, e.Subject, e.Decision = "egress/dns", r.Host, "deny"
		e.Note = "the DNS stub answered NXDOMAIN: no rule names it"
		return e
	case egress.KindLost:
		e.Method, e.Decision = "egress", "warn"
		e.Note = "records of the relay lost: the audit log fell behind"
		return e
	}
	e.Method = "egress/" + string(r.Way)
	switch {
	case r.Host == "": // past MaxConns, or the count of targets past the bound
	case strings.Contains(r.Host, ":"):
		e.Subject = "[" + r.Host + "]:" + strconv.Itoa(int(r.Port))
	default:
		e.Subject = r.Host + ":" + strconv.Itoa(int(r.Port))
	}
	e.Decision = "deny"
	if r.Allowed {
		e.Decision = "allow"
	}
	if r.Rule != "" {
		e.Rule = fmt.Sprintf("network.hosts %s (%s)", r.Rule, r.From)
	}
	var parts []string
	if r.Addr.IsValid() {
		parts = append(parts, "dialled "+r.Addr.String())
	}
	if r.Via != "" {
		parts = append(parts, "through the proxy "+r.Via)
	}
	if r.Allowed || r.Up+r.Down > 0 {
		parts = append(parts, fmt.Sprintf("%d bytes up, %d down", r.Up, r.Down))
	}
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	e.Note = strings.Join(parts, "; ")
	return e
}

// printEgress shows the cell's own network namespace: each rule with the
// address the cell's names give it, the proxy and the DNS stub.
func printEgress(line func(string, ...any), plan *egress.Plan, bind []uint16) {
	line("  network\tthe cell's own namespace: no route out but mcpcell's relay, which checks every connection against the rules")
	for _, r := range plan.Rules {
		for _, h := range plan.Hosts {
			if h.Name != r.Host {
				continue
			}
			var addrs []string
			for _, a := range h.Addrs {
				addrs = append(addrs, a.String())
			}
			how := "the stub answers it with " + strings.Join(addrs, ", ")
			switch {
			case h.Literal():
				how = "on its own address in the namespace"
			case h.Mapped:
				how = "at " + strings.Join(addrs, ", ") + " (the addresses /etc/hosts gives it)"
			case r.Wildcard():
				how = "each name it covers is answered with " + strings.Join(addrs, ", ") + "; the name is taken from the TLS server name or the Host header"
			}
			line("  host\t%s: %s\t%s", r, how, r.From)
		}
	}
	line("  proxy\thttp://%s (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and their lower case; NODE_USE_ENV_PROXY=1)", plan.Proxy)
	var dns []string
	for _, a := range plan.DNS {
		dns = append(dns, netip.AddrPortFrom(a, 53).String())
	}
	line("  dns\t%s, UDP and TCP: names the rules cover get the addresses above; every other name NXDOMAIN, never asked upstream", strings.Join(dns, ", "))
	if len(plan.Addrs) > 0 {
		var addrs []string
		for _, a := range plan.Addrs {
			addrs = append(addrs, a.String())
		}
		line("  lo addresses\t%s (added in the namespace)", strings.Join(addrs, ", "))
	}
	if len(bind) > 0 {
		var ports []string
		for _, n := range bind {
			ports = append(ports, strconv.Itoa(int(n)))
		}
		line("  listen tcp\t%s, inside the namespace only: nothing outside the cell can connect", strings.Join(ports, ", "))
	}
	line("  udp\tto the DNS stub only (the namespace has nothing else)")
}
