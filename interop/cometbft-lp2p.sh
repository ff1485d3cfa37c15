#!/usr/bin/env bash
# Interop with the unmodified cometbft v0.40 binary over libp2p (issue 13,
# item 4).
#
# Builds the real `cometbft` v0.40.0 from the Go module proxy (outside this
# module, its own go.mod) and pexp2p from this repo, then runs one chain
# (one genesis, one validator, the kvstore app) of three nodes on
# loopback, each on its own 127.0.0.x address:
#
#   val   127.0.0.1  pexp2p cometbft start: the validator, libp2p and PEX on
#   up    127.0.0.2  the unmodified cometbft binary, [p2p.libp2p] enabled,
#                    bootstrap_peers = the validator (host + libp2p peer ID)
#   pfn   127.0.0.3  pexp2p cometbft start: a full node that knows only
#                    --p2p.seeds <validator multiaddr>
#
# It passes when both full nodes reach height SYNC_HEIGHT and follow the
# validator (within LAG blocks), the pexp2p full node has peers it found
# through PEX, and the unmodified node stays healthy for HOLD more seconds
# amid the PEX (channel 0) traffic of its neighbours: it keeps syncing,
# its RPC answers, its /net_info lists the validator, its log has no panic.
# Everything runs in a temporary folder, removed at the end; every process
# is killed on exit; the whole run is bounded by TIMEOUT seconds.
#
# Usage: interop/cometbft-lp2p.sh            (from anywhere in the repo)
# Environment:
#   CMT_VERSION   cometbft module version to build  (default v0.40.0)
#   CMT_BIN       an already built cometbft to use instead of building one
#                 (its module version must still be CMT_VERSION)
#   TIMEOUT       overall limit in seconds           (default 900: a cold
#                 build of cometbft takes minutes; the nodes' part ~60 s)
#   SYNC          seconds allowed for the full nodes to sync (default 120)
#   SYNC_HEIGHT   height both full nodes must reach  (default 10)
#   LAG           blocks a full node may trail the validator (default 3)
#   HOLD          seconds the healthy state must last after sync (default 20)
#   KEEP_TMP=1    keep the temporary folder for inspection
set -euo pipefail

# The whole run ends within TIMEOUT seconds whatever hangs: the script
# re-runs itself under timeout(1), whose TERM reaches the cleanup trap.
if [[ -z ${PEXP2P_INTEROP_CHILD:-} ]]; then
	export PEXP2P_INTEROP_CHILD=1
	exec timeout --kill-after=30 "${TIMEOUT:-900}" "$0" "$@"
fi

CMT_VERSION=${CMT_VERSION:-v0.40.0}
SYNC=${SYNC:-120}
SYNC_HEIGHT=${SYNC_HEIGHT:-10}
LAG=${LAG:-3}
HOLD=${HOLD:-20}
for v in SYNC SYNC_HEIGHT LAG HOLD; do
	[[ ${!v} =~ ^[0-9]+$ ]] || { echo "interop: $v must be a whole number of ${v/SYNC_HEIGHT/blocks}, got '${!v}'" >&2; exit 2; }
done
REPO=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pexp2p-lp2p.XXXXXX")
# shellcheck source=interop/lib.sh
source "$REPO/interop/lib.sh"
need go
need curl
need jq
need python3

# free_port IP: a port free for both TCP and UDP on IP (libp2p listens on
# QUIC and, for pexp2p, TCP at the same port).
free_port() {
	python3 - "$1" <<'EOF'
import socket, sys
ip = sys.argv[1]
for _ in range(100):
    t = socket.socket()
    t.bind((ip, 0))
    port = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind((ip, port))
    except OSError:
        t.close()
        continue
    t.close()
    u.close()
    print(port)
    sys.exit(0)
sys.exit("no free TCP+UDP port on " + ip)
EOF
}

# 1. The unmodified binary, from the module proxy, outside this module.
mkdir -p "$TMP/bin"
if [[ -n ${CMT_BIN:-} ]]; then
	[[ -x $CMT_BIN ]] || { echo "interop: CMT_BIN=$CMT_BIN is not an executable file" >&2; exit 2; }
	CMT=$CMT_BIN
else
	log "building cometbft $CMT_VERSION from the module proxy"
	if ! (cd "$TMP" && GOFLAGS= GOBIN="$TMP/bin" go install "github.com/cometbft/cometbft/cmd/cometbft@$CMT_VERSION") >"$TMP/build-cometbft.log" 2>&1; then
		echo "interop: building cometbft $CMT_VERSION failed:" >&2
		tail -n 20 "$TMP/build-cometbft.log" >&2
		exit 1
	fi
	CMT="$TMP/bin/cometbft"
