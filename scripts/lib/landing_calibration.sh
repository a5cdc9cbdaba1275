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

# landing_calibration SECONDS PADDING: the landing storm on the --depth 0 workload (one resume
# shape) into $work/calibration.json, and its summary on two lines.
landing_calibration() {
  "$tool" calibrate --landing "$1" --depth 0 --padding "$2" --json "$work/calibration.json" \
    > "$work/calibration.txt"
  echo "Calibration: $(head -1 "$work/calibration.txt")"
  jq -r '.landing | "Landing: \(.duration_s) s storm, \(.resumes) resumes, \(.async_signals) interrupt signals; window landings: " +
    ([.instructions[] | select(.offset | IN($w[0][]))] | map("\(.offset)=\(.landings)") | join(", "))' \
    --slurpfile w <(jq '.landing.window_offsets' "$work/calibration.json") "$work/calibration.json"
}
