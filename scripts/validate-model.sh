#!/usr/bin/env bash
# Validates the exposure model (docs/model.md) on this host: the bundled GNU workload under signal
# storms at three rates x two paddings, traced; predicted vs observed window hits, corruptions
# (each hit's slot read again at the handler's rt_sigreturn) and crashes. The paddings come from
# this host's calibrated byte map: one puts every window instruction's stale slot in bytes the
# signal frame writes with varying data (so a hit changes it, whatever it held), one in a hole.
# Hits are predicted twice: from first principles (S·R·Σw, the landing storm's w) and given the
# signals the trace saw land elsewhere in the routine (docs/model.md, "Two hit predictions").
#
#   scripts/validate-model.sh [BUILD_DIR]   (root; LANDING_S + 6 x STORM_S + ~1 min;
#                                            env: STORM_S (30), RATES, LANDING_S (30),
#                                            EXTRA_PADDINGS: more paddings to storm at)
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

source "$(dirname "$0")/lib/landing_calibration.sh"
"$tool" calibrate --json "$work/calibration.json" > "$work/calibration.txt"

# --depth 0: one resume per throw (the catch), so one resume shape, which a padding can place
# exactly. The resume shapes at padding 16 (the landing-pad frame then has a pad frame below it): D grows
# one for one with the padding beyond that, the target SP's alignment stays.
"$tool" demo --depth 0 --padding 16 --duration 3 --hits 0 -q --json "$work/probe.json" > /dev/null 2>&1
jq '.model.resume_shapes' "$work/probe.json" > "$work/shapes.json"
# Every window instruction's stale slot: the first read through the context register at or after
# it (its displacement), and the SP there relative to the target SP (pushes after the switch).
jq 'def hex: ltrimstr("0x") | explode | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));
    [.routines[0].listing as $l | ($l | map(select(.stack_switch)) | first | .offset) as $switch
     | $l | to_entries[] | select(.value.window_class != null) | .key as $k | .value.offset as $o
     | {offset: $o,
        disp: ([$l[$k:][] | (.text | capture("\\+ (?<d>0x[0-9a-f]+)\\]") | .d | hex)?] | first),
        return_address: (.value.window_class == "return_address"),
        shift: (-8 * ([$l[] | select(.offset > $switch and .offset < $o and (.text | startswith("push")))] | length))}]' \
  "$work/probe.json" > "$work/slots.json"

