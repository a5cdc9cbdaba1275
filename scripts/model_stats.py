#!/usr/bin/env python3
"""Summary for scripts/validate-model.sh: predicted against observed window hits, corruptions and
crashes per row (signal rate x padding), every row's storms of all rounds pooled and predicted
from the final pooled landing calibration.

  model_stats.py SEGMENTS LANDING_1 [LANDING_2 ...]

SEGMENTS has one JSON line per storm (scripts/lib/model_segment.jq); LANDING_k is the landing
calibration as pooled after round k. A row's prediction is Σ_storms exposure · duration · Σ_i
w_i · P_i (P_i = 1 for hits), with w_i from the final pool; its interval is the exact interval
of the pool's landings it rests on. Prints Markdown tables: rounds, rows, summary.
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from poisson import garwood  # noqa: E402


def landing(path):
    """(landings by window offset, exposure = 1 / seconds_per_landing) of a pooled calibration."""
    cal = json.load(open(path))["landing"]
    window = set(cal["window_offsets"])
    landings = {i["offset"]: i["landings"] for i in cal["instructions"] if i["offset"] in window}
    return landings, 1 / cal["seconds_per_landing"]


def number(x):
    if x == 0:
        return "0"
    return f"{x:.3g}" if x >= 0.001 else f"{x:.2e}"


def ratio(a, b):
    return f"{a / b:.2f}" if b > 0 else "–"


def within(observed, predicted, factor):
    if predicted == 0:
        return "yes" if observed == 0 else "no"
    return "yes" if 1 / factor <= observed / predicted <= factor else "no"


def predicted(rows, landings, exposure_total, weight):
    """Expected count over the storms `rows` (and its 95 % interval) for per-offset weights."""
    share = {id(s): s["exposure"] * s["duration_s"] / exposure_total for s in rows}
    support = sum(n for offset, n in landings.items() if any(weight(s, offset) > 0 for s in rows))
    expected = sum(share[id(s)] * sum(n * weight(s, offset) for offset, n in landings.items()) for s in rows)
    if support == 0:
        # No landing where a weight is nonzero: only an upper limit, as the report gives it.
        top = max((weight(s, offset) for s in rows for offset in landings), default=0)
        return 0.0, 0.0, sum(share.values()) * garwood(0)[1] * top
    low, high = garwood(support)
    return expected, expected * low / support, expected * high / support


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("segments")
    parser.add_argument("landings", nargs="+")
    args = parser.parse_args()
    storms = [json.loads(line) for line in open(args.segments) if line.strip()]
    pools = [landing(p) for p in args.landings]
    final, exposure_total = pools[-1]
    offsets = list(final)

    print("Rounds: each round's own landing storm (the pool's increment) and the hits its rows "
          "would predict from it, next to the hits they saw.")
    print()
    print("| round | landing storm: window landings | its Σw (s) | rows ended | load | hits observed | "
          "hits predicted from this round's Σw | obs/pred |")
    print("|---:|---|---:|---|---|---:|---:|---:|")
    before = ({o: 0 for o in offsets}, 0.0)
    for k, (counts, exposure) in enumerate(pools, 1):
        gained = {o: counts.get(o, 0) - before[0].get(o, 0) for o in offsets}
        exposure_gained = exposure - before[1]
        before = (counts, exposure)
        sigma_w = sum(gained.values()) / exposure_gained if exposure_gained > 0 else math.nan
        mine = [s for s in storms if s["round"] == k]
        hits = sum(s["hits"] for s in mine)
        expected = sum(s["exposure"] * s["duration_s"] for s in mine) * sigma_w
        print(f"| {k} | {' '.join(f'{o}:{n}' for o, n in gained.items())} | {number(sigma_w)} | "
              f"{mine[0]['ended'] + '–' + mine[-1]['ended'] if mine else '–'} | "
              f"{min((float(s['load']) for s in mine), default='–')}–{max((float(s['load']) for s in mine), default='–')} | "
              f"{hits} | {number(expected)} | {ratio(hits, expected)} |")
    print()

    rows = defaultdict(list)
    for s in storms:
        rows[(s["rate"], s["padding"])].append(s)
    print(f"Rows: every round's storms of the row pooled; predicted from the final pool "
          f"({sum(final.values())} window landings: {' '.join(f'{o}={n}' for o, n in final.items())}).")
    print()
    print("| signals/s | padding | slots | storm s | S /s | R /s | P(overwritten) by window offset | "
          "hits predicted (95 %) | hits observed (95 %) | obs/pred | within 2× | corruptions predicted (95 %) | "
          "corruptions measured | obs/pred | within 3× | crashes predicted (95 %) | crashes |")
    print("|---:|---:|---|---:|---:|---:|---|---|---|---:|---|---|---:|---:|---|---|---:|")
    verdicts = {"hits": [], "corruptions": []}
    for (rate, padding), mine in sorted(rows.items()):
        seconds = sum(s["duration_s"] for s in mine)
        mean = lambda key: sum(s[key] * s["duration_s"] for s in mine) / seconds
        p_by_offset = {o: sum(s["p_overwritten"].get(o, 0) * s["duration_s"] for s in mine) / seconds for o in offsets}
        hits = predicted(mine, final, exposure_total, lambda s, o: 1)
        corrupt = predicted(mine, final, exposure_total, lambda s, o: s["p_overwritten"].get(o, 0))
        crash = predicted(mine, final, exposure_total,
                          lambda s, o: s["p_overwritten"].get(o, 0) if o == s["return_offset"] else 0)
        observed_hits = sum(s["hits"] for s in mine)
        measured = [s["corruptions"] for s in mine]
        observed_corrupt = None if None in measured else sum(measured)
        crashes = sum(1 for s in mine if s["crashed"])
        low, high = garwood(observed_hits)
        hits_ok = within(observed_hits, hits[0], 2)
        verdicts["hits"].append(hits_ok)
        if observed_corrupt is None:
            corrupt_cells = "not measured | – | –"
        else:
            corrupt_ok = within(observed_corrupt, corrupt[0], 3)
            verdicts["corruptions"].append(corrupt_ok)
            corrupt_cells = f"{observed_corrupt} | {ratio(observed_corrupt, corrupt[0])} | {corrupt_ok}"
        print(f"| {rate} | {padding} | {mine[0]['slot']} | {seconds:.0f} | {mean('async_signals_per_s'):.0f} | "
              f"{mean('resumes_per_s'):.0f} | {' '.join(f'{o}:{p:.2g}' for o, p in p_by_offset.items())} | "
              f"{number(hits[0])} ({number(hits[1])}–{number(hits[2])}) | {observed_hits} ({low:.1f}–{high:.1f}) | "
              f"{ratio(observed_hits, hits[0])} | {hits_ok} | "
              f"{number(corrupt[0])} ({number(corrupt[1])}–{number(corrupt[2])}) | {corrupt_cells} | "
              f"{number(crash[0])} ({number(crash[1])}–{number(crash[2])}) | {crashes} |")
    print()
    total_hits = sum(s["hits"] for s in storms)
    total_expected = predicted(storms, final, exposure_total, lambda s, o: 1)[0]
    print(f"Hits within 2×: {verdicts['hits'].count('yes')} of {len(verdicts['hits'])} rows; "
          f"all rows: {total_hits} observed, {number(total_expected)} predicted ({ratio(total_hits, total_expected)}). "
          f"Corruptions within 3×: {verdicts['corruptions'].count('yes')} of {len(verdicts['corruptions'])} rows.")
    crashed = [s for s in storms if s["crashed"]]
    if crashed:
        print()
        print("Crashed storms: " + "; ".join(
            f"round {s['round']}, {s['rate']}/s, padding {s['padding']}: {s['crashed']} after {s['hits']} hits"
            + (f" ({', '.join(s['crash_signatures'])})" if s.get("crash_signatures") else "")
            for s in crashed) + ".")


main()