fi
# v0.40.0 still reports 0.39.0 from `cometbft version`; the build info has
# the module version that was built.
built=$(go version -m "$CMT" | awk '$1 == "mod" && $2 == "github.com/cometbft/cometbft" { print $3 }')
[[ $built == "$CMT_VERSION" ]] || { echo "interop: built cometbft module is '$built', want $CMT_VERSION" >&2; exit 1; }
log "cometbft module $built (reports $("$CMT" version))"

log "building pexp2p from $REPO"
(cd "$REPO" && go build -o "$TMP/bin/pexp2p" ./cmd/pexp2p)
PEX="$TMP/bin/pexp2p"

# 2. Three homes of one chain: the validator's genesis everywhere.
NODES=(val up pfn)
declare -A IP=([val]=127.0.0.1 [up]=127.0.0.2 [pfn]=127.0.0.3)
declare -A P2P RPC PEERID
"$PEX" cometbft init --home "$TMP/val" >"$TMP/init-val.log" 2>&1
"$CMT" init --home "$TMP/up" >"$TMP/init-up.log" 2>&1
"$PEX" cometbft init --home "$TMP/pfn" >"$TMP/init-pfn.log" 2>&1
cp "$TMP/val/config/genesis.json" "$TMP/up/config/genesis.json"
cp "$TMP/val/config/genesis.json" "$TMP/pfn/config/genesis.json"
CHAIN_ID=$(jq -r .chain_id "$TMP/val/config/genesis.json")
[[ $(jq '.validators | length' "$TMP/val/config/genesis.json") == 1 ]] || { echo "interop: the genesis should hold one validator" >&2; exit 1; }
log "chain ID $CHAIN_ID, one validator (val)"

# Peer IDs from each node_key.json. `cometbft show-node-id` prints the
# classic hex ID only, and `pexp2p show-node-id` reads pexp2p's own
# config.toml, so each key is read from a scratch home holding just it.
for n in "${NODES[@]}"; do
	mkdir -p "$TMP/keys/$n/config"
	cp "$TMP/$n/config/node_key.json" "$TMP/keys/$n/config/node_key.json"
	PEERID[$n]=$("$PEX" show-node-id --libp2p --home "$TMP/keys/$n" | tail -n 1 | tr -d '[:space:]')
	[[ ${PEERID[$n]} =~ ^12D3KooW[1-9A-HJ-NP-Za-km-z]+$ ]] || { echo "interop: no libp2p peer ID for $n (got '${PEERID[$n]}')" >&2; exit 1; }
	P2P[$n]=$(free_port "${IP[$n]}")
	RPC[$n]=$(free_port "${IP[$n]}")
done
VAL_HOSTPORT="${IP[val]}:${P2P[val]}"
VAL_MADDR="/ip4/${IP[val]}/udp/${P2P[val]}/quic-v1/p2p/${PEERID[val]}"

