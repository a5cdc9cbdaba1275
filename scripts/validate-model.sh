#!/usr/bin/env bash
# Validates the exposure model (docs/model.md) on this host: the bundled GNU workload under signal
# storms at three rates x two paddings, traced; predicted vs observed window hits and crashes.
# The paddings come from the calibration: one puts the return-address slot in bytes the signal
# frame writes, one in a hole the kernel never writes.
#
#   scripts/validate-model.sh [BUILD_DIR]      (root; ~6 min; env: STORM_S, RATES, LANDING_S)
#
# Works on a copy of the host's calibration ($UNWINDTRACE_CALIBRATION, else the default cache) and
# makes its own landing calibration with the workload shape the storms use (--depth 0, the hole
# padding): w_i depends on the memory layout around the switch (docs/model.md).
# Prints a Markdown table for docs/model.md.
set -euo pipefail

build=${1:-build}
tool="$build/unwindtrace"
storm_s=${STORM_S:-30}
rates=${RATES:-"5000 10000 20000"}
landing_s=${LANDING_S:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[[ $EUID -eq 0 ]] || { echo "validate-model.sh: needs root (BPF)" >&2; exit 4; }
[[ -x $tool ]] || { echo "validate-model.sh: no $tool; build first" >&2; exit 2; }

host_cache=${UNWINDTRACE_CALIBRATION:-/var/cache/unwindtrace/calibration.json}
[[ -f $host_cache ]] && cp "$host_cache" "$work/cache.json"
export UNWINDTRACE_CALIBRATION="$work/cache.json"
"$tool" calibrate --json "$work/calibration.json" > "$work/calibration.txt"

# --depth 0: one resume per throw (the catch), so one resume shape, which a padding can place
# exactly. The resume shapes at padding 16 (the landing-pad frame then has a pad frame below it): D grows
# one for one with the padding beyond that, the target SP's alignment stays.
"$tool" demo --depth 0 --padding 16 --duration 3 --hits 0 -q --json "$work/probe.json" > /dev/null 2>&1
jq '.model.resume_shapes' "$work/probe.json" > "$work/shapes.json"
# The return-address read's displacement from the context register, from the analysed listing
# (the first window instruction of that class reads it, at the target SP).
ret_disp=$(jq -r '[.routines[0].listing[] | select(.window_class == "return_address")][0].text
                  | capture("\\+ (?<d>0x[0-9a-f]+)\\]").d' "$work/probe.json")
ret_disp=$((ret_disp))

# For each padding (multiple of 16), what the frame does to the return-address slot of every shape:
# "written" when all are written, "hole" when all lie in never-written bytes of the frame.
choose() {  # $1: written | hole  -> the smallest padding where every shape is so
  jq -r --slurpfile shapes "$work/shapes.json" --argjson disp "$ret_disp" --arg want "$1" '
    . as $cal
    | def fate($rel; $align):
        ($cal.frame.layouts[] | select(.siginfo and .top_align == $align)) as $l
        | if any($l.written[]; .[0] < $rel + 8 and $rel < .[1]) then "written"
          elif $rel >= -$l.frame_bytes then "hole" else "below" end;
    [range(16; 2048; 16) as $p
     | select(all($shapes[0][]; fate(-(.distance + $p - 16) + $disp + 128; .sp_align) == $want)) | $p]
    | first // empty' "$work/calibration.json"
}
written_pad=$(choose written)
hole_pad=$(choose hole)
[[ -n $written_pad && -n $hole_pad ]] || { echo "validate-model.sh: no padding puts the slot in written bytes and in a hole here" >&2; exit 1; }

"$tool" calibrate --landing "$landing_s" --depth 0 --padding "$hole_pad" --json "$work/calibration.json" \
  > "$work/calibration.txt"
echo "Calibration: $(head -1 "$work/calibration.txt")"
jq -r '.landing | "Landing: \(.duration_s) s storm, \(.resumes) resumes, \(.async_signals) interrupt signals; window landings: " +
  ([.instructions[] | select(.offset as $o | $o | IN($w[0][]))] | map("\(.offset)=\(.landings)") | join(", "))' \
  --slurpfile w <(jq '.landing.window_offsets' "$work/calibration.json") "$work/calibration.json"
echo "Paddings: $written_pad (return-address slot in written bytes), $hole_pad (in a hole); storms of $storm_s s, 2 threads"
echo
echo "| signals/s | padding | slot | P(0x52) | S /s | R /s | hits/s predicted (95 %) | hits/s observed (n) | obs/pred | corruptions/s predicted (95 %) | corruptions/s measured (n) | crashes/s predicted (95 %) | crashed | MTBF predicted |"
echo "|---:|---:|---|---:|---:|---:|---|---|---:|---|---|---|---|---|"
for rate in $rates; do
  for pad in "$written_pad" "$hole_pad"; do
    where=$([[ $pad == "$written_pad" ]] && echo written || echo hole)
    status=0
    "$tool" demo --depth 0 --padding "$pad" --signal-rate "$rate" --threads 2 --duration "$storm_s" --hits 0 -q \
      --json "$work/run.json" > "$work/run.txt" 2>&1 || status=$?
    crashed=$(grep -q "ended with status" "$work/run.txt" && echo "yes ($(grep -o 'status [0-9-]*' "$work/run.txt"))" || echo no)
    jq -r --arg rate "$rate" --arg pad "$pad" --arg where "$where" --arg crashed "$crashed" '
      def g: if . == null then "∞" elif . < 0.01 then (. * 1e6 | round / 1e6 | tostring) else (. * 1000 | round / 1000 | tostring) end;
      def dur: if . == null then "never" elif . > 86400 then "\(. / 86400 | round) days" elif . > 3600 then "\(. / 3600 * 10 | round / 10) h" else "\(. | round) s" end;
      .model as $m | $m.prediction as $p
      | ($m.geometry[0].window[] | select(.offset == "0x52") | .p_overwritten) as $p52
      | "| \($rate) | \($pad) | \($where) | \($p52) | \($p.async_signals_per_s | round) | \($p.resumes_per_s | round) | " +
        "\($p.hits_per_s.value | g) (\($p.hits_per_s.low | g)–\($p.hits_per_s.high | g)) | " +
        "\($p.observed_hits.per_s | g) (\($p.observed_hits.count)) | " +
        "\(if $p.hits_per_s.value > 0 then ($p.observed_hits.per_s / $p.hits_per_s.value * 100 | round / 100 | tostring) else "–" end) | " +
        "\($p.corruptions_per_s.value | g) (\($p.corruptions_per_s.low | g)–\($p.corruptions_per_s.high | g)) | " +
        "\(if $p.observed_corruptions == null then "not measured" else "\($p.observed_corruptions.per_s | g) (\($p.observed_corruptions.count))" end) | " +
        "\($p.crashes_per_s.value | g) (\($p.crashes_per_s.low | g)–\($p.crashes_per_s.high | g)) | \($crashed) | " +
        "\($p.mtbf_s.value | dur) (≥ \($p.mtbf_s.low | dur)) |"' "$work/run.json"
  done
done
