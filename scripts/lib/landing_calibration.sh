# shellcheck shell=bash
# Sourced by scripts/validate-model.sh and validate-mtbf.sh after they set `tool`: checks root
# and the build, makes `work` (removed on exit), and points the calibration at a copy of the
# host's ($UNWINDTRACE_CALIBRATION, else the default cache) in it, so that their landing storms,
# made with the workload shape they storm, leave the host's calibration alone.
me=$(basename "$0")
[[ $EUID -eq 0 ]] || { echo "$me: needs root (BPF)" >&2; exit 4; }
[[ -x $tool ]] || { echo "$me: no $tool; build first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

host_cache=${UNWINDTRACE_CALIBRATION:-/var/cache/unwindtrace/calibration.json}
[[ -f $host_cache ]] && cp "$host_cache" "$work/cache.json"
export UNWINDTRACE_CALIBRATION="$work/cache.json"

# landing_calibration SECONDS PADDING [pool]: the landing storm on the --depth 0 workload (one
# resume shape) into $work/calibration.json, and its summary on two lines; "pool" adds it to the
# landing storms of earlier calls (same padding). SECONDS 0: no storm, the calibration's landing
# as it is (e.g. pooled from many storms with `calibrate --landing --pool`).
landing_calibration() {
  if [[ $1 == 0 ]]; then
    [[ -f $work/cache.json ]] && jq -e '.landing' "$work/cache.json" > /dev/null ||
      { echo "$me: LANDING_S=0 needs a landing calibration in $host_cache" >&2; exit 2; }
    cp "$work/cache.json" "$work/calibration.json"
    echo "Calibration: $host_cache, as it is"
  else
    "$tool" calibrate --landing "$1" --depth 0 --padding "$2" ${3:+--pool} --json "$work/calibration.json" \
      > "$work/calibration.txt"
    echo "Calibration: $(head -1 "$work/calibration.txt")"
  fi
  jq -r '.landing | "Landing: \(.storms // 1) storm(s), \(.duration_s) s, workload \(.workload // "not recorded"), \(.resumes) resumes, \(.async_signals) interrupt signals; window landings: " +
    ([.instructions[] | select(.offset | IN($w[0][]))] | map("\(.offset)=\(.landings)") | join(", "))' \
    --slurpfile w <(jq '.landing.window_offsets' "$work/calibration.json") "$work/calibration.json"
}
