#!/usr/bin/env bash
# Interop against the real CometBFT binary (issue 6, item 6).
#
# Builds `cometbft` v0.38.x from the Go module proxy into a temporary
# folder, starts pexp2p's classic face (the bridge's), then three kvstore
# nodes on loopback whose only seed is that face, and checks through each
# node's RPC /net_info that they found each other. Everything runs in a
# temporary folder that is removed at the end; the whole run is bounded by
# TIMEOUT seconds.
#
# Usage: interop/cometbft-binary.sh            (from anywhere in the repo)
# Environment:
#   CMT_VERSION   cometbft version to build        (default v0.38.26)
#   BRIDGE_IMPL   pexp2p | classicseed | auto       (default auto: pexp2p
#                 bridge if the command has one, else the classicseed
#                 program, which runs the same classic face, reactor and book)
#   TIMEOUT       overall limit in seconds          (default 600)
#   CONVERGE      seconds allowed for discovery     (default 120)
#   KEEP_TMP=1    keep the temporary folder for inspection
set -euo pipefail

# The whole run ends within TIMEOUT seconds whatever hangs: the script
# re-runs itself under timeout(1), whose TERM reaches the cleanup trap.
if [[ -z ${PEXP2P_INTEROP_CHILD:-} ]]; then
	export PEXP2P_INTEROP_CHILD=1
	exec timeout --kill-after=30 "${TIMEOUT:-600}" "$0" "$@"
fi

CMT_VERSION=${CMT_VERSION:-v0.38.26}
BRIDGE_IMPL=${BRIDGE_IMPL:-auto}
TIMEOUT=${TIMEOUT:-600}
CONVERGE=${CONVERGE:-120}
REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pexp2p-interop.XXXXXX")
# shellcheck source=interop/lib.sh
source "$REPO/interop/lib.sh"
need go
need curl
need jq

free_port() {
	python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

# 1. The real binary, from the module proxy, outside this module.
log "building cometbft $CMT_VERSION from the module proxy"
(cd "$TMP" && GOFLAGS= GOBIN="$TMP/bin" go install "github.com/cometbft/cometbft/cmd/cometbft@$CMT_VERSION")
CMT="$TMP/bin/cometbft"
log "$("$CMT" version)"

# 2. Three node homes sharing node 0's genesis (one chain ID; node 0 is
#    the only validator, which does not matter for discovery).
N=3
for i in $(seq 0 $((N - 1))); do
	"$CMT" init --home "$TMP/node$i" >/dev/null 2>&1
done
for i in $(seq 1 $((N - 1))); do
	cp "$TMP/node0/config/genesis.json" "$TMP/node$i/config/genesis.json"
done
CHAIN_ID=$(jq -r .chain_id "$TMP/node0/config/genesis.json")
log "chain ID $CHAIN_ID"

# 3. The bridge's classic face.
BRIDGE_PORT=$(free_port)
pick_impl() {
	if [[ $BRIDGE_IMPL != auto ]]; then
		echo "$BRIDGE_IMPL"
		return
	fi
	if (cd "$REPO" && go build -o "$TMP/bin/pexp2p" ./cmd/pexp2p) >"$TMP/build-pexp2p.log" 2>&1 &&
		"$TMP/bin/pexp2p" bridge --help 2>/dev/null | grep -q -- '--classic.laddr'; then
		echo pexp2p
	else
		echo classicseed
	fi
}
IMPL=$(pick_impl)
log "bridge implementation: $IMPL"
case $IMPL in
pexp2p)
	[[ -x $TMP/bin/pexp2p ]] || (cd "$REPO" && go build -o "$TMP/bin/pexp2p" ./cmd/pexp2p)
	BHOME="$TMP/bridge"
	"$TMP/bin/pexp2p" init --home "$BHOME" >"$TMP/bridge-init.log" 2>&1
	BRIDGE_ID=$("$TMP/bin/pexp2p" show-node-id --home "$BHOME" | tail -n 1 | tr -d '[:space:]')
	LP2P_PORT=$(free_port)
	BRIDGE_RPC=$(free_port)
	"$TMP/bin/pexp2p" bridge --home "$BHOME" \
		--chain_id "$CHAIN_ID" \
		--rpc.laddr "127.0.0.1:$BRIDGE_RPC" \
		--classic.laddr "tcp://127.0.0.1:$BRIDGE_PORT" \
		--p2p.laddr "/ip4/127.0.0.1/udp/$LP2P_PORT/quic-v1" \
		--p2p.addr_book_strict=false \
		--p2p.allow_duplicate_ip=true \
		>"$TMP/bridge.log" 2>&1 &
	PIDS+=("$!")
	;;
