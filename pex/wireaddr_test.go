package pex

import (
	"errors"
	"testing"

	tmp2p "github.com/cometbft/cometbft/proto/tendermint/p2p"

	"github.com/pexp2p/pexp2p/addrbook"
)

const wireID = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"

func TestWireAddressRoundTripsWithIPAsText(t *testing.T) {
	a, err := addrbook.ParseNetAddress(addrbook.ClassicIDs, wireID+"@[2001:470::1]:26656")
	if err != nil {
		t.Fatal(err)
	}
	pb := AddrToProto(a)
	if pb.ID != wireID || pb.IP != "2001:470::1" || pb.Port != 26656 {
		t.Fatalf("wire form %+v", pb)
	}
	back, err := AddrFromProto(addrbook.ClassicIDs, pb)
	if err != nil || back != a {
		t.Fatalf("back: %v, %v; want %v", back, err, a)
	}
	if got := AddrsToProto([]addrbook.NetAddress{a, a}); len(got) != 2 || got[1] != pb {
		t.Fatalf("slice: %v", got)
	}
}

// Unlike upstream, the ID is checked too; every refusal is an
// *addrbook.AddressError.
func TestWireAddressRefusalsAreTypedErrors(t *testing.T) {
	for name, bad := range map[string]tmp2p.NetAddress{
		"host name": {ID: wireID, IP: "example.com", Port: 1},
		"port":      {ID: wireID, IP: "1.2.3.4", Port: 65536},
		"ID":        {ID: "1", IP: "1.2.3.4", Port: 1},
		"zone":      {ID: wireID, IP: "fe80::1%eth0", Port: 1},
	} {
		_, err := AddrFromProto(addrbook.ClassicIDs, bad)
		var ae *addrbook.AddressError
		if !errors.Is(err, addrbook.ErrInvalidAddress) || !errors.As(err, &ae) {
			t.Errorf("%s: got %v, want an *addrbook.AddressError", name, err)
		}
	}
}
