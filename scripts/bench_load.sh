#!/usr/bin/env bash
# Load: PROCS bundled GNU-libunwind workloads of THREADS threads each, RATE signals/s offered in
# all (split evenly; each workload's sender sends at its rate whether or not the target thread
# still has one pending: --coalesce), traced by one `unwindtrace attach -p P1 -p P2 ...` for
# SECONDS, in full mode (every resume traced, so counts compare exactly). The storms start only
# once every workload is attached. If this build's attach takes a single -p, only the first
# workload is traced (the others still load the machine) and the script says so. Prints the
# tracer's peak RSS and descriptors (sampled each second), what the workloads did by their own
# count, what the tracer counted and what it says it lost, and its other messages (counted). Exit status 1 if the tracer fails or crashes, or a workload fails.
# Usage: scripts/bench_load.sh [PROCS=100] [THREADS=10] [RATE=200000] [SECONDS=30]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
procs=${1:-100}; threads=${2:-10}; rate=${3:-200000}; seconds=${4:-30}
source "$top/scripts/lib/measure_prereqs.sh"
tmp=$(mktemp -d)
[ -n "${UT_KEEP:-}" ] && echo "# keeping $tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; [ -n "${UT_KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT

# Each workload waits on its own FIFO for "go", so all start their storms once traced.
per_proc_rate=$(awk -v r="$rate" -v n="$procs" 'BEGIN {printf "%.0f", r / n}')
# One sender thread per 40k signals/s (a busy 2-core VM gives one thread too little CPU for
# more), at most one per worker thread.
senders=$(awk -v r="$per_proc_rate" -v t="$threads" 'BEGIN {n = int((r + 39999) / 40000); if (n < 1) n = 1; if (n > t) n = t; print n}')
for i in $(seq "$procs"); do
  mkfifo "$tmp/go.$i"
  "$workload" --wait-for-go --quiet --threads "$threads" --signal-rate "$per_proc_rate" --coalesce --senders "$senders" \
    --duration "$seconds" --json "$tmp/own.$i.json" <"$tmp/go.$i" >"$tmp/ready.$i" &
  pids+=($!)
  exec {fd}>"$tmp/go.$i"
  eval "go_fd_$i=$fd"
done
for i in $(seq "$procs"); do
  until grep -q '^ready' "$tmp/ready.$i" 2>/dev/null; do sleep 0.02; done
done

pid_args=()
for p in "${pids[@]}"; do pid_args+=(-p "$p"); done
traced_procs=$procs
if ! "$tool" attach --help 2>&1 | grep -q 'repeat for several'; then
  echo "# this attach takes one -p: tracing only the first of $procs workloads"
  pid_args=(-p "${pids[0]}"); traced_procs=1
fi
started=$(date +%s.%N)
# The tracer does not inherit the FIFOs' write ends: its descriptor count is its own.
go_fds=(); for i in $(seq "$procs"); do fd_var=go_fd_$i; go_fds+=("${!fd_var}"); done
(for fd in "${go_fds[@]}"; do eval "exec $fd>&-"; done
 exec "$tool" attach "${pid_args[@]}" --mode full -q --json "$tmp/report.json" >"$tmp/attach.out" 2>"$tmp/attach.err") &
tracer=$!
# One line per process added ("...; Ctrl-C to stop"): go only once all are traced. (Going after
# the first line let the workloads run their SECONDS while 1,000 busy threads slowed the attach
# of the others, so some had exited before they were added.)
attached() { local n; n=$(grep -c 'Ctrl-C to stop' "$tmp/attach.err" 2>/dev/null); echo "${n:-0}"; }
until [ "$(attached)" -ge "$traced_procs" ]; do
  kill -0 "$tracer" 2>/dev/null || { echo "bench_load.sh: attach failed:" >&2; cat "$tmp/attach.err" >&2; exit 1; }
  sleep 0.05
done
attach_s=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
for i in $(seq "$procs"); do fd_var=go_fd_$i; echo go >&"${!fd_var}"; done

echo "# load: $procs GNU workloads x $threads threads, $rate signals/s offered in all, ${seconds}s; $traced_procs traced by one attach"
echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), $(nproc) CPUs"
rss_max=0; fds_max=0; samples=0
while kill -0 "$tracer" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$tracer/status" 2>/dev/null || echo 0)
  fds=$(ls "/proc/$tracer/fd" 2>/dev/null | wc -l)
  [ "${rss:-0}" -gt "$rss_max" ] && rss_max=$rss
  [ "$fds" -gt "$fds_max" ] && fds_max=$fds
  samples=$((samples + 1))
  sleep 1
done
status=0; wait "$tracer" || status=$?
failed_workloads=0
for p in "${pids[@]}"; do wait "$p" || failed_workloads=$((failed_workloads + 1)); done
pids=()

own() {  # sum of a field over the traced workloads' own results
  local files=("$tmp"/own.*.json)
  [ "$traced_procs" -eq 1 ] && files=("$tmp/own.1.json")
  jq -s "map(.$1) | add" "${files[@]}"
}
all_signals=$(jq -s 'map(.signals_handled) | add' "$tmp"/own.*.json)
all_sent=$(jq -s 'map(.signals_sent) | add' "$tmp"/own.*.json)
echo "attach: exit status $status, attached in ${attach_s}s; RSS peak $rss_max KiB, fds peak $fds_max ($samples samples)"
per_s() { awk -v s="$1" -v d="$seconds" 'BEGIN {printf "%.0f", s / d}'; }
echo "workloads: $failed_workloads failed; signals/s in all: $(per_s "$all_sent") sent (asked $rate), $(per_s "$all_signals") delivered (the rest merged while pending)"
grep -v 'Ctrl-C to stop' "$tmp/attach.err" | sort | uniq -c | head -5 || true
if [ -s "$tmp/report.json" ]; then
  jq -r --argjson own_resumes "$(own resumes)" --argjson own_signals "$(own signals_handled)" '
    (if type == "array" then . else [.] end) as $r
    | "traced: \($r | length) report(s); resumes \($r | map(.process.resumes.count) | add) (workloads: \($own_resumes)), signals \($r | map(.process.signals.total // ([.process.signals.by_signal[]?.total] | add) // 0) | add) (workloads: \($own_signals))",
      "lost: \($r | map(.lost | to_entries | map(select(.value | type == "number"))) | add | group_by(.key) | map("\(.[0].key) \(map(.value) | add)") | join(", "))"' \
    "$tmp/report.json"
else
  echo "no report written"
fi
[ "$status" -eq 0 ] && [ "$failed_workloads" -eq 0 ]
