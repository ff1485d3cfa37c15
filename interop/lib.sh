# Shared by the interop scripts (sourced, not run): timestamps, the
# process list every script fills, and the exit trap that stops those
# processes, shows their logs on failure and removes the scratch folder.
# The sourcing script sets TMP (its scratch folder) first.

PIDS=()
START=$(date +%s)

log() { printf '[%4ds] %s\n' "$(($(date +%s) - START))" "$*"; }

interop_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		# Give each process a moment to save and exit, then insist.
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.5
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [[ $rc -ne 0 ]]; then
		for f in "$TMP"/*.log; do
			[[ -f $f ]] || continue
			echo "----- last lines of $(basename "$f") -----"
			tail -n 25 "$f"
		done
	fi
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		echo "kept $TMP"
	else
		rm -rf "$TMP"
	fi
	log "done (exit $rc)"
	exit "$rc"
}
trap interop_cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null || { echo "interop: $1 is required" >&2; exit 2; }; }
