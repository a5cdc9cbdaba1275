#!/usr/bin/env bash
# Validates the exposure model (docs/model.md) on this host: the bundled GNU workload under signal
# storms at three rates x two paddings, traced; predicted vs observed window hits, corruptions
# (each hit's slot read again at the handler's rt_sigreturn) and crashes. The paddings come from
# this host's calibrated byte map: one puts every window instruction's stale slot in bytes the
# signal frame writes, one the return-address slot in a hole.
#
#   scripts/validate-model.sh [BUILD_DIR]   (root; ROUNDS x (LANDING_S + 6 x STORM_S) + ~1 min;
#     env: ROUNDS (1), STORM_S (30), LANDING_S (30), RATES ("1000 5000 20000"),
#          SENDER (coalesce: the storms' tgkill sender, docs/model.md; "wait" times signals off
#          the threads' progress at high rates, which the model does not describe),
#          EXTRA_PADDINGS (more paddings to storm at), WRITTEN_PADDING / HOLE_PADDING (instead of
#          the byte map's choice), SAVE (a directory that keeps the storms' lines and the
#          landing pools, updated after every storm: `scripts/model_stats.py` prints the tables
#          again from them), CONTINUE (such a directory: ROUNDS more rounds of that run, pooled
#          with it and saved into it))
#
# Works on a copy of the host's calibration ($UNWINDTRACE_CALIBRATION, else the default cache) and
# makes its own landing calibration with the workload shape the storms use (--depth 0, the hole
# padding): w_i depends on the memory layout around the switch (docs/model.md). The landing
# fractions drift with the host's load (4x within an hour on a shared 2-core VM), so the run goes
# in ROUNDS, each a landing storm and then every row's storm: the pooled landing calibration and
# each row's pooled storms see the same hours. Every row is predicted from the final pool
# (scripts/model_stats.py), and each round's own landing fraction is printed next to the rows'.
# Prints Markdown tables for docs/model.md.
set -euo pipefail

build=${1:-build}
tool="$build/unwindtrace"
storm_s=${STORM_S:-30}
rounds=${ROUNDS:-1}
rates=${RATES:-"1000 5000 20000"}
sender=${SENDER:-coalesce}
landing_s=${LANDING_S:-30}

