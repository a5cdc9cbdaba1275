#!/usr/bin/env python3
"""Summary for scripts/validate-mtbf.sh: measured against predicted mean time to crash.

  mtbf_stats.py RUNS RET_LANDINGS WINDOW_LANDINGS [--prior-landings RET WINDOW]
               [--prior-storms SECONDS CRASHES HITS]

RUNS has one tab-separated line per storm: "storm_s crashed how hits ret_hits S R crashes_per_s
low high p_ret load" (crashes_per_s etc. are the report's model.prediction.crashes_per_s; "-" if
the report had no prediction). RET_LANDINGS / WINDOW_LANDINGS: the landing calibration's
interrupt signals at the return-address read / anywhere in the window; --prior-landings: landings
of earlier landing storms to pool with them; --prior-storms: storm seconds, crashes and window
hits (times P_ret) of earlier campaigns of the same configuration, pooled into the measured MTBF
the predictions are checked against (lifetimes are exponential: storm time and crashes add) and
into the hits the second prediction scales. Prints the per-run table and the
summary, in Markdown.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from poisson import Z, gamma_cdf, gamma_quantile, garwood  # noqa: E402


def duration(seconds):
    if seconds is None or seconds == math.inf:
        return "∞"
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def mtbf(time, crashes_low, crashes, crashes_high):
    """Time per crash, for an expected number of crashes and its interval."""
    inverse = lambda n: time / n if n > 0 else math.inf
    return f"{duration(inverse(crashes))} ({duration(inverse(crashes_high))}–{duration(inverse(crashes_low))})"


def number(field):
    return None if field == "-" else float(field)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs")
    parser.add_argument("ret", type=int)
    parser.add_argument("window", type=int)
    parser.add_argument("--prior-landings", nargs=2, type=int, default=(0, 0), metavar=("RET", "WINDOW"))
    parser.add_argument("--prior-storms", nargs=3, type=float, default=(0, 0, 0), metavar=("SECONDS", "CRASHES", "HITS"))
    args = parser.parse_args()
    runs = [line.rstrip("\n").split("\t") for line in open(args.runs) if line.strip()]
    ret, window = args.ret, args.window
    prior_ret, prior_window = args.prior_landings
    prior_time, prior_crashes, prior_hits = args.prior_storms[0], int(args.prior_storms[1]), args.prior_storms[2]

    print("| run | storm s | failed | how | window hits | at the return-address read | S /s | R /s | load "
          f"| crashes/s predicted (95 %) | MTBF predicted | crashes predicted from the hits ({ret + prior_ret} of {window + prior_window}) |")
    print("|---:|---:|---|---|---:|---:|---:|---:|---:|---|---|---:|")
    time = crashes = hits_expected = 0.0
    predicted = [0.0, 0.0, 0.0]  # expected crashes over the campaign: value, low, high
    # Per run, the share of window landings at the return-address read: pooled when given.
    ret_fraction = (ret + prior_ret) / (window + prior_window) if window + prior_window else 0.0
    for n, (storm_s, crashed, how, hits, ret_hits, s, r, rate, low, high, p_ret, load) in enumerate(runs, 1):
        t, rate_fields = float(storm_s), [number(x) for x in (rate, low, high)]
        time += t
        crashes += int(crashed)
        # The rates share one landing calibration, so their limits move together: weight by time.
        for i, x in enumerate(rate_fields):
            predicted[i] += (x or 0.0) * t
        from_hits = int(hits) * ret_fraction * (number(p_ret) or 0.0)
        hits_expected += int(hits) * (number(p_ret) or 0.0)
        rate_text = "–" if rate_fields[0] is None else f"{rate_fields[0]:.3g} ({rate_fields[1]:.3g}–{rate_fields[2]:.3g})"
        mtbf_text = "–" if rate_fields[0] is None else duration(1 / rate_fields[0] if rate_fields[0] > 0 else math.inf)
        print(f"| {n} | {t:.0f} | {'yes' if crashed == '1' else 'no'} | {how} | {hits} | {ret_hits} | {s} | {r} | {load} "
              f"| {rate_text} | {mtbf_text} | {from_hits:.3g} |")

    # Exponential lifetimes, storms stopped at a crash or at RUN_S (time-censored): the MLE is
    # T / c, its 95 % interval T / Gamma quantiles (the chi-square interval, halved).
    def measured_mtbf(t, c):
        return (t / gamma_quantile(c + 1, 1 - Z), t / c if c else math.inf, t / gamma_quantile(c, Z) if c else math.inf)

    def measured_text(m):
        return f"{duration(m[1])} ({duration(m[0])}–{duration(m[2])})"

    campaign_time, campaign_crashes = time, int(crashes)
    print()
    print(f"Storm time {time:.0f} s, runs {len(runs)}, crashes {campaign_crashes}.")
    print()
    # The predictions are checked against all storms of this configuration, earlier ones too: the
    # model's rates over all that time, the hits as counted in each campaign.
    time, c = campaign_time + prior_time, campaign_crashes + prior_crashes
    measured = measured_mtbf(time, c)
    scale = time / campaign_time if campaign_time else 0.0
    predicted = [x * scale for x in predicted]
    hits_expected += prior_hits
    print(f"| | MTBF (95 %) | predicted / measured | within 3× | P(≤ {c} crashes), P(≥ {c}) if the prediction holds |")
    print("|---|---|---:|---|---|")
    print("| measured (exponential MLE: storm time / crashes) | "
          f"{measured_text(measured_mtbf(campaign_time, campaign_crashes))} | | | |")
    if prior_time:
        print(f"| measured, with earlier storms of this configuration ({prior_time:.0f} s, {prior_crashes} crashes, "
              f"{prior_hits:.0f} window hits): "
              f"{time:.0f} s, {c} crashes | {measured_text(measured)} | | | |")

    def row(label, expected_low, expected, expected_high):
        predicted_mtbf = time / expected if expected > 0 else math.inf
        if c:
            ratio = predicted_mtbf / measured[1]
            verdict = "yes" if 1 / 3 <= ratio <= 3 else "no"
            ratio_text = f"{ratio:.2f}" if ratio < math.inf else "∞"
        else:
            # No crash: only the measured lower limit is known; a prediction 3× below it fails.
            ratio_text = "–"
            verdict = "no" if predicted_mtbf * 3 < measured[0] else "undetermined (no crash)"
        at_most = 1 - gamma_cdf(c + 1, expected)  # Poisson(expected) <= c
        at_least = f"{gamma_cdf(c, expected):.2g}" if c else "–"
        print(f"| {label} | {mtbf(time, expected_low, expected, expected_high)} | {ratio_text} "
              f"| {verdict} | {at_most:.2g}, {at_least} |")

    row("predicted: the model (S · R · w_ret · P_ret, time-weighted)", predicted[1], predicted[0], predicted[2])

    def from_hits(label, k, n):
        if n == 0:
            print(f"| {label} | no window landing | | | |")
            return
        k_low, k_high = garwood(k)
        row(f"{label} ({k} of {n} window landings at the return-address read)",
            hits_expected * k_low / n, hits_expected * k / n, hits_expected * k_high / n)

    from_hits("predicted: observed hits × landing fraction × P_ret", ret, window)
    if prior_window:
        from_hits("the same, pooled with earlier landing storms", ret + prior_ret, window + prior_window)


main()
