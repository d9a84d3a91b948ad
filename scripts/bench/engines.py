"""Runs one query on one engine and measures it from outside.

Eddy: `eddy run -p P FILE.sql` on the SQL text prepared exactly as the Flink harness
prepares it (`run_flink.prepare_sql`: ${INPUT}/${OUTPUT} substituted; with a blackhole
sink the sink's WITH clause replaced). Wall time is the whole process (Eddy has no
separate job start), peak RSS is the larger of the process tree's polled RSS and the
kernel's exact `ru_maxrss` of the child.

Flink: the shared harness's `run_flink.py` (PyFlink MiniCluster, STREAMING mode), which
reports the job time (`wall_s`: submit to finished, JVM start excluded) and the whole
process time (`process_wall_s`) separately.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import shared  # noqa: F401  (puts the Flink harness on sys.path)
import outhash  # noqa: E402
import run_flink  # noqa: E402

# A run that takes longer than this is a hang, not a measurement.
RUN_TIMEOUT_S = 1800


def sql_file(query, inp, out, blackhole):
    """The query's SQL, prepared as the Flink harness prepares it, in a temporary file."""
    with open(query) as fh:
        stmts = run_flink.prepare_sql(fh.read(), os.path.abspath(inp), out, blackhole)
    fd, path = tempfile.mkstemp(prefix="eddy-bench-", suffix=".sql")
    with os.fdopen(fd, "w") as fh:
        fh.write(";\n\n".join(stmts) + ";\n")
    return path


def measure(cmd, env=None):
    """Runs `cmd`; returns (wall seconds, peak RSS MB, stdout, stderr, exit code)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as so, tempfile.TemporaryFile() as se:
        p = subprocess.Popen(cmd, stdout=so, stderr=se, env=env)
        with outhash.RssPoller(p.pid, interval=0.02) as poller:
            deadline = t0 + RUN_TIMEOUT_S
            while True:
                pid, status, usage = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    p.kill()
                    raise SystemExit("timed out: %s" % cmd)
                time.sleep(0.005)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        so.seek(0)
        se.seek(0)
        out, err = so.read().decode(errors="replace"), se.read().decode(errors="replace")
    peak = max(poller.peak, usage.ru_maxrss * 1024) / (1024 * 1024)
    return wall, round(peak, 1), out, err, p.returncode


def run_eddy(eddy, query, inp, events, parallelism, output=None, keep_sink=False):
    """One `eddy run`; `output` None means a blackhole sink, or the query's own sink
    (which writes no output to compare) with `keep_sink`."""
    out = output or "/dev/null"
    path = sql_file(query, inp, out, output is None and not keep_sink)
    try:
        wall, rss, so, se, rc = measure([eddy, "run", "-p", str(parallelism), "--log", "warn", path])
    finally:
        os.unlink(path)
    if rc != 0:
        sys.stderr.write(se[-4000:])
        raise SystemExit("eddy run failed (rc %d) on %s" % (rc, query))
    res = {"engine": "eddy", "wall_s": round(wall, 3), "events_per_s": round(events / wall),
           "peak_rss_mb": rss, "summary": se.strip().splitlines()[-1] if se.strip() else ""}
    if output:
        res["rows_out"], res["sorted_sha256"] = outhash.sorted_hash(output)
        _, res["norm_sha256"] = outhash.sorted_hash(output, normalize=True)
    return res


def run_flink_query(query, inp, events, parallelism, output=None, jvm_args=""):
    """One Flink run through the shared harness; `output` None means a blackhole sink."""
    cmd = [sys.executable, os.path.join(shared.FLINK_BENCH, "run_flink.py"), "--query", query,
           "--input", inp, "--parallelism", str(parallelism), "--events", str(events)]
    cmd += ["--output", output] if output else ["--blackhole"]
    if jvm_args:
        cmd += ["--jvm-args", jvm_args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if p.returncode != 0:
        sys.stderr.write(p.stderr[-4000:])
        raise SystemExit("flink failed on %s" % query)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["engine"] = "flink"
    return r
