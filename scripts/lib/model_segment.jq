# One storm of one round of scripts/validate-model.sh as a JSON line for scripts/model_stats.py,
# from its demo report. Arguments: $round, $rate, $padding, $slot (the padding's slot fates),
# $status (the workload's exit status when it did not exit cleanly, else ""), $hung ("1" when
# the workload was killed for running past its storm), $load, $ended.
.model as $m | $m.prediction as $p
| {round: $round, rate: $rate, padding: $padding, slot: $slot, load: $load, ended: $ended,
   duration_s: .trace.duration_s,
   # Σ_threads S·R, what the hit rate scales with: the prediction is exposure × Σ_i w_i.
   exposure: ([$m.threads[] | .async_signals_per_s * .resumes_per_s] | add),
   async_signals_per_s: $p.async_signals_per_s, resumes_per_s: $p.resumes_per_s,
   # The hits delivered by an interrupt (fresh landings, what the model predicts), less a stuck
   # thread's: a thread a hit sent back into the routine for good takes hits in a loop until it
   # is killed, one corruption's aftermath.
   hits: ([$p.observed_hits.count - (.stuck_threads.hits // 0), 0] | max),
   corruptions: $p.observed_corruptions.count,
   crashed: (if $hung == "1" then "hung" elif $status != "" then "status \($status)" else null end),
   # What the tracer made of each fatal signal: "kind verdict" (docs/report-schema.md, model.crashes).
   crash_signatures: [$m.crashes[]? | "\(.kind) \(.verdict)"],
   p_overwritten: ([$m.geometry[0].window[] | {key: .offset, value: .p_overwritten}] | from_entries),
   return_offset: ([$m.geometry[0].window[] | select(.class | startswith("return")) | .offset] | first)}
