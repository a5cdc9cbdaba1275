#!/usr/bin/env bash
# Time of `unwindtrace scan --all` with about N user processes (kernel threads not counted) on the host: starts enough bundled
# workloads (idle, waiting for 'go'; a third each GNU, LLVM, libgcc builds) to reach N, then
# times REPS scans and prints each time and the median.
# Usage: scripts/bench_scan.sh [N=100] [REPS=5]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
want=${1:-100}; reps=${2:-5}
build=${UT_BUILD_DIR:-$top/build}
tool=$build/unwindtrace
[ -x "$tool" ] || { echo "bench_scan.sh: build first: scripts/setup.sh" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench_scan.sh: run as root (reads every process)" >&2; exit 4; }

fifo=$(mktemp -u); mkfifo "$fifo"
exec 3<>"$fifo"  # held open: the workloads wait on it for 'go' until this script exits
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -f "$fifo"; }
trap cleanup EXIT
user_processes() { local n=0 p; for p in /proc/[0-9]*; do [ -e "$p/exe" ] && n=$((n + 1)); done; echo "$n"; }
have=$(user_processes)
flavors=(gnu llvm libgcc)
for ((i = 0; have + i < want; i++)); do
  "$build/workload/unwindtrace-workload-${flavors[i % 3]}" --wait-for-go --quiet <&3 >/dev/null &
  pids+=($!)
done
sleep 1
echo "# scan --all with $(user_processes) user processes ($((${#pids[@]})) bundled workloads started)"
times=()
for i in $(seq "$reps"); do
  start=$(date +%s.%N)
  "$tool" scan --all --json - >/dev/null
  end=$(date +%s.%N)
  t=$(python3 -c "print(f'{$end - $start:.3f}')")
  times+=("$t"); echo "run $i: $t s"
done
echo "median: $(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') s"
"$tool" scan --all | tail -1
