#!/usr/bin/env bash
# Overhead of `unwindtrace attach` on the bundled GNU-libunwind workload: exceptions/s with no
# tracer and with the tracer attached, interleaved, REPS times; prints each pair's ratio and the
# median. Machines here are noisy 2-core VMs: only ratios within one run mean anything.
# Usage: scripts/bench_attach.sh [REPS=5] [SECONDS=5] [SIGNAL_RATE=20000] [THREADS=1]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}; seconds=${2:-5}; rate=${3:-20000}; threads=${4:-1}
tool=$top/build/unwindtrace
workload=$top/build/workload/unwindtrace-workload-gnu
[ -x "$tool" ] && [ -x "$workload" ] || { echo "bench_attach.sh: build first: scripts/setup.sh" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench_attach.sh: run as root (BPF)" >&2; exit 4; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
args=(--quiet --duration "$seconds" --signal-rate "$rate" --threads "$threads")

rate_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["exceptions_per_s"])'; }

untraced() { "$workload" "${args[@]}" | rate_of; }

traced() {
  coproc W { "$workload" --wait-for-go "${args[@]}"; }
  local ready pid
  read -r ready pid <&"${W[0]}"
  "$tool" attach -p "$pid" -q --json "$tmp/report.json" >"$tmp/attach.out" 2>"$tmp/attach.err" &
  local tracer=$!
  until grep -q 'attached to PID' "$tmp/attach.err"; do
    kill -0 "$tracer" 2>/dev/null || { cat "$tmp/attach.err" >&2; exit 1; }
    sleep 0.05
  done
  echo go >&"${W[1]}"
  rate_of <&"${W[0]}"
  wait "$tracer"
}

echo "# attach overhead: GNU workload, $threads thread(s), $rate signals/s, ${seconds}s per run, $reps pairs"
echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
printf '%-5s %14s %14s %8s\n' run untraced/s traced/s ratio
ratios=()
for i in $(seq "$reps"); do
  a=$(untraced); b=$(traced)
  r=$(python3 -c "print(f'{$b/$a:.3f}')")
  ratios+=("$r")
  printf '%-5s %14.0f %14.0f %8s\n' "$i" "$a" "$b" "$r"
done
printf 'median ratio: %s  (min %s)\n' \
  "$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
  "$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)"
