#!/usr/bin/env bash
# Checks the model's mean time to crash (docs/model.md) against crashes measured on this host:
# storms on the bundled GNU workload at a padding where a window hit changes the return-address
# slot, repeated until CRASHES crashes or TOTAL_S of storm, each stopped by its crash or at RUN_S.
# A crash is any wrong return: a fatal signal, or a thread sent back into the routine for good.
# Measured MTBF = storm time / crashes; predicted = the report's crash rate, time-weighted, and
# also observed hits × the landing storm's share of window landings at the return-address read
# × P(overwritten) there (the landing distribution moves with the host's load, the hits show it).
#
#   scripts/validate-mtbf.sh [BUILD_DIR]   (root; LANDING_S + at most TOTAL_S + ~1 min;
#     env: PADDING (864), RATE (20000 signals/s), SENDER (coalesce, or wait: docs/model.md),
#          THREADS (2), CRASHES (5), RUN_S (900),
#          TOTAL_S (3600), LANDING_S (120; 0: the calibration's landing as it is, e.g. pooled
#          with `calibrate --landing --pool`), LANDING_PADDING (PADDING + 8192),
#          PRIOR_LANDINGS ("RET WINDOW": earlier landing storms' landings at the return-address
#          read and in the whole window, pooled with this one's for the second prediction),
#          PRIOR_STORMS ("SECONDS CRASHES HITS": earlier campaigns' storms of this configuration,
#          their crashes and window hits × P_ret, pooled with this campaign's),
#          SAVE (a directory that keeps the runs' lines, each storm's report and the calibration:
#          `mtbf_stats.py SAVE/runs.tsv RET WINDOW` prints the tables again, e.g. with other landings))
#
# Prints the campaign's tables in Markdown for docs/model.md.
set -euo pipefail

build=${1:-build}
tool="$build/unwindtrace"
# 864: every window slot lies under sigcontext's saved registers (the return-address slot under
# the saved %rip), which differ from what the slot holds: a hit at the read crashes the thread.
padding=${PADDING:-864}
rate=${RATE:-20000}
threads=${THREADS:-2}
crashes_wanted=${CRASHES:-5}
run_s=${RUN_S:-900}
total_s=${TOTAL_S:-3600}
landing_s=${LANDING_S:-120}
# The landing storm must not crash (calibrate fails if its workload does): two pages more padding
# keep the storms' layout within a page and cache line but put the stale slots below the frame.
landing_padding=${LANDING_PADDING:-$(( padding + 8192 ))}
source "$(dirname "$0")/lib/landing_calibration.sh"
source "$(dirname "$0")/lib/storm.sh"

echo "Start: $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
landing_calibration "$landing_s" "$landing_padding"
# window_landings [OFFSET]: the landing storm's interrupt signals in the window (at OFFSET only).
window_landings() {
  jq --arg only "${1:-}" '[.landing as $l | $l.instructions[] | select((.offset | IN($l.window_offsets[]))
    and ($only == "" or .offset == $only)) | .landings] | add // 0' "$work/calibration.json"
}

# The storm budget counts wall-clock time (attach and report too), so the campaign ends in time.
deadline=$(( SECONDS + total_s ))
crashes=0
ret_offset=none
: > "$work/runs.tsv"
while (( crashes < crashes_wanted && deadline - SECONDS >= 30 )); do
  duration=$(( deadline - SECONDS - 20 < run_s ? deadline - SECONDS - 20 : run_s ))
  storm "$duration" --padding "$padding" --signal-rate "$rate" --threads "$threads" ||
    { echo "A storm failed: $(tail -3 "$work/run.txt")"; continue; }
  ret_offset=$(jq -r '[.model.geometry[0].window[]? | select(.class | startswith("return")) | .offset] | first' "$work/run.json")
  [[ -n $storm_status$storm_hung ]] && crashes=$(( crashes + 1 ))
  jq -r --arg status "$storm_status" --arg hung "$storm_hung" --arg load "$(cut -d' ' -f1 /proc/loadavg)" \
    -f "$(dirname "$0")/lib/mtbf_run.jq" "$work/run.json" >> "$work/runs.tsv"
  echo "Run $(wc -l < "$work/runs.tsv") ended $(date -u +%H:%M:%S): $(tail -1 "$work/runs.tsv" | tr '\t' ' ')"
  [[ -n ${SAVE:-} ]] && mkdir -p "$SAVE" &&
    cp "$work/runs.tsv" "$work/calibration.json" "$SAVE/" && cp "$work/run.json" "$SAVE/run-$(wc -l < "$work/runs.tsv").json"
done
echo "End: $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Padding $padding (landing storm: $landing_padding), $rate signals/s, $threads threads, runs of at most $run_s s, $crashes_wanted crashes wanted"
echo
prior=()
[[ -n ${PRIOR_LANDINGS:-} ]] && read -ra landings <<< "$PRIOR_LANDINGS" && prior+=(--prior-landings "${landings[@]}")
[[ -n ${PRIOR_STORMS:-} ]] && read -ra storms <<< "$PRIOR_STORMS" && prior+=(--prior-storms "${storms[@]}")
python3 "$(dirname "$0")/mtbf_stats.py" "$work/runs.tsv" "$(window_landings "$ret_offset")" "$(window_landings)" \
  "${prior[@]}"