# What the frame does to each window slot of every shape at padding P (a multiple of 16 >= 16),
# for a SA_SIGINFO handler, from the calibrated byte map: "varying" when some byte of the slot is
# written with data that differed between the calibration's variants (it changes whatever the slot
# held), "constant" when only constants are written there, "vector", "hole", "below".
fates() {  # -> lines "PADDING FATE..." (one fate per shape and window slot)
  jq -r --slurpfile shapes "$work/shapes.json" --slurpfile slots "$work/slots.json" '
    . as $cal
    | def inside($b; $r): $r[0] <= $b and $b < $r[1];
      def constant($b; $runs): any($runs[]; .[0] <= $b and $b < .[0] + (.[1] | length / 2));
      def fate($rel; $align):
        ($cal.frame.layouts[] | select(.siginfo and .top_align == $align)) as $l
        | [range($rel; $rel + 8) as $b | select(any($l.written[]; inside($b; .))) | $b] as $w
        | if any($w[]; constant(.; $l.written_constant) | not) then "varying"
          elif ($w | length) > 0 then "constant"
          elif any($l.written_if_vector_state[]; .[0] < $rel + 8 and $rel < .[1]) then "vector"
          elif $rel >= -$l.frame_bytes then "hole" else "below" end;
    range(16; 2048; 16) as $p
    | "\($p) " + ([$shapes[0][] as $s | $slots[0][] as $i
                   | fate(-($s.distance + $p - 16) + $i.disp - $i.shift + 128; (($s.sp_align + $i.shift) % 64 + 64) % 64)]
                  | join(" "))' "$work/calibration.json"
}
fates > "$work/fates.txt"
ret_column=$(( $(jq '[.[] | .return_address] | index(true)' "$work/slots.json") + 2 ))
# Varying: the smallest padding where every slot of every shape is in varying bytes.
written_pad=$(awk '{ for (i = 2; i <= NF; i++) if ($i != "varying") next; print $1; exit }' "$work/fates.txt")
# Unwritten: the return-address slot in a hole, no slot in varying or vector-state bytes, and as
# many slots as possible in holes (a hole wide enough for all of them may not exist: with
# SA_SIGINFO the widest is 64 bytes on some hosts); the rest lie under constants.
hole_pad=$(awk -v ret="$ret_column" '$ret != "hole" { next }
  { holes = 0; for (i = 2; i <= NF; i++) { if ($i == "varying" || $i == "vector" || $i == "below") next; holes += $i == "hole" } }
  holes > best { best = holes; pad = $1 } END { if (pad) print pad }' "$work/fates.txt")
[[ -n $written_pad && -n $hole_pad ]] || { echo "validate-model.sh: no padding puts every window slot in varying written bytes, or the return-address slot in a hole, here" >&2; exit 1; }
describe() { grep "^$1 " "$work/fates.txt" | cut -d' ' -f2- ; }

landing_calibration "$landing_s" "$hole_pad"
echo "Paddings: $written_pad (window slots: $(describe "$written_pad")), $hole_pad ($(describe "$hole_pad")); slots in the order of the window instructions $(printf '+%#x ' $(jq -r '.[].offset' "$work/slots.json")); storms of $storm_s s, 2 threads"
echo
echo "| signals/s | padding | slot | load | S /s | R /s | P(overwritten) by window offset | hits/s predicted, first principles (95 %) | hits/s predicted, given routine landings (95 %; n) | hits/s observed (n) | obs/pred | obs/cond | corruptions/s predicted (95 %) | corruptions/s measured (n) | crashes/s predicted (95 %) | crashed | MTBF predicted |"
echo "|---:|---:|---|---:|---:|---:|---|---|---|---|---:|---:|---|---|---|---|---|"
for rate in $rates; do
  for pad in "$written_pad" "$hole_pad" ${EXTRA_PADDINGS:-}; do
    where=$([[ $pad == "$written_pad" ]] && echo varying || { [[ $pad == "$hole_pad" ]] && echo hole || echo "extra: $(describe "$pad")"; })
    status=0
    "$tool" demo --depth 0 --padding "$pad" --signal-rate "$rate" --threads 2 --duration "$storm_s" --hits 0 -q \
      --json "$work/run.json" > "$work/run.txt" 2>&1 || status=$?
    load=$(cut -d' ' -f1 /proc/loadavg)
    crashed=$(grep -q "ended with status" "$work/run.txt" && echo "yes ($(grep -o 'status [0-9-]*' "$work/run.txt"))" || echo no)
    jq -r --arg rate "$rate" --arg pad "$pad" --arg where "$where" --arg crashed "$crashed" --arg load "$load" '
      def g: if . == null then "∞" elif . < 0.01 then (. * 1e6 | round / 1e6 | tostring) else (. * 1000 | round / 1000 | tostring) end;
      def ratio($a; $b): if $b != null and $b > 0 then ($a / $b * 100 | round / 100 | tostring) else "–" end;
      def dur: if . == null then "never" elif . > 86400 then "\(. / 86400 | round) days" elif . > 3600 then "\(. / 3600 * 10 | round / 10) h" else "\(. | round) s" end;
      def range3: "\(.value | g) (\(.low | g)–\(.high | g))";
      .model as $m | $m.prediction as $p
      | ([$m.geometry[0].window[] | "\(.offset):\(.p_overwritten * 100 | round / 100)"] | join(" ")) as $pw
      | "| \($rate) | \($pad) | \($where) | \($load) | \($p.async_signals_per_s | round) | \($p.resumes_per_s | round) | \($pw) | " +
        "\($p.hits_per_s | range3) | " +
        "\(if $p.hits_given_routine_per_s == null then "–" else "\($p.hits_given_routine_per_s | range3); \($p.routine_landings)" end) | " +
        "\($p.observed_hits.per_s | g) (\($p.observed_hits.count)) | " +
        "\(ratio($p.observed_hits.per_s; $p.hits_per_s.value)) | \(ratio($p.observed_hits.per_s; $p.hits_given_routine_per_s.value)) | " +
        "\($p.corruptions_per_s | range3) | " +
        "\(if $p.observed_corruptions == null then "not measured" else "\($p.observed_corruptions.per_s | g) (\($p.observed_corruptions.count))" end) | " +
        "\($p.crashes_per_s | range3) | \($crashed) | " +
        "\($p.mtbf_s.value | dur) (≥ \($p.mtbf_s.low | dur)) |"' "$work/run.json"
  done
done
