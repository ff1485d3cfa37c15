#!/usr/bin/env bash
# Runs pexp2p's native fuzz targets one after another, each for the given
# time (default 1m), one worker each so the machine stays usable.
#
#   scripts/fuzz.sh [duration] [target ...]     e.g. scripts/fuzz.sh 10m
#   FUZZ_COMMIT=1 scripts/fuzz.sh 10m           also commits new failing inputs
#
# Targets: wire (transport FuzzReadMessage), multiaddr (transport
# FuzzMultiaddr), load (addrbook FuzzLoad), ops (addrbook FuzzOperations).
# A failing input is written by `go test` under <pkg>/testdata/fuzz/<Fuzz>/;
# such files must be committed so the failure is replayed by every plain
# `go test` from then on. The script lists them at the end (and commits them
# with FUZZ_COMMIT=1). A summary line per target goes to stdout and the full
# logs to ${FUZZ_LOGDIR:-/tmp/pexp2p-fuzz}.
#
# FUZZ_MINIMIZE (default 5s) bounds the minimization of each new
# interesting input. Go's default of 60 s starves FuzzOperations, whose
# inputs are expensive to run and whose coverage grows on most inputs: in
# a 10-minute run with the default it executed 67 inputs in all.
set -uo pipefail
cd "$(dirname "$0")/.."

dur=${1:-1m}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(wire multiaddr load ops)
logdir=${FUZZ_LOGDIR:-/tmp/pexp2p-fuzz}
mkdir -p "$logdir"

declare -A pkg=([wire]=./transport [multiaddr]=./transport [load]=./addrbook [ops]=./addrbook)
declare -A fn=([wire]=FuzzReadMessage [multiaddr]=FuzzMultiaddr [load]=FuzzLoad [ops]=FuzzOperations)

status=0
for t in "${targets[@]}"; do
	if [ -z "${pkg[$t]:-}" ]; then
		echo "unknown target $t (want wire, multiaddr, load, ops)" >&2
		exit 2
	fi
	p=${pkg[$t]} f=${fn[$t]} log="$logdir/$t.log"
	start=$(date -u +%FT%TZ)
	go test -run '^$' -fuzz "^${f}\$" -fuzztime "$dur" -fuzzminimizetime "${FUZZ_MINIMIZE:-5s}" -parallel 1 "$p" >"$log" 2>&1
	rc=$?
	last=$(grep -E '^fuzz: elapsed' "$log" | tail -1)
	if [ $rc -eq 0 ]; then res=ok; else res=FAIL; status=1; fi
	echo "$t $p $f start=$start rc=$rc $res | $last"
	[ $rc -ne 0 ] && grep -E -- '--- FAIL|Failing input written|go test -run' "$log" | sed 's/^/    /'
done

new=$(git status --porcelain --untracked-files=all -- '*/testdata/fuzz/*' | awk '{print $2}')
if [ -n "$new" ]; then
	echo "new or changed corpus entries (commit them):"
	echo "$new" | sed 's/^/    /'
	if [ "${FUZZ_COMMIT:-0}" = 1 ]; then
		# shellcheck disable=SC2086
		git add $new && git commit -m "fuzz: failing inputs found by scripts/fuzz.sh $dur" -- $new
	fi
fi
exit $status
