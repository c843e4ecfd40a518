#!/usr/bin/env python3
"""README's Fidelity tables from a real run: every row of `dfsim validate --format json`.

Usage: ./build/dfsim validate --format json | python3 scripts/fidelity_table.py
Prints Markdown: per file a summary line (fidelity over the rows not fitted to, the fitted rows
apart; serving files also per metric) and one table row per measured row, simulated or not, with
its error or the reason.
"""

import json
import os
import sys


def pct(x):
    return "–" if x is None else f"{100 * x:.1f} %"


def signed(x):
    return f"{100 * x:+.1f} %".replace("-", "−")


def conditions(row):
    if row.get("serving"):
        s = row["serving"]
        return f"serving TP{s['tp']}, {s['requests']} × ({s['isl']} + {s['osl']}), rate {s['rate']}"
    if row["phase"] == "prefill":
        return f"prefill, batch {row['batch']}, prompt {row['prompt']}"
    return f"decode, batch {row['batch']}, {row['prompt']} + {row['gen']}"


def main():
    report = json.load(sys.stdin)
    for file in report["files"]:
        name = os.path.basename(file["path"])
        fitted = file["fitted"]
        line = (f"**{name}**: {len(file['rows'])} rows, {file['simulated']} simulated; not fitted "
                f"to: median |error| {pct(file['median_abs_error'])}, max "
                f"{pct(file['max_abs_error'])}")
        if fitted["simulated"]:
            line += (f"; fitted to ({fitted['simulated']}): median "
                     f"{pct(fitted['median_abs_error'])}, max {pct(fitted['max_abs_error'])}")
        print(line + ".\n")
        # Serving rows: the throughput rows are the fidelity figure above; TTFT and ITL apart.
        serving = file.get("serving") or {}
        if serving:
            parts = [f"{metric} ({m['simulated']} rows): median |error| "
                     f"{pct(m['median_abs_error'])}, max {pct(m['max_abs_error'])}"
                     for metric, m in serving.items()]
            print("Serving rows per metric (the summary above counts the throughput rows only): "
                  + "; ".join(parts) + ".\n")
        print("| line | hw | model | dtype | conditions | metric | measured | simulated | error |"
              " fitted by |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for row in file["rows"]:
            if row["simulated"]:
                sim, err = f"{row['value']:.5g}", signed(row["error"])
            else:
                sim, err = "not simulated", row["reason"]
            print(f"| {row['line']} | {row['hw']} | {row['model']} | {row['weight_dtype']} | "
                  f"{conditions(row)} | {row['metric']} | {row['measured']:.5g} {row['unit']} | "
                  f"{sim} | {err} | {row['fitted_by'] or '–'} |")
        print()


if __name__ == "__main__":
    main()