source "$(dirname "$0")/lib/landing_calibration.sh"
source "$(dirname "$0")/lib/storm.sh"
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
    range(16; 8192; 16) as $p
    | "\($p) " + ([$shapes[0][] as $s | $slots[0][] as $i
                   | fate(-($s.distance + $p - 16) + $i.disp - $i.shift + 128; (($s.sp_align + $i.shift) % 64 + 64) % 64)]
                  | join(" "))' "$work/calibration.json"
}
fates > "$work/fates.txt"
ret_column=$(( $(jq '[.[] | .return_address] | index(true)' "$work/slots.json") + 2 ))
# Written: the largest padding that puts every slot in written bytes: the frame's lowest bytes,
# sigcontext's saved registers. A hit writes the interrupted thread's own registers there, which
# differ from the stale slots (the calibration sees them as constants: its signal arrives at a
# syscall); higher up the frame writes vector registers and reserved words that a workload may
# leave at the slot's own value (zeros over zeros: written, not changed).
written_pad=${WRITTEN_PADDING:-$(awk '{ for (i = 2; i <= NF; i++) if ($i != "varying" && $i != "constant") next; pad = $1 }
  END { if (pad) print pad }' "$work/fates.txt")}
# Unwritten: the return-address slot in a hole, no slot in varying or vector-state bytes, and as
# many slots as possible in holes (a hole wide enough for all of them may not exist: with
# SA_SIGINFO the widest is 64 bytes on some hosts); the rest lie under constants.
hole_pad=${HOLE_PADDING:-$(awk -v ret="$ret_column" '$ret != "hole" { next }
  { holes = 0; for (i = 2; i <= NF; i++) { if ($i == "varying" || $i == "vector" || $i == "below") next; holes += $i == "hole" } }
  holes > best { best = holes; pad = $1 } END { if (pad) print pad }' "$work/fates.txt")}
[[ -n $written_pad && -n $hole_pad ]] || { echo "validate-model.sh: no padding puts every window slot in written bytes, or the return-address slot in a hole, here" >&2; exit 1; }
describe() { grep "^$1 " "$work/fates.txt" | cut -d' ' -f2- ; }

echo "Start: $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "Sender: $sender (the landing storms': coalesce)"
echo "Paddings: $written_pad (window slots: $(describe "$written_pad")), $hole_pad ($(describe "$hole_pad")); slots in the order of the window instructions $(printf '+%#x ' $(jq -r '.[].offset' "$work/slots.json")); $rounds round(s) of a $landing_s s landing storm at padding $hole_pad, then storms of $storm_s s, 2 threads"
: > "$work/segments.jsonl"
landings=()
first_round=1
if [[ -n ${CONTINUE:-} ]]; then
  # More rounds for a run kept with SAVE: its storms' lines and landing pools are taken over and
  # the next landing storm pools onto its last pool, so the tables cover every round.
  cp "$CONTINUE/segments.jsonl" "$CONTINUE"/landing-*.json "$work/"
  mapfile -t landings < <(ls "$work"/landing-*.json | sort -V)
  cp "${landings[-1]}" "$work/cache.json"
  first_round=$(( ${#landings[@]} + 1 ))
  SAVE=${SAVE:-$CONTINUE}
  echo "Continuing $CONTINUE: $(wc -l < "$work/segments.jsonl") storms, ${#landings[@]} round(s)"
fi
for round in $(seq "$first_round" $(( first_round + rounds - 1 ))); do
  # The hole padding's workload cannot crash, so its landing storm always completes.
  landing_calibration "$landing_s" "$hole_pad" $( (( round > 1 )) && echo pool) | sed "s/^/Round $round: /"
  cp "$work/calibration.json" "$work/landing-$round.json"
  landings+=("$work/landing-$round.json")
  # Every other round in reverse rate order, so a drift within a round does not pose as a rate effect.
  order=$rates
  (( round % 2 )) || order=$(tr ' ' '\n' <<< "$rates" | tac | xargs)
  for rate in $order; do
    for pad in "$written_pad" "$hole_pad" ${EXTRA_PADDINGS:-}; do
      where=$([[ $pad == "$written_pad" ]] && echo written || { [[ $pad == "$hole_pad" ]] && echo hole || echo extra; })
      storm "$storm_s" --padding "$pad" --signal-rate "$rate" --threads 2 ||
        { echo "Round $round: the storm at $rate/s, padding $pad failed: $(tail -3 "$work/run.txt")"; continue; }
      jq -c --argjson round "$round" --argjson rate "$rate" --argjson padding "$pad" --arg slot "$where: $(describe "$pad")" \
        --arg status "$storm_status" --arg hung "$storm_hung" --arg load "$(cut -d' ' -f1 /proc/loadavg)" \
        --arg ended "$(date -u +%H:%M:%S)" -f "$(dirname "$0")/lib/model_segment.jq" "$work/run.json" >> "$work/segments.jsonl"
      [[ -n ${SAVE:-} ]] && mkdir -p "$SAVE" && cp "$work/segments.jsonl" "$work"/landing-*.json "$SAVE/"
      echo "Round $round: $(tail -1 "$work/segments.jsonl" | jq -r '"\(.rate)/s, padding \(.padding): \(.hits) hits, \(.corruptions // "-") overwritten, \(.crashed // "no crash")\(.crash_signatures // [] | if length > 0 then " (\(join(", ")))" else "" end), load \(.load)"')"
    done
  done
done
echo "End: $(date -u +%H:%M:%S) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 "$(dirname "$0")/model_stats.py" "$work/segments.jsonl" "${landings[@]}"