classicseed)
	(cd "$REPO" && go build -o "$TMP/bin/classicseed" ./transport/classic/internal/classicseed)
	"$TMP/bin/classicseed" --home "$TMP/bridge" --chain-id "$CHAIN_ID" \
		--laddr "tcp://127.0.0.1:$BRIDGE_PORT" >"$TMP/bridge.log" 2>&1 &
	PIDS+=("$!")
	BRIDGE_ID=""
	for _ in $(seq 1 100); do
		BRIDGE_ID=$(sed -n 's/^classic_addr=\([0-9a-f]\{40\}\)@.*/\1/p' "$TMP/bridge.log" | head -n 1)
		[[ -n $BRIDGE_ID ]] && break
		sleep 0.2
	done
	;;
*)
	echo "interop: unknown BRIDGE_IMPL=$IMPL" >&2
	exit 2
	;;
esac
[[ $BRIDGE_ID =~ ^[0-9a-f]{40}$ ]] || { echo "interop: no bridge node ID (got '$BRIDGE_ID')" >&2; exit 1; }
SEED="$BRIDGE_ID@127.0.0.1:$BRIDGE_PORT"
# Wait until the classic face listens, so the nodes' first seed dial works.
for _ in $(seq 1 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$BRIDGE_PORT") 2>/dev/null && break
	sleep 0.2
done
log "bridge classic face at $SEED"

# 4. Configure and start the nodes: loopback, their only seed the bridge,
#    non-strict book (loopback addresses), several nodes per IP.
declare -a RPC ID
for i in $(seq 0 $((N - 1))); do
	home="$TMP/node$i"
	p2p=$(free_port)
	RPC[$i]=$(free_port)
	ID[$i]=$("$CMT" show-node-id --home "$home")
	cfg="$home/config/config.toml"
	# Section-aware edits: laddr appears in [rpc] and [p2p].
	awk -v p2p="$p2p" -v rpc="${RPC[$i]}" -v seed="$SEED" '
		/^\[/ { sect = $0 }
		sect == "[rpc]" && /^laddr = / { $0 = "laddr = \"tcp://127.0.0.1:" rpc "\"" }
		sect == "[p2p]" && /^laddr = / { $0 = "laddr = \"tcp://127.0.0.1:" p2p "\"" }
		sect == "[p2p]" && /^seeds = / { $0 = "seeds = \"" seed "\"" }
		sect == "[p2p]" && /^persistent_peers = / { $0 = "persistent_peers = \"\"" }
		sect == "[p2p]" && /^addr_book_strict = / { $0 = "addr_book_strict = false" }
		sect == "[p2p]" && /^allow_duplicate_ip = / { $0 = "allow_duplicate_ip = true" }
		sect == "[p2p]" && /^pex = / { $0 = "pex = true" }
		{ print }
	' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
	"$CMT" start --home "$home" --proxy_app kvstore >"$TMP/node$i.log" 2>&1 &
	PIDS+=("$!")
	log "node$i ${ID[$i]} p2p 127.0.0.1:$p2p rpc 127.0.0.1:${RPC[$i]}"
	# Let each node reach the seed before the next starts, so the seed's
	# book already holds the earlier nodes when the later ones ask.
	for _ in $(seq 1 50); do
		curl -sf "http://127.0.0.1:${RPC[$i]}/net_info" >/dev/null 2>&1 && break
		sleep 0.2
	done
done

# 5. Every node must list the two others among its peers.
peers_of() { curl -sf "http://127.0.0.1:${RPC[$1]}/net_info" | jq -r '.result.peers[].node_info.id' 2>/dev/null || true; }
converged() {
	for i in $(seq 0 $((N - 1))); do
		local ps
		ps=$(peers_of "$i")
		for j in $(seq 0 $((N - 1))); do
			[[ $i == "$j" ]] && continue
			grep -qx "${ID[$j]}" <<<"$ps" || return 1
		done
	done
}
log "waiting up to ${CONVERGE}s for the nodes to find each other"
deadline=$(($(date +%s) + CONVERGE))
until converged; do
	if (($(date +%s) > deadline)); then
		for i in $(seq 0 $((N - 1))); do
			echo "node$i peers: $(peers_of "$i" | tr '\n' ' ')"
		done
		echo "interop: FAIL — the nodes did not find each other through the bridge" >&2
		exit 1
	fi
	sleep 1
done
for i in $(seq 0 $((N - 1))); do
	log "node$i peers: $(peers_of "$i" | tr '\n' ' ')"
done
if [[ -n ${BRIDGE_RPC:-} ]]; then
	# Informational: these nodes have no libp2p face, so their crossings
	# to the libp2p side are expected to fail verification.
	curl -sf "http://127.0.0.1:$BRIDGE_RPC/metrics" | grep '^cometbft_p2p_bridge_crossings_total' | sed 's/^/  bridge metric: /' || true
fi
log "PASS: three cometbft $CMT_VERSION nodes found each other through the bridge's classic face ($IMPL)"
