#!/usr/bin/env bash
# Soak: `unwindtrace attach --mode full` (exact counts) on the bundled GNU-libunwind workload under a signal storm for
# SECONDS. Every INTERVAL seconds it prints the tracer's resident memory, open descriptors and CPU
# time; at the end it compares the tracer's counts with the workload's own and says whether
# memory and descriptors stayed flat. Exit status 1 when a check fails.
# Usage: scripts/soak.sh [SECONDS=600] [SIGNAL_RATE=20000] [THREADS=4] [INTERVAL=10]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}; rate=${2:-20000}; threads=${3:-4}; interval=${4:-10}
source "$top/scripts/lib/measure_prereqs.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

coproc W { "$workload" --wait-for-go --quiet --threads "$threads" --signal-rate "$rate" --duration "$seconds" \
              --json "$tmp/workload.json"; }
read -r _ pid <&"${W[0]}"
"$tool" attach -p "$pid" --mode full -q --json "$tmp/report.json" >"$tmp/attach.out" 2>"$tmp/attach.err" &
tracer=$!
until grep -q 'attached to PID' "$tmp/attach.err"; do
  kill -0 "$tracer" 2>/dev/null || { cat "$tmp/attach.err" >&2; exit 1; }
  sleep 0.05
done
echo go >&"${W[1]}"

echo "# soak: attach on the GNU workload, $threads thread(s), $rate signals/s offered, ${seconds}s"
echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r), $(nproc) CPUs"
printf '%8s %10s %6s %10s\n' t_s rss_kib fds cpu_s
ticks=$(getconf CLK_TCK)
sample() {  # t rss fds cpu of the tracer, or nothing once it is gone
  local rss fds cpu
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$tracer/status" 2>/dev/null) || return 1
  fds=$(ls "/proc/$tracer/fd" 2>/dev/null | wc -l)
  cpu=$(awk -v t="$ticks" '{sub(/.*\) /, ""); printf "%.1f", ($12 + $13) / t}' "/proc/$tracer/stat" 2>/dev/null) || return 1
  [ -n "$rss" ] && echo "$1 $rss $fds $cpu"
}
start=$SECONDS
: >"$tmp/samples"
while kill -0 "$pid" 2>/dev/null; do  # until the workload ends (then the tracer detaches)
  if line=$(sample $((SECONDS - start))); then
    echo "$line" >>"$tmp/samples"
    printf '%8s %10s %6s %10s\n' $line
  fi
  for _ in $(seq $((interval * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
done
status=0; wait "$tracer" || status=$?
wait
[ "$status" -eq 0 ] || { echo "soak.sh: attach exited with status $status:" >&2; cat "$tmp/attach.err" >&2; exit 1; }

# Flat: from the second sample on (the first is taken while the first events arrive), resident
# memory grows by at most 1 MiB and the descriptor count not at all.
read -r rss_first rss_last rss_max fds_first fds_last < <(awk 'NR == 2 {r1 = $2; f1 = $3} NR >= 2 {if ($2 > m) m = $2; r = $2; f = $3}
  END {print r1, r, m, f1, f}' "$tmp/samples")
own=$tmp/workload.json report=$tmp/report.json
signal=$(jq -r .signal "$own")
own_resumes=$(jq .resumes "$own"); own_signals=$(jq .signals_handled "$own")
traced_resumes=$(jq .process.resumes.count "$report")
traced_signals=$(jq --arg s "$signal" '[.process.signals.by_signal[] | select(.name == $s) | .total] | add // 0' "$report")
lost=$(jq -c .lost "$report")

failed=0
check() {  # description, condition
  if eval "$2"; then echo "ok    $1"; else echo "FAIL  $1"; failed=1; fi
}
echo
echo "tracer RSS: ${rss_first} KiB at the second sample, ${rss_last} KiB at the end, ${rss_max} KiB at most"
echo "tracer fds: ${fds_first} at the second sample, ${fds_last} at the end"
echo "workload: $own_resumes resumes, $own_signals $signal handled; tracer: $traced_resumes resumes, $traced_signals $signal counted; lost $lost"
check "resident memory flat (grew $((rss_last - rss_first)) KiB, limit 1024)" "[ $((rss_max - rss_first)) -le 1024 ]"
check "open descriptors flat" "[ $fds_last -eq $fds_first ]"
check "every $signal the workload handled counted ($traced_signals of $own_signals)" "[ $traced_signals -eq $own_signals ]"
check "resumes within 1% of the workload's ($traced_resumes of $own_resumes)" \
  "[ \$(( (traced_resumes - own_resumes) * 100 )) -le $own_resumes ] && [ \$(( (own_resumes - traced_resumes) * 100 )) -le $own_resumes ]"
check "nothing lost (or counted: $lost)" "[ \"\$(jq '[.lost[]?] | map(numbers) | add // 0' $report)\" -eq 0 ]"
exit "$failed"
