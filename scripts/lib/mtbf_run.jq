# One storm of scripts/validate-mtbf.sh as a tab-separated line for scripts/mtbf_stats.py, from
# its demo report. Arguments: $status (the workload's exit status when it did not exit cleanly,
# else ""), $hung ("1" when the workload was killed for running past its storm), $load.
def return_address: .class | startswith("return");
. as $run | .model.prediction as $p
| ($status != "" or $hung == "1") as $failed
# A failed storm failed at its first hit at the return-address read (at padding 864 every one
# changes the return address): the crash follows within the handler's return, and a thread sent
# back into the routine spins there, taking hits, until it is killed long after. So that hit's
# time is the storm time, and the hits up to it are the storm's.
| ([.hits.listed[] | select(return_address)] | first) as $fatal
| (if $failed and $fatal != null then [.hits.listed[] | select(.time_s <= $fatal.time_s)] else null end) as $before
| [(if $before then $fatal.time_s else .trace.duration_s end),
   (if $failed then 1 else 0 end),
   (if $hung == "1" then "hung: ran past its storm, killed"
      + ([.stuck_threads.threads[]? | "; thread stuck (\(.mark)) at \(.since_s | . * 10 | round / 10) s, its cause at \(.cause_s // "?") s"] | join(""))
    elif $failed then "status \($status)" + ([.model.crashes[] | ": \(.verdict) \(.kind)"] | join(""))
    else "" end),
   ($before | if . then length else $run.process.hits.total end),
   ($before | if . then map(select(return_address)) | length else $run.process.hits.return_address end),
   ($p.async_signals_per_s // 0 | round), ($p.resumes_per_s // 0 | round),
   ($p.crashes_per_s.value // "-"), ($p.crashes_per_s.low // "-"), ($p.crashes_per_s.high // "-"),
   ([.model.geometry[0].window[]? | select(return_address) | .p_overwritten] | first // "-"),
   $load]
| @tsv
