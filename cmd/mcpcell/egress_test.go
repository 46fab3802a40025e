package main

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/mcpcell/mcpcell/internal/egress"
)

// The relay's records as the audit log keeps them; a count of folded
// refusals keeps its count and says what it counts.
func TestEgressEvent(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   egress.Record
		want string // method subject decision count note
	}{{
		name: "allowed",
		in:   egress.Record{Kind: egress.KindConn, Way: egress.WayProxy, Host: "api.example.test", Port: 443, Allowed: true, Addr: netip.MustParseAddrPort("203.0.113.1:443"), Rule: "api.example.test:443", From: "p.toml:3", Up: 10, Down: 20},
		want: "egress/proxy api.example.test:443 allow 0 dialled 203.0.113.1:443; 10 bytes up, 20 down",
	}, {
		name: "refused, the first of its second",
		in:   egress.Record{Kind: egress.KindConn, Way: egress.WayProxy, Host: "other.example.test", Port: 443, Reason: "other.example.test:443 is not granted"},
		want: "egress/proxy other.example.test:443 deny 0 other.example.test:443 is not granted",
	}, {
		name: "refused, the rest of its second",
		in:   egress.Record{Kind: egress.KindConn, Way: egress.WayProxy, Host: "other.example.test", Port: 443, Count: 6499, Duration: time.Second, Reason: "refused again in this second; the first is recorded in full"},
		want: "egress/proxy other.example.test:443 deny 6499 refused again in this second; the first is recorded in full",
	}, {
		name: "refused, an IPv6 target",
		in:   egress.Record{Kind: egress.KindConn, Way: egress.WayTransparent, Host: "2001:db8::1", Port: 443, Count: 3, Reason: "refused again in this second; the first is recorded in full"},
		want: "egress/transparent [2001:db8::1]:443 deny 3 refused again in this second; the first is recorded in full",
	}, {
		name: "targets past the bound",
		in:   egress.Record{Kind: egress.KindConn, Way: egress.WayProxy, Count: 900, Reason: "refused connections to more targets in this second than the audit keeps apart (32)"},
		want: "egress/proxy  deny 900 refused connections to more targets in this second than the audit keeps apart (32)",
	}, {
		name: "past MaxConns",
		in:   egress.Record{Kind: egress.KindConn, Way: egress.WayTransparent, Reason: "more than 256 connections at once"},
		want: "egress/transparent  deny 0 more than 256 connections at once",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Start = start
			e := egressEvent(tc.in)
			got := e.Method + " " + e.Subject + " " + e.Decision + " " + strconv.Itoa(e.Count) + " " + e.Note
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if !e.Time.Equal(start) || e.Duration != tc.in.Duration {
				t.Errorf("time %v, duration %v; want the record's", e.Time, e.Duration)
			}
		})
	}
}
