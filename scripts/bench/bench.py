#!/usr/bin/env python3
"""`make bench`: Eddy against Apache Flink on the same SQL and the same input, in one run.

  bench.py --eddy PATH [--events N] [--parallelism 1,2] [--queries q0,q1,...] [--repeat R]
           [--skip-flink] [--skip-check] [--cluster] [--latency] [--results FILE.jsonl]

1. Generates N bids (default 2 M) with the shared harness's `gen_bids.py` (cached under
   ~/.cache/eddy-bench/data): one file for parallelism 1, the same events in P files for
   parallelism P > 1 (Flink reads one file with one source subtask).
2. Runs every query with a blackhole sink on Eddy (`eddy run`) and on Flink (the
   harness's `run_flink.py`), `--repeat` times each (the median run counts), and prints
   events/s, their ratio, peak RSS of each process tree and its ratio. Eddy's events/s
   are over its whole process; Flink's over its job time (JVM start excluded), which
   favours Flink. Flink's whole-process events/s are printed too.
3. Runs every query again with the csv sink on both and checks that the sorted outputs
   are the same (byte for byte, or after the harness's normalisation). Exit code 1 if
   any output differs.
4. `--cluster`: the same queries on `eddy standalone` and on a master with 2 worker
   processes (see cluster.py). `--latency`: p50/p99 end-to-end latency (latency.py).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import shared
import engines

# Inputs and outputs live in memory (tmpfs) where there is one: on a VM whose host reclaims
# cold page cache (this project's, DAMON), files on disk are read from disk again and
# both engines' times become I/O noise. Results are kept under ~/.cache/eddy-bench.
ROOT = os.path.expanduser(os.environ.get("EDDY_BENCH_DIR") or (
    "/dev/shm/eddy-bench" if os.path.isdir("/dev/shm") else "~/.cache/eddy-bench"))
DATA = os.path.join(ROOT, "data")
RESULTS = os.path.expanduser("~/.cache/eddy-bench/results.jsonl")


def input_for(events, parallelism):
    """The input of a run: one file at P = 1, P files (round-robin) at P > 1."""
    os.makedirs(DATA, exist_ok=True)
    gen = os.path.join(shared.FLINK_BENCH, "gen_bids.py")
    if parallelism == 1:
        path = os.path.join(DATA, "bids_%d.json" % events)
        args = []
    else:
        path = os.path.join(DATA, "bids_%d_%df" % (events, parallelism))
        args = ["--files", str(parallelism)]
    if not os.path.exists(path):
        print("generating %s" % path, file=sys.stderr)
        subprocess.run([sys.executable, gen, "--events", str(events), "--out", path + ".tmp"] + args,
                       check=True)
        os.rename(path + ".tmp", path)
    return path


def median_run(runs, key="events_per_s"):
    ranked = sorted(runs, key=lambda r: r[key] or 0)
    return ranked[len(ranked) // 2]


def ratio(a, b):
    return round(a / b, 2) if a and b else None


def throughput(a, queries, parallelisms):
    rows = []
    for q in queries:
        for p in parallelisms:
            inp = input_for(a.events, p)
            qf = shared.query_file(q)
            eddy = median_run([engines.run_eddy(a.eddy, qf, inp, a.events, p) for _ in range(a.repeat)])
            flink = None if a.skip_flink else median_run(
                [engines.run_flink_query(qf, inp, a.events, p, jvm_args=a.flink_jvm_args)
                 for _ in range(a.repeat)])
            row = {"kind": "throughput", "query": q, "parallelism": p, "events": a.events, "eddy": eddy,
                   "flink": flink}
            if flink:
                row["ratio_events_per_s"] = ratio(eddy["events_per_s"], flink["events_per_s"])
                row["ratio_events_per_s_process"] = ratio(eddy["events_per_s"], flink["events_per_s_process"])
                row["ratio_rss"] = ratio(flink["peak_rss_mb"], eddy["peak_rss_mb"])
            rows.append(row)
            print(json.dumps(row), file=a.results_fh, flush=True)
            print_row(row)
    return rows


HEADER = ("| query | P | Eddy ev/s | Flink ev/s (job) | Flink ev/s (process) | × (job) | Eddy RSS MB "
          "| Flink RSS MB | RSS ÷ |\n|---|---|---|---|---|---|---|---|---|")


def print_row(r):
    f = r["flink"] or {}
    print("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
        r["query"], r["parallelism"], r["eddy"]["events_per_s"], f.get("events_per_s", "-"),
        f.get("events_per_s_process", "-"), r.get("ratio_events_per_s", "-"), r["eddy"]["peak_rss_mb"],
        f.get("peak_rss_mb", "-"), r.get("ratio_rss", "-")), flush=True)


def check_outputs(a, queries, parallelisms):
    """csv sink on both engines; the sorted outputs must be the same."""
    ok = True
    out_root = os.path.join(ROOT, "out")
    for q in queries:
        for p in parallelisms:
            inp = input_for(a.events, p)
            qf = shared.query_file(q)
            base = os.path.join(out_root, "%s-p%d" % (q, p))
            subprocess.run(["rm", "-rf", base + "-eddy", base + "-flink"], check=True)
            eddy = engines.run_eddy(a.eddy, qf, inp, a.events, p, output=base + "-eddy")
            flink = engines.run_flink_query(qf, inp, a.events, p, output=base + "-flink")
            raw = eddy["sorted_sha256"] == flink["sorted_sha256"]
            norm = eddy["norm_sha256"] == flink["norm_sha256"]
            ok &= raw or norm
            row = {"kind": "check", "query": q, "parallelism": p, "rows_eddy": eddy["rows_out"],
                   "rows_flink": flink["rows_out"], "match_raw": raw, "match_norm": norm}
            print(json.dumps(row), file=a.results_fh, flush=True)
            print("| %s | %d | %s | %s | %s |" % (q, p, eddy["rows_out"], flink["rows_out"],
                                                  "same bytes" if raw else ("same after normalising" if norm
                                                                            else "DIFFERENT")), flush=True)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eddy", required=True, help="the eddy binary (a release build)")
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--parallelism", default="1,2")
    ap.add_argument("--queries", default=",".join(shared.QUERIES))
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--flink-jvm-args", default="")
    ap.add_argument("--skip-flink", action="store_true", help="Eddy only (no ratios, no output check)")
    ap.add_argument("--skip-check", action="store_true", help="no csv-sink output comparison")
    ap.add_argument("--cluster", action="store_true", help="also standalone vs master + 2 workers")
    ap.add_argument("--latency", action="store_true", help="also p50/p99 latency at half the max rate")
    ap.add_argument("--results", default=RESULTS)
    a = ap.parse_args()
    a.eddy = os.path.abspath(a.eddy)
    queries = a.queries.split(",")
    parallelisms = [int(p) for p in a.parallelism.split(",")]
    os.makedirs(os.path.dirname(a.results), exist_ok=True)
    a.results_fh = open(a.results, "a")

    print("\n## Throughput, %d events, blackhole sink\n\n%s" % (a.events, HEADER), flush=True)
    rows = throughput(a, queries, parallelisms)
    ok = True
    if not a.skip_flink and not a.skip_check:
        print("\n## Outputs (csv sink)\n\n| query | P | Eddy rows | Flink rows | sorted outputs |\n"
              "|---|---|---|---|---|", flush=True)
        ok = check_outputs(a, queries, parallelisms)
    if a.cluster:
        import cluster
        cluster.compare(a, queries, input_for)
    if a.latency:
        import latency
        latency.measure_all(a, rows, input_for)
    if rows and rows[0]["flink"]:
        worst = min(rows, key=lambda r: r["ratio_events_per_s"] or 0)
        lean = min(rows, key=lambda r: r["ratio_rss"] or 0)
        print("\nlowest throughput ratio: %s× (%s, P=%d); lowest RSS ratio: %s× (%s, P=%d)" % (
            worst["ratio_events_per_s"], worst["query"], worst["parallelism"], lean["ratio_rss"],
            lean["query"], lean["parallelism"]))
    print("results appended to %s" % a.results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
