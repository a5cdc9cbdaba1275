# shellcheck shell=bash
# Sourced by scripts/validate-model.sh and validate-mtbf.sh after lib/landing_calibration.sh.
#
# storm DURATION DEMO_ARGS...: one traced storm on the bundled --depth 0 workload (the sender
# $SENDER, default coalesce: signals on the sender's own clock, as the model assumes), its report in
# $work/run.json and its output in $work/run.txt. Sets storm_status (the workload's exit status
# when it did not exit cleanly, else "") and storm_hung (1 when the workload ran past its storm
# and was killed). Returns 1 when the demo wrote no report.
storm() {
  local duration=$1
  shift
  rm -f "$work/run.json"
  "$tool" demo --depth 0 --sender "${SENDER:-coalesce}" --duration "$duration" --hits 0 -q --json "$work/run.json" "$@" \
    > "$work/run.txt" 2>&1 &
  local demo=$! started=$SECONDS
  storm_hung=
  # A hit at the return-address read can send the thread back into the routine for good (the
  # slot then holds the routine's own address): such a workload never ends, and the demo would
  # wait a storm's length again for it. Kill it once its storm and the trace are over.
  while kill -0 "$demo" 2>/dev/null; do
    if (( SECONDS > started + duration + 60 )) && [[ -z $storm_hung ]]; then
      storm_hung=1
      kill -KILL $(pgrep -P "$demo") 2>/dev/null || true
    fi
    sleep 5
  done
  wait "$demo" || true
  # The demo prints "ended with status" for a workload that did not exit cleanly.
  storm_status=$(grep -o 'ended with status [0-9-]*' "$work/run.txt" | grep -o '[0-9-]*$' || true)
  [[ -s $work/run.json ]]
}
