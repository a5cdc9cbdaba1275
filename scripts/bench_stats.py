#!/usr/bin/env python3
"""Statistics for scripts/bench.sh over its runs file: one line per run,
"CONFIG REP exc/s throws resumes signals storm_hz cpu% lost startup_ms load_ms attach_ms worker_cpu_s
bpf_ns_per_signal bpf_ns_per_resume" ("-" where a run has no such programs).

Two throughputs: wall-clock exceptions/s (what users see, but other work on a shared host moves
it a lot) and throws per second of the workers' own CPU time (the tracer's in-process costs are
charged to the workers, so this one isolates them from CPU contention).

  bench_stats.py RUNS summary BASELINE CONFIG...   table: throughput, ratio to the baseline of
                                                   the same repetition (min, median), CPU, losses
  bench_stats.py RUNS costs                        added ns per signal and per resume
"""
import statistics
import sys

EXC, THROWS, RESUMES, SIGNALS, STORM, CPU, LOST, STARTUP, LOAD, ATTACH, WORKER_CPU, BPF_SIGNAL, BPF_RESUME = range(13)


def per_cpu(run):
    return run[THROWS] / run[WORKER_CPU] if run[WORKER_CPU] > 0 else float("nan")


def read_runs(path):
    runs = {}
    for line in open(path):
        fields = line.split()
        values = [float("nan") if x == "-" else float(x) for x in fields[2:]]
        runs.setdefault(fields[0], {})[int(fields[1])] = values + [float("nan")] * (13 - len(values))
    return runs


def median(values):
    values = [v for v in values if v == v]  # without NaN
    return statistics.median(values) if values else float("nan")


def ratios(reps, base, metric):
    return [metric(reps[k]) / metric(base[k]) for k in reps if k in base and metric(base[k]) > 0]


def summary(runs, baseline, configs):
    header = ["config", "exc/s med", "min", "ratio med", "min", "throws/cpu-s", "ratio med", "min",
              "sig/throw", "tracer CPU%", "lost", "startup ms", "BPF ns/sig", "ns/resume"]
    print("{:<17}{:>10}{:>8}{:>10}{:>7}{:>14}{:>10}{:>7}{:>10}{:>12}{:>6}{:>11}{:>11}{:>10}".format(*header))
    base = runs.get(baseline, {})
    for config in [baseline] + configs:
        reps = runs.get(config, {})
        if not reps:
            continue
        wall = ratios(reps, base, lambda r: r[EXC])
        cpu = ratios(reps, base, per_cpu)
        print("{:<17}{:>10.0f}{:>8.0f}{:>10.3f}{:>7.3f}{:>14.0f}{:>10.3f}{:>7.3f}{:>10.2f}{:>12.2f}{:>6.0f}{:>11.0f}{:>11.0f}{:>10.0f}".format(
            config, median([v[EXC] for v in reps.values()]), min(v[EXC] for v in reps.values()),
            median(wall), min(wall, default=float("nan")),
            median([per_cpu(v) for v in reps.values()]), median(cpu), min(cpu, default=float("nan")),
            median([v[SIGNALS] / v[THROWS] for v in reps.values()]),
            median([v[CPU] for v in reps.values()]), sum(v[LOST] for v in reps.values()),
            median([v[STARTUP] for v in reps.values()]),
            median([v[BPF_SIGNAL] for v in reps.values()]), median([v[BPF_RESUME] for v in reps.values()])))


def costs(runs):
    def med(config, field):
        return median([v[field] for v in runs[config].values()])

    def seconds_per_throw(config):  # of worker CPU: robust to other work on the host
        return 1 / median([per_cpu(v) for v in runs[config].values()])

    signals_per_throw = med("signal-only", SIGNALS) / med("signal-only", THROWS)
    resumes_per_throw = med("full", RESUMES) / med("full", THROWS)
    per_signal = (seconds_per_throw("signal-only") - seconds_per_throw("none")) / signals_per_throw

    def per_resume(config):  # NaN when the run left that configuration out
        if config not in runs:
            return float("nan")
        return (seconds_per_throw(config) - seconds_per_throw("signal-only")) / resumes_per_throw

    per_resume_full = per_resume("full")
    per_resume_bt = per_resume("bpftrace")
    per_resume_slots = per_resume("full+slot-checks")
    per_resume_site = per_resume("callsite-trap")
    print(f"signals per throw {signals_per_throw:.2f}, resumes per throw {resumes_per_throw:.2f} (medians)")
    print("from throws per worker-CPU-second (medians):")
    print(f"added ns per signal (signal-only vs none): {per_signal * 1e9:.0f}")
    print(f"added ns per resume (vs signal-only): full {per_resume_full * 1e9:.0f}, "
          f"bpftrace {per_resume_bt * 1e9:.0f}; full / bpftrace = {per_resume_full / per_resume_bt:.3f}; "
          f"full with --slot-checks {per_resume_slots * 1e9:.0f} (their syscall tracepoint included)")
    print(f"the trap alone at unwindtrace's call site (callsite-trap: a tracefs uprobe event, no BPF): "
          f"{per_resume_site * 1e9:.0f} ns per resume, {per_resume_site / per_resume_bt:.3f} of bpftrace's; "
          f"full mode adds {(per_resume_full - per_resume_site) * 1e9:.0f} ns to it")
    print("BPF program time per call (median), signal side / resume side: full {:.0f} / {:.0f} ns, "
          "bpftrace {:.0f} / {:.0f} ns (the uprobe's trap, ~0.4 us emulated or ~14 us single-stepped "
          "here, comes on top)".format(med("full", BPF_SIGNAL), med("full", BPF_RESUME),
                                       med("bpftrace", BPF_SIGNAL), med("bpftrace", BPF_RESUME)))
    print("start-up of attach, ms (median): open+load+signal hook {:.0f}, whole attach incl. analysis {:.0f}, "
          "as the script waited for it {:.0f}".format(med("full", LOAD), med("full", ATTACH), med("full", STARTUP)))


def main():
    runs = read_runs(sys.argv[1])
    if sys.argv[2] == "summary":
        summary(runs, sys.argv[3], sys.argv[4:])
    else:
        costs(runs)


if __name__ == "__main__":
    main()
