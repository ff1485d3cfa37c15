package transport

import (
	"net/netip"
	"strings"
	"testing"
)

var testLimits = admissionLimits{MaxInbound: 3, MaxOutbound: 2, OverLimitSlots: 1}

func TestAdmitAppliesEveryRule(t *testing.T) {
	public := netip.MustParseAddr("203.0.113.5")
	loopback := netip.MustParseAddr("127.0.0.1")
	full := peerLoad{Outbound: 2, Inbound: 3, OverLimit: 1}
	withLimits := func(mod func(*admissionLimits)) admissionLimits {
		l := testLimits
		mod(&l)
		return l
	}
	for _, tc := range []struct {
		name   string
		facts  admissionFacts
		limits admissionLimits
		want   admitReason
	}{
		{"inbound below the inbound limit", admissionFacts{Load: peerLoad{Inbound: 2}}, testLimits, admitWithinLimits},
		{"outbound below the outbound limit", admissionFacts{Outbound: true, Load: peerLoad{Outbound: 1}}, testLimits, admitWithinLimits},
		{"outbound at the outbound limit", admissionFacts{Outbound: true, Load: peerLoad{Outbound: 2}}, testLimits, refuseOutboundFull},
		{"outbound at the limit but dialed by us", admissionFacts{Outbound: true, DialedByUs: true, Load: peerLoad{Outbound: 2}}, testLimits, admitWithinLimits},
		{"outbound while inbound slots are full", admissionFacts{Outbound: true, Load: peerLoad{Inbound: 3, OverLimit: 1}}, testLimits, admitWithinLimits},
		{"inbound while outbound slots are full", admissionFacts{Load: peerLoad{Outbound: 2}}, testLimits, admitWithinLimits},
		{"inbound at the limit takes a free over-limit slot", admissionFacts{Load: peerLoad{Inbound: 3}}, testLimits, admitOverLimit},
		{"inbound at the limit with every over-limit slot taken", admissionFacts{Load: peerLoad{Inbound: 3, OverLimit: 1}}, testLimits, refuseInboundFull},
		{"inbound at the limit with no over-limit slots", admissionFacts{Load: peerLoad{Inbound: 3}}, withLimits(func(l *admissionLimits) { l.OverLimitSlots = 0 }), refuseInboundFull},
		{"over-limit visitors do not fill inbound slots", admissionFacts{Load: peerLoad{Inbound: 2, OverLimit: 1}}, testLimits, admitWithinLimits},
		{"persistent peer past every limit and on a used IP", admissionFacts{Persistent: true, RemoteIP: public, IPInUse: true, Load: full}, testLimits, admitExempt},
		{"unconditional peer past every limit and on a used IP", admissionFacts{Unconditional: true, Outbound: true, RemoteIP: public, IPInUse: true, Load: full}, testLimits, admitExempt},
		{"second peer on a public IP", admissionFacts{RemoteIP: public, IPInUse: true}, testLimits, refuseDuplicateIP},
		{"second outbound peer on a public IP", admissionFacts{Outbound: true, DialedByUs: true, RemoteIP: public, IPInUse: true}, testLimits, refuseDuplicateIP},
		{"duplicate IP is checked before the limits", admissionFacts{RemoteIP: public, IPInUse: true, Load: full}, testLimits, refuseDuplicateIP},
		{"second peer on a public IP with duplicate IPs allowed", admissionFacts{RemoteIP: public, IPInUse: true}, withLimits(func(l *admissionLimits) { l.AllowDuplicateIP = true }), admitWithinLimits},
		{"second peer on loopback", admissionFacts{RemoteIP: loopback, IPInUse: true}, testLimits, admitWithinLimits},
		{"second peer on loopback with the rule on for loopback", admissionFacts{RemoteIP: loopback, IPInUse: true}, withLimits(func(l *admissionLimits) { l.IPRuleOnLoopback = true }), refuseDuplicateIP},
		{"peer without a known remote IP", admissionFacts{IPInUse: true}, testLimits, admitWithinLimits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := admit(tc.facts, tc.limits); got != tc.want {
				t.Fatalf("admit(%+v, %+v) = %v, want %v", tc.facts, tc.limits, got, tc.want)
			}
		})
	}
}

func TestAdmitSecuredRefusesOnlyWhatSetupWould(t *testing.T) {
	inboundFull := 4 // MaxInbound + OverLimitSlots
	for _, tc := range []struct {
		name  string
		facts securedFacts
		want  admitReason
	}{
		{"banned inbound peer", securedFacts{Inbound: true, Banned: true}, refuseBanned},
		{"banned peer we dialed", securedFacts{Banned: true}, refuseBanned},
		{"banned persistent peer", securedFacts{Inbound: true, Banned: true, Exempt: true}, refuseBanned},
		{"our own dial while inbound slots are full", securedFacts{InboundPeers: inboundFull}, admitOutbound},
		{"inbound peer of another network", securedFacts{Inbound: true, WrongNetwork: true}, refuseWrongNetwork},
		{"inbound persistent peer of another network", securedFacts{Inbound: true, WrongNetwork: true, Exempt: true}, refuseWrongNetwork},
		{"inbound exempt peer while inbound slots are full", securedFacts{Inbound: true, Exempt: true, InboundPeers: inboundFull}, admitExempt},
		{"another connection of a known peer while full", securedFacts{Inbound: true, Known: true, InboundPeers: inboundFull}, admitKnownPeer},
		{"inbound peer with an over-limit slot left", securedFacts{Inbound: true, InboundPeers: inboundFull - 1}, admitWithinLimits},
		{"inbound peer with inbound and over-limit slots full", securedFacts{Inbound: true, InboundPeers: inboundFull}, refuseInboundFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := admitSecured(tc.facts, testLimits); got != tc.want {
				t.Fatalf("admitSecured(%+v) = %v, want %v", tc.facts, got, tc.want)
			}
		})
	}
}

func TestAdmitReasonsSayWhetherTheyAdmit(t *testing.T) {
	admits := map[admitReason]bool{
		admitWithinLimits: true, admitExempt: true, admitOverLimit: true, admitKnownPeer: true, admitOutbound: true,
		refuseBanned: false, refuseWrongNetwork: false, refuseDuplicateIP: false, refuseOutboundFull: false, refuseInboundFull: false,
	}
	seen := map[string]admitReason{}
	for r, want := range admits {
		if r.admitted() != want {
			t.Errorf("%v.admitted() = %v, want %v", r, r.admitted(), want)
		}
		s := r.String()
		if strings.HasPrefix(s, "admitReason(") {
			t.Errorf("reason %d has no name", r)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("reasons %d and %d share the text %q", r, other, s)
		}
		seen[s] = r
	}
	if s := admitReason(200).String(); s != "admitReason(200)" {
		t.Errorf("unknown reason prints %q", s)
	}
}
