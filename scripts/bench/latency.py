"""End-to-end latency in processing time: a filter and a tumbling aggregate
(latency/*.sql) read the bids with the source throttled to half of the maximum the
throughput phase measured for the same kind of job (q2 for the filter, tumble_count for
the aggregate), at parallelism 1; the blackhole sink records now - PROCTIME() stamp of
each row (`'latency.column'`) and `eddy run` prints p50/p99/max.
"""
import json
import os
import re
import tempfile

import engines
import shared

HERE = os.path.dirname(os.path.abspath(__file__))
JOBS = (("filter", "q2"), ("tumble", "tumble_count"))
SUMMARY = re.compile(r"sink latency p50 (\d+) ms, p99 (\d+) ms, max (\d+) ms \((\d+) rows\)")


def measure_all(a, rows, input_for):
    print("\n## Latency at half the maximum rate (parallelism 1, processing time, ms)\n\n"
          "| job | rate rows/s | p50 | p99 | max | rows measured |\n|---|---|---|---|---|---|", flush=True)
    inp = input_for(a.events, 1)
    for job, like in JOBS:
        maxima = [r["eddy"]["events_per_s"] for r in rows if r["query"] == like and r["parallelism"] == 1]
        if not maxima:
            maxima = [engines.run_eddy(a.eddy, shared.query_file(like), inp, a.events, 1)["events_per_s"]]
        rate = maxima[0] // 2
        with open(os.path.join(HERE, "latency", job + ".sql")) as fh:
            sql = fh.read().replace("${RATE}", str(rate))
        fd, path = tempfile.mkstemp(prefix="eddy-latency-", suffix=".sql")
        with os.fdopen(fd, "w") as fh:
            fh.write(sql)
        try:
            res = engines.run_eddy(a.eddy, path, inp, a.events, 1, keep_sink=True)
        finally:
            os.unlink(path)
        m = SUMMARY.search(res["summary"])
        if not m:
            raise SystemExit("eddy run printed no sink latency: %s" % res["summary"])
        p50, p99, mx, n = (int(g) for g in m.groups())
        row = {"kind": "latency", "job": job, "rate": rate, "p50_ms": p50, "p99_ms": p99, "max_ms": mx,
               "samples": n, "events": a.events}
        print(json.dumps(row), file=a.results_fh, flush=True)
        print("| %s | %d | %d | %d | %d | %d |" % (job, rate, p50, p99, mx, n), flush=True)

