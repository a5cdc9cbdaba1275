#!/usr/bin/env bash
# What `unwindtrace attach` costs the traced program, per mode, against no tracer and against the
# naive bpftrace script (uprobe on _Ux86_64_setcontext + signal_deliver tracepoint, counts in
# maps). Throughput is the bundled GNU workload's own exceptions/s. Configurations run
# interleaved (rotating order) REPS times; ratios are paired within a repetition; min and median
# are printed. Machines here are noisy 2-core VMs: only numbers from one run compare.
#
# callsite-trap is signal-only plus the kernel's own uprobe event (tracefs, no BPF) on the call
# site where unwindtrace counts resumes: the trap alone, the floor of any uprobe-based resume count
# there (bpftrace cannot probe it: the call lies in a function without a symbol).
#
# Sections: main comparison (full mode with and without --slot-checks; with added ns per signal and per resume, tracer CPU, lost events,
# start-up), tracer CPU at 1k signals/s, lost events at 200k signals/s offered, growth with
# workload threads (1, 10, 100) and traced processes (1, 10, 100, with -p repeated), and
# scripts/bench_scan.sh. Installs Debian's bpftrace with apt-get if missing (bench only).
#
# Runs last 10 s by default: one whole period of sampled mode's default duty cycle (0.5 s on
# every 10 s), so its cost is measured at the duty it has in production.
#
# Usage: scripts/bench.sh [REPS=5] [SECONDS=10] [SIGNAL_RATE=20000] [SECTIONS=main,cpu,lost,threads,procs,scan]
#        [SCALE_REPS=3] (repetitions of the threads and procs sections)
# UT_BENCH_RAW=FILE appends every run's line (see scripts/bench_stats.py) to FILE.
# UT_BENCH_MODES="none signal-only sampled" limits the main comparison to those configurations
# (none first; per-resume costs need signal-only, full and bpftrace). Default: none signal-only
# full full+slot-checks sampled bpftrace callsite-trap.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}; seconds=${2:-10}; rate=${3:-20000}; sections=${4:-main,cpu,lost,threads,procs,scan}
scale_reps=${5:-3}
build=${UT_BUILD_DIR:-$top/build}  # a copy of the build keeps a long run safe from rebuilds
tool=$build/unwindtrace
workload=$build/workload/unwindtrace-workload-gnu
depth=2  # the workload's default: resumes per throw = depth + 1
[ -x "$tool" ] && [ -x "$workload" ] || { echo "bench.sh: build first: scripts/setup.sh" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: run as root (BPF)" >&2; exit 4; }
if ! command -v bpftrace >/dev/null; then
  echo "# installing bpftrace (Debian package) for the comparison" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bpftrace >/dev/null
fi
tmp=$(mktemp -d)
tracer_pid=
# The kernel's per-program run time (kernel.bpf_stats_enabled) gives what the BPF programs cost
# per call, free of the host's noise; it adds ~20-40 ns per program run, to both tracers alike.
stats_before=$(sysctl -n kernel.bpf_stats_enabled)
sysctl -qw kernel.bpf_stats_enabled=1
tracefs=/sys/kernel/tracing
cleanup() {
  set +e  # every step must run, whatever the one before returned
  trap_off
  [ -n "$tracer_pid" ] && kill "$tracer_pid" 2>/dev/null
  pkill -P $$ 2>/dev/null
  sysctl -qw kernel.bpf_stats_enabled="$stats_before"
  rm -rf "$tmp"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
has() { [[ ",$sections," == *",$1,"* ]]; }
py() { python3 -c "$@"; }

# --- workloads: N processes started with --wait-for-go, released together ---------------------
wl_out=(); wl_fd=(); wl_pid=(); wl_bg=()
start_workloads() {  # N THREADS RATE_PER_PROCESS SECONDS
  wl_out=(); wl_fd=(); wl_pid=(); wl_bg=()
  local i fd
  for ((i = 0; i < $1; i++)); do
    mkfifo "$tmp/go.$i"
    "$workload" --wait-for-go --quiet --threads "$2" --signal-rate "$3" --duration "$4" \
      <"$tmp/go.$i" >"$tmp/wl.$i" &
    wl_bg+=($!)
    exec {fd}>"$tmp/go.$i"
    wl_fd+=("$fd"); wl_out+=("$tmp/wl.$i")
  done
  for ((i = 0; i < $1; i++)); do
    until [ -s "${wl_out[i]}" ]; do sleep 0.02; done
    wl_pid+=("$(awk 'NR == 1 {print $2}' "${wl_out[i]}")")
  done
}
go_workloads() { local fd; for fd in "${wl_fd[@]}"; do echo go >&"$fd"; exec {fd}>&-; done; }
# Sums of the workloads' own results: exceptions/s, throws, resumes, signals, storm Hz.
workload_totals() {
  py 'import json,sys
rs=[json.loads(open(f).read().splitlines()[1]) for f in sys.argv[1:]]
print(sum(r["exceptions_per_s"] for r in rs), sum(r["throws"] for r in rs), sum(r["resumes"] for r in rs),
      sum(r["signals_handled"] for r in rs), sum(r["storm"]["achieved_hz"] or 0 for r in rs))' "${wl_out[@]}"
}
# CPU time of the workloads' worker threads (ut-worker-*), in ticks, sampled until they exit: the
# tracer's costs (uprobe traps, BPF programs, signal delivery) are charged to these threads, so
# throws per worker-CPU-second shows them even when other work on the host steals the CPUs.
worker_ticks() {  # PID...
  local -A last
  local tid ticks p alive
  while :; do
    alive=0
    for p; do [ -e "/proc/$p/task/$p" ] && alive=1; done
    [ "$alive" = 1 ] || break
    while read -r tid ticks; do last[$tid]=$ticks; done < <(
      for p; do cat /proc/"$p"/task/*/stat 2>/dev/null; done | awk '$2 ~ /^\(ut-worker/ {print $1, $14 + $15}')
    sleep 0.2
  done
  local sum=0; for ticks in "${last[@]}"; do sum=$((sum + ticks)); done
  echo "$sum"
}
# Mean run time per call of the BPF programs process PID holds, from /proc/PID/fdinfo: the
# signal side (every program type but kprobe) and the resume side (kprobe: the uprobe). "- -"
# without programs.
prog_ns_per_call() {
  [ -n "${1:-}" ] || { echo "- -"; return; }
  cat /proc/"$1"/fdinfo/* 2>/dev/null | awk '
    /^prog_type:/ {side = ($2 == 2) ? "resume" : "signal"}
    /^run_time_ns:/ {ns[side] += $2}
    /^run_cnt:/ {n[side] += $2}
    END {printf "%s %s\n", n["signal"] ? ns["signal"] / n["signal"] : "-", n["resume"] ? ns["resume"] / n["resume"] : "-"}'
}
# callsite-trap: a tracefs uprobe event on the resume probe's call site in workload PID, where
# unwindtrace's analysis puts it (a signal-only attach of a moment reports it; the workload waits
# for "go" meanwhile).
trap_on() {
  "$tool" attach -p "$1" --mode signal-only --duration 0.2 -q --json "$tmp/callsite.json" >/dev/null 2>&1 ||
    { echo "bench.sh: cannot find the resume probe's call site" >&2; exit 1; }
  local site; site=$(jq -r '.routines[0] | "\(.object_path):\(.probes[0].file_offset)"' "$tmp/callsite.json")
  echo "p:ut_bench/callsite $site" >>"$tracefs/uprobe_events"
  echo 1 >"$tracefs/events/ut_bench/callsite/enable"
}
trap_off() {  # the event's hits, and it removed
  [ -d "$tracefs/events/ut_bench/callsite" ] || return 0
  echo 0 >"$tracefs/events/ut_bench/callsite/enable"
  awk '/callsite/ {print $3}' "$tracefs/uprobe_profile" >"$tmp/trap_hits"
  echo "-:ut_bench/callsite" >>"$tracefs/uprobe_events"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rm_fifos() { rm -f "$tmp"/go.* "$tmp"/wl.*; }

# --- one measured run: prints "exc/s throws resumes signals storm_hz tracer_cpu% lost startup_ms
#     load_ms attach_ms worker_cpu_s bpf_ns_per_signal bpf_ns_per_resume"
run() {  # MODE THREADS PROCESSES RATE_PER_PROCESS SECONDS
  local mode=$1 threads=$2 procs=$3 prate=$4 secs=$5
  start_workloads "$procs" "$threads" "$prate" "$secs"
  local t0 t1 c0=0 c1=0 startup=0 lost=0 load=0 attach=0 start_ns
  tracer_pid=
  start_ns=$(date +%s%N)
  case $mode in
    none) ;;
    bpftrace)
      local lib
      lib=$(awk '$6 ~ /libunwind\.so\.8/ {print $6; exit}' "/proc/${wl_pid[0]}/maps")
      : >"$tmp/bt.out"
      bpftrace -p "${wl_pid[0]}" -e "
        uprobe:$lib:_Ux86_64_setcontext { @resumes[tid] = count(); }
        tracepoint:signal:signal_deliver /pid == ${wl_pid[0]}/ { @signals[tid, args->sig] = count(); }" \
        >"$tmp/bt.out" 2>&1 &
      tracer_pid=$!
      until grep -q Attaching "$tmp/bt.out"; do kill -0 "$tracer_pid" || { cat "$tmp/bt.out" >&2; exit 1; }; sleep 0.05; done
      sleep 0.5  # bpftrace prints before its probes are all attached
      ;;
    *)
      local args=() p
      for p in "${wl_pid[@]}"; do args+=(-p "$p"); done
      case $mode in
        full+slot-checks) args+=(--mode full --slot-checks) ;;
        callsite-trap) args+=(--mode signal-only); trap_on "${wl_pid[0]}" ;;
        *) args+=(--mode "$mode") ;;
      esac
      : >"$tmp/attach.err"
      "$tool" attach "${args[@]}" -q --json "$tmp/report.json" >/dev/null 2>"$tmp/attach.err" &
      tracer_pid=$!
      until [ "$(grep -c 'attached to PID' "$tmp/attach.err")" -ge "$procs" ]; do
        kill -0 "$tracer_pid" 2>/dev/null || { cat "$tmp/attach.err" >&2; exit 1; }
        sleep 0.02
      done
      ;;
  esac
  startup=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  if [ -n "$tracer_pid" ]; then c0=$(cpu_ticks "$tracer_pid"); fi
  t0=$(date +%s.%N)
  worker_ticks "${wl_pid[@]}" >"$tmp/worker_ticks" &
  local sampler=$!
  go_workloads
  sleep "$(py "print($secs * 0.8)")"  # the tracer is still running then
  if [ -n "$tracer_pid" ]; then c1=$(cpu_ticks "$tracer_pid"); fi
  t1=$(date +%s.%N)
  local prog_ns; prog_ns=$(prog_ns_per_call "$tracer_pid")
  wait "${wl_bg[@]}"
  wait "$sampler"
  local totals; totals=$(workload_totals)
  case $mode in
    none) ;;
    bpftrace)
      kill -INT "$tracer_pid" 2>/dev/null || true
      wait "$tracer_pid" || true
      # Its resume count must be there, or it measured nothing.
      grep -q '^@resumes\[' "$tmp/bt.out" || { echo "bench.sh: bpftrace counted no resumes:" >&2; cat "$tmp/bt.out" >&2; exit 1; }
      ;;
    *)
      wait "$tracer_pid" || { cat "$tmp/attach.err" >&2; exit 1; }
      if [ "$mode" = callsite-trap ]; then
        trap_off
        [ "$(cat "$tmp/trap_hits")" -gt 0 ] || { echo "bench.sh: the call-site uprobe event never fired" >&2; exit 1; }
      fi
      read -r lost load attach < <(py 'import json,sys
r=json.load(open(sys.argv[1])); rs=r if isinstance(r,list) else [r]
print(sum(x["lost"]["signal_events"]+x["lost"]["uncounted"] for x in rs), rs[0]["trace"]["load_ms"],
      max(x["trace"]["attach_ms"] for x in rs))' "$tmp/report.json")
      ;;
  esac
  tracer_pid=
  rm_fifos
  local cpu; cpu=$(py "print(f'{100 * ($c1 - $c0) / $hz / ($t1 - $t0):.2f}')")
  echo "$totals $cpu $lost $startup $load $attach $(py "print($(cat "$tmp/worker_ticks") / $hz)") $prog_ns"
}

# --- statistics over repetitions: scripts/bench_stats.py ----------------------------------------
summarise() { "$top/scripts/bench_stats.py" "$tmp/runs" summary "$@"; }
per_event_costs() { "$top/scripts/bench_stats.py" "$tmp/runs" costs; }

record() {  # CONFIG REP run-args...
  local config=$1 rep=$2; shift 2
  local result
  result=$(run "$@") || { echo "bench.sh: run failed: $*" >&2; exit 1; }
  echo "$config $rep $result" >>"$tmp/runs"
  [ -z "${UT_BENCH_RAW:-}" ] || echo "$config $rep $result" >>"$UT_BENCH_RAW"  # every run, kept
}

echo "# unwindtrace overhead: $(date -u +%FT%TZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r)"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this host adds noise)"
echo "# exc/s: the GNU workload's own exceptions/s (sum over processes); throws/cpu-s: throws per second of"
echo "# its worker threads' CPU time; ratio: traced / untraced of the same repetition; sig/throw: signals"
echo "# delivered per throw (a slowed worker gets more: each costs it ~13 us here, which skews both ratios);"
echo "# BPF ns: the tracer's programs' mean run time per call (kernel.bpf_stats_enabled)"

if has main; then
  echo; echo "## Modes vs bpftrace: 1 thread, $rate signals/s, ${seconds} s per run, $reps repetitions"
  : >"$tmp/runs"
  read -r -a modes <<<"${UT_BENCH_MODES:-none signal-only full full+slot-checks sampled bpftrace callsite-trap}"
  for ((rep = 0; rep < reps; rep++)); do
    for ((k = 0; k < ${#modes[@]}; k++)); do
      m=${modes[(k + rep) % ${#modes[@]}]}
      record "$m" "$rep" "$m" 1 1 "$rate" "$seconds"
    done
  done
  summarise "${modes[@]}"
  if [[ " ${modes[*]} " == *" full "* && " ${modes[*]} " == *" bpftrace "* && " ${modes[*]} " == *" signal-only "* ]]; then
    per_event_costs
  fi
fi

if has cpu; then
  echo; echo "## Tracer CPU at 1k signals/s: 1 thread, 12 s per run, 3 repetitions"
  : >"$tmp/runs"
  for ((rep = 0; rep < 3; rep++)); do
    for m in none signal-only sampled full; do record "$m" "$rep" "$m" 1 1 1000 12; done
  done
  summarise none signal-only sampled full
fi

if has lost; then
  echo; echo "## Lost events at 200k signals/s offered: full mode, 10 threads, ${seconds} s"
  : >"$tmp/runs"
  record full 0 full 10 1 200000 "$seconds"
  awk '{printf "offered 200000/s, achieved %.0f/s, signals delivered %d, resumes %d, lost events %d\n", $7, $6, $5, $9}' "$tmp/runs"
fi

if has threads; then
  for threads in 1 10 100; do
    echo; echo "## Workload threads: $threads, $rate signals/s in total, ${seconds} s per run, $scale_reps repetitions"
    : >"$tmp/runs"
    for ((rep = 0; rep < scale_reps; rep++)); do
      for m in none signal-only sampled full; do record "$m" "$rep" "$m" "$threads" 1 "$rate" "$seconds"; done
    done
    summarise none signal-only sampled full
  done
fi

if has procs; then
  for procs in 1 10 100; do
    echo; echo "## Traced processes: $procs (attach -p repeated), 1 thread each, $rate signals/s in total, ${seconds} s per run, $scale_reps repetitions"
    : >"$tmp/runs"
    for ((rep = 0; rep < scale_reps; rep++)); do
      for m in none signal-only sampled full; do record "$m" "$rep" "$m" 1 "$procs" "$((rate / procs))" "$seconds"; done
    done
    summarise none signal-only sampled full
  done
fi

if has scan; then
  echo; echo "## scan --all (scripts/bench_scan.sh 100 5)"
  echo "# load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
  UT_BUILD_DIR=$build "$top/scripts/bench_scan.sh" 100 5
fi
