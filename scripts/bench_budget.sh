#!/usr/bin/env bash
# The CPU budget under load: one bundled GNU-libunwind workload (THREADS threads, RATE signals/s)
# traced by `unwindtrace record --mode MODE --cpu-budget PERCENT --cpu-budget-window WINDOW` for
# SECONDS, in segments of SEGMENT seconds. Prints each budget step as record wrote it (host
# records), the tracer's own CPU by /proc (user space only: the BPF programs' time is charged to
# the workload), and per segment the budget level and the resumes and signals counted. Timing
# depends on the host's load: the script prints uptime before and after.
# Usage: scripts/bench_budget.sh [PERCENT=2] [MODE=full] [SECONDS=40] [THREADS=2] [RATE=5000] [WINDOW=5] [SEGMENT=5]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
percent=${1:-2}; mode=${2:-full}; seconds=${3:-40}; threads=${4:-2}; rate=${5:-5000}; window=${6:-5}; segment=${7:-5}
source "$top/scripts/lib/measure_prereqs.sh"
tmp=$(mktemp -d)
worker=
cleanup() { [ -n "$worker" ] && kill -9 "$worker" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$workload" --quiet --threads "$threads" --signal-rate "$rate" --duration $((seconds + 30)) --json "$tmp/own.json" >/dev/null &
worker=$!
echo "# before: $(uptime)"
echo "# record --mode $mode --cpu-budget $percent --cpu-budget-window $window, ${seconds}s; workload: $threads threads, $rate signals/s"
"$tool" record -q --output "$tmp" --duration "$seconds" --segment-s "$segment" --mode "$mode" \
  --cpu-budget "$percent" --cpu-budget-window "$window" -p "$worker" 2>"$tmp/record.err" &
tracer=$!
ticks=0
while kill -0 "$tracer" 2>/dev/null; do
  ticks=$(awk '{print $14 + $15}' "/proc/$tracer/stat" 2>/dev/null || echo "$ticks")
  sleep 0.5
done
status=0; wait "$tracer" || status=$?
echo "# after:  $(uptime)"
grep 'CPU budget' "$tmp/record.err" | sed 's/^unwindtrace: /step: /' || echo "no budget step"
echo "record: exit status $status; its own CPU (user space, /proc): $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
  'BEGIN {printf "%.2f s, %.2f%% of a CPU", t / hz, t / hz / s * 100}')"
cat "$tmp"/*.jsonl | jq -r 'select(.kind == "host") | "host record \(.time): level \(.cpu_budget.level), used \(.cpu_budget.used_percent // "-")% (\(.cpu_budget.degradations) down, \(.cpu_budget.recoveries) up)"'
cat "$tmp"/*.jsonl | jq -r 'select(.kind == "process") | "segment \(.started_at) .. \(.ended_at): level \(.cpu_budget_level), resumes \(.counts.resumes), signals \(.counts.signals)"'
[ "$status" -eq 0 ]
