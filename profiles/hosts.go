package profiles

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// checkHosts refuses what the merged profile says beside [network]
// hosts and cannot mean with it: ports (TCP to any host), udp (the cell's
// only UDP way out is its DNS stub), and a proxy variable the cell sets.
func (p *Profile) checkHosts() error {
	if len(p.Hosts) == 0 {
		return nil
	}
	hosts := p.Hosts[0].From
	var errs []error
	if len(p.Ports) > 0 {
		errs = append(errs, &Error{At: p.Ports[0].From, Msg: fmt.Sprintf("network.ports and network.hosts (%s) in one profile: ports means TCP to any host; hosts confines to names: use one", hosts)})
	}
	if p.UDP {
		errs = append(errs, &Error{At: p.udpFrom, Msg: fmt.Sprintf("network.udp and network.hosts (%s) in one profile: a cell with hosts reaches no UDP service but its DNS stub: remove udp = true", hosts)})
	}
	set := func(key, name string, at Source) {
		errs = append(errs, &Error{At: at, Msg: fmt.Sprintf("%s: the cell sets %s itself when network.hosts (%s) is set, to reach mcpcell's proxy: remove it (an upstream proxy goes in mcpcell's own environment)", key, name, hosts)})
	}
	for _, k := range slices.Sorted(maps.Keys(p.EnvSet)) {
		if egress.ProxyVariable(k) {
			set(dotted("env", "set", k), k, p.EnvSet[k].From)
		}
	}
	for _, e := range p.EnvPass {
		if egress.ProxyVariable(e.Value) {
			set("env.pass", e.Value, e.From)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(p.Secrets)) {
		if egress.ProxyVariable(k) {
			set(dotted("secrets", k), k, p.Secrets[k].From)
		}
	}
	return errors.Join(errs...)
}