# configure HOME BOOTSTRAP: loopback listeners, non-strict book (loopback
# addresses), libp2p on; BOOTSTRAP is a TOML array for [p2p.libp2p]
# bootstrap_peers. Section-aware: laddr is in [rpc] and [p2p].
configure() {
	local n=$1 bootstrap=$2 cfg="$TMP/$1/config/config.toml"
	awk -v ip="${IP[$n]}" -v p2p="${P2P[$n]}" -v rpc="${RPC[$n]}" -v name="$n" -v bs="$bootstrap" '
		/^\[/ { sect = $0 }
		sect == "" && /^moniker = / { $0 = "moniker = \"" name "\"" }
		sect == "[rpc]" && /^laddr = / { $0 = "laddr = \"tcp://" ip ":" rpc "\"" }
		sect == "[p2p]" && /^laddr = / { $0 = "laddr = \"tcp://" ip ":" p2p "\"" }
		sect == "[p2p]" && /^seeds = / { $0 = "seeds = \"\"" }
		sect == "[p2p]" && /^persistent_peers = / { $0 = "persistent_peers = \"\"" }
		sect == "[p2p]" && /^addr_book_strict = / { $0 = "addr_book_strict = false" }
		sect == "[p2p]" && /^pex = / { $0 = "pex = true" }
		sect == "[p2p.libp2p]" && /^enabled = / { $0 = "enabled = true" }
		# v0.40.0 writes its empty list at the end of a comment line
		# ("# format: { host, … }bootstrap_peers = []"): cut it off there,
		# then write the key on its own line.
		sect == "[p2p.libp2p]" && /bootstrap_peers = / {
			sub(/bootstrap_peers = .*$/, "")
			print
			$0 = "bootstrap_peers = " bs
		}
		{ print }
	' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
	grep -q '^enabled = true' "$cfg" || { echo "interop: $cfg has no [p2p.libp2p] enabled = true after editing" >&2; exit 1; }
	grep -q '^bootstrap_peers = ' "$cfg" || { echo "interop: $cfg has no [p2p.libp2p] bootstrap_peers line after editing" >&2; exit 1; }
}
configure val "[]"
configure up "[{ host = \"$VAL_HOSTPORT\", id = \"${PEERID[val]}\" }]"
configure pfn "[]"
grep -q "id = \"${PEERID[val]}\"" "$TMP/up/config/config.toml" || { echo "interop: bootstrap_peers not written to up's config.toml" >&2; exit 1; }

rpc() { curl -sf --max-time 3 "http://${IP[$1]}:${RPC[$1]}/$2"; }
height() { rpc "$1" status 2>/dev/null | jq -r '.result.sync_info.latest_block_height // empty' 2>/dev/null || true; }
peers_of() { rpc "$1" net_info 2>/dev/null | jq -r '.result.peers[].node_info.id' 2>/dev/null || true; }
names_of() { # NAME: its peers by our names (unknown IDs as they are)
	local id n
	for id in $(peers_of "$1"); do
		for n in "${NODES[@]}"; do
			[[ $id == "${PEERID[$n]}" ]] && id=$n
		done
		printf '%s ' "$id"
	done
}
alive() { kill -0 "${PID[$1]}" 2>/dev/null; }
declare -A PID T0

# start NAME CMD...: run a node, wait until its RPC answers.
start() {
	local n=$1
	shift
	T0[$n]=$(date +%s)
	"$@" >"$TMP/$n.log" 2>&1 &
	PID[$n]=$!
	PIDS+=("$!")
	local deadline=$(($(date +%s) + 30))
	until rpc "$n" status >/dev/null 2>&1; do
		alive "$n" || { echo "interop: $n exited at start" >&2; exit 1; }
		(($(date +%s) <= deadline)) || { echo "interop: $n's RPC did not answer within 30s" >&2; exit 1; }
		sleep 0.3
	done
	log "$n up: ${PEERID[$n]} p2p ${IP[$n]}:${P2P[$n]} rpc ${IP[$n]}:${RPC[$n]}"
}

# 3. The validator, then the two full nodes.
start val "$PEX" cometbft start --home "$TMP/val" --proxy_app kvstore --pexp2p.ensure_peers_period 1s
deadline=$(($(date +%s) + 30))
until [[ $(height val) -ge 2 ]]; do
	(($(date +%s) <= deadline)) || { echo "interop: FAIL — the validator alone made no blocks in 30s" >&2; exit 1; }
	sleep 0.5
done
log "validator at height $(height val); its multiaddr $VAL_MADDR"
start up "$CMT" start --home "$TMP/up" --proxy_app kvstore
start pfn "$PEX" cometbft start --home "$TMP/pfn" --proxy_app kvstore --pexp2p.ensure_peers_period 1s --p2p.seeds "$VAL_MADDR"

# 4. Both full nodes sync and follow the validator.
declare -A SYNCED
following() { # NAME: at SYNC_HEIGHT or more and within LAG of the validator
	local h v
	h=$(height "$1")
	v=$(height val)
	[[ -n $h && -n $v ]] && ((h >= SYNC_HEIGHT && h + LAG >= v))
}
show() {
	for n in "${NODES[@]}"; do
		log "  $n height $(height "$n") peers: $(names_of "$n")"
	done
}
log "waiting up to ${SYNC}s for both full nodes to reach height $SYNC_HEIGHT"
deadline=$(($(date +%s) + SYNC))
while [[ -z ${SYNCED[up]:-} || -z ${SYNCED[pfn]:-} ]]; do
	for n in up pfn; do
		alive "$n" || { echo "interop: FAIL — $n exited" >&2; exit 1; }
		if [[ -z ${SYNCED[$n]:-} ]] && following "$n"; then
			SYNCED[$n]=$(($(date +%s) - T0[$n]))
			log "$n synced: height $(height "$n") (validator $(height val)) ${SYNCED[$n]}s after its start"
		fi
	done
	if (($(date +%s) > deadline)); then
		show
		echo "interop: FAIL — full nodes not at height $SYNC_HEIGHT within ${SYNC}s (up: ${SYNCED[up]:-no}, pfn: ${SYNCED[pfn]:-no})" >&2
		exit 1
	fi
	sleep 1
done
show

# 5. Peering: up and the validator list each other. pfn's only known
#    address is the validator's, and up never dials anyone but its
#    bootstrap peer, so up in pfn's switch means pfn learnt up's address
#    through PEX (from the validator) and dialled it.
FAILS=()
peered() { # A B: B is in A's /net_info, asked again for up to 10 s
	local deadline=$(($(date +%s) + 10))
	until grep -qx "${PEERID[$2]}" <<<"$(peers_of "$1")"; do
		(($(date +%s) <= deadline)) || return 1
		sleep 1
	done
}
peered up val || FAILS+=("up's /net_info does not list the validator")
peered val up || FAILS+=("the validator's /net_info does not list up")
if peered pfn up; then
	log "pfn peered with up, an address it can only have learnt through PEX"
else
	FAILS+=("pfn is not peered with up: no sign of PEX")
fi

# 6. The unmodified node stays healthy for HOLD seconds.
h0=$(height up)
log "watching the unmodified node for ${HOLD}s"
deadline=$(($(date +%s) + HOLD))
while (($(date +%s) < deadline)); do
	alive up || { FAILS+=("up exited"); break; }
	rpc up health >/dev/null 2>&1 || FAILS+=("up's RPC /health did not answer at $(($(date +%s) - START))s")
	grep -qx "${PEERID[val]}" <<<"$(peers_of up)" || FAILS+=("up lost the validator at $(($(date +%s) - START))s")
	sleep 2
done
show
h1=$(height up)
v1=$(height val)
[[ -n $h1 && $h1 -gt $h0 ]] || FAILS+=("up stopped syncing: height $h0 → ${h1:-none} in ${HOLD}s")
[[ -n $h1 && -n $v1 ]] && ((h1 + LAG >= v1)) || FAILS+=("up trails the validator: ${h1:-none} vs ${v1:-none}")
for n in "${NODES[@]}"; do
	if grep -q -E '^panic:|goroutine [0-9]+ \[running\]' "$TMP/$n.log"; then
		FAILS+=("$n's log shows a panic")
		grep -n -m 5 -E '^panic:' "$TMP/$n.log" >&2 || true
	fi
done

# 7. Summary.
upstream_errors=$(grep -c -E '^E\[' "$TMP/up.log" || true)
# Their messages, counted (CometBFT's plain log: "E[time] message  k=v").
upstream_kinds=$(grep -E '^E\[' "$TMP/up.log" | sed -E 's/^E\[[^]]*\] +//; s/ {2,}.*$//' | sort | uniq -c | awk '{ c = $1; $1 = ""; printf "%s%s×%d", sep, substr($0, 2), c; sep = ", " }' || true)
echo
echo "cometbft-lp2p interop: cometbft module $built (unmodified), chain $CHAIN_ID"
for n in "${NODES[@]}"; do
	printf '  %-4s %-10s %s  height %-5s peers: %s\n' "$n" "${IP[$n]}" "${PEERID[$n]}" "$(height "$n")" "$(names_of "$n")"
done
echo "  seconds to height $SYNC_HEIGHT: up ${SYNCED[up]}s, pfn ${SYNCED[pfn]}s (from each node's start)"
echo "  up: height $h0 → $h1 over ${HOLD}s of watch; error lines in its log: $upstream_errors${upstream_kinds:+ ($upstream_kinds)}"
# pfn's switch must keep the validator it has as its seed (a regular
# node): any "Removing peer" of it is the flapping cometnode once had.
flaps=$(grep -c -E 'Removing peer .*peer_id='"${PEERID[val]}" "$TMP/pfn.log" || true)
bans=$(grep -h -i -E 'ban(ned|ning)? ' "$TMP/val.log" "$TMP/pfn.log" | grep -c -v 'ban_time' || true)
echo "  pfn removed the validator (its seed) from its switch $flaps times; ban lines in val+pfn logs: $bans"
((flaps == 0)) || FAILS+=("pfn's switch dropped the validator, its seed, $flaps times")
((bans == 0)) || FAILS+=("$bans ban lines in the pexp2p nodes' logs")
if ((${#FAILS[@]} > 0)); then
	for f in "${FAILS[@]}"; do echo "  FAIL: $f"; done
	log "FAIL"
	exit 1
fi
log "PASS: a pexp2p validator, an unmodified cometbft $built libp2p full node and a pexp2p full node from one seed address share one chain"
