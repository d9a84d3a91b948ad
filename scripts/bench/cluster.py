"""Scaling across processes: the same queries submitted over the REST API to
`eddy standalone` (master and worker in one process) and to a master with two
`eddy worker` processes, at parallelism 1 and 2 (each worker offers one slot per core).

Events/s are over the job's own time (its `start_time` to `end_time`, submit to
finished); peak RSS is summed over every process of the deployment, polled while the
job runs.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

import shared
import engines
import outhash

# Limits: a process that is not up, or a job that does not finish, in this time is an error.
START_TIMEOUT_S = 60
JOB_TIMEOUT_S = 1800
WORKER_SLOTS = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


class Deployment:
    """Eddy processes on 127.0.0.1 with their own data dir; stopped on exit."""

    def __init__(self, eddy, workers):
        self.eddy, self.workers = eddy, workers
        self.dir = tempfile.mkdtemp(prefix="eddy-bench-cluster-")
        self.url = "http://127.0.0.1:%d" % free_port()
        self.procs = []

    def spawn(self, args, name):
        log = open(os.path.join(self.dir, name + ".log"), "w")
        self.procs.append(subprocess.Popen([self.eddy] + args + ["--log", "warn"], stdout=log, stderr=log))

    def __enter__(self):
        http_addr = self.url[len("http://"):]
        if self.workers == 0:
            self.spawn(["standalone", "--http", http_addr, "--data-dir", self.dir + "/data",
                        "--slots", str(WORKER_SLOTS)], "standalone")
            slots = WORKER_SLOTS
        else:
            self.spawn(["master", "--http", http_addr, "--data-dir", self.dir + "/data"], "master")
            self.wait(lambda: http("GET", self.url + "/api/v1/overview") is not None)
            for i in range(self.workers):
                self.spawn(["worker", "--master", self.url, "--slots", str(WORKER_SLOTS),
                            "--rpc", "127.0.0.1:%d" % free_port()], "worker-%d" % (i + 1))
            slots = WORKER_SLOTS * self.workers
        self.wait(lambda: http("GET", self.url + "/api/v1/overview")["slots_total"] >= slots)
        return self

    def wait(self, ready):
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(0.1)
        raise SystemExit("eddy did not start; logs in %s" % self.dir)

    def rss_bytes(self):
        return sum(outhash._tree_rss_bytes(p.pid) for p in self.procs)

    def run(self, sql, parallelism):
        job = http("POST", self.url + "/api/v1/jobs", {"sql": sql, "parallelism": parallelism})
        peak, deadline = 0, time.monotonic() + JOB_TIMEOUT_S
        while time.monotonic() < deadline:
            peak = max(peak, self.rss_bytes())
            info = http("GET", self.url + "/api/v1/jobs/" + job["id"])
            if info["status"] in ("FINISHED", "FAILED", "CANCELED"):
                if info["status"] != "FINISHED":
                    raise SystemExit("job %s: %s" % (info["status"], json.dumps(info)[:2000]))
                return (info["end_time"] - info["start_time"]) / 1000.0, peak / (1024 * 1024)
            time.sleep(0.02)
        raise SystemExit("job did not finish in %d s" % JOB_TIMEOUT_S)

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def compare(a, queries, input_for):
    print("\n## Standalone against master + 2 workers (REST submission, blackhole sink)\n\n"
          "| query | P | standalone ev/s | 2 workers ev/s | standalone RSS MB | master + 2 workers RSS MB |\n"
          "|---|---|---|---|---|---|", flush=True)
    for q in queries:
        for p in (1, 2):
            inp = input_for(a.events, p)
            path = engines.sql_file(shared.query_file(q), inp, "/dev/null", True)
            with open(path) as fh:
                sql = fh.read()
            os.unlink(path)
            row = {"kind": "cluster", "query": q, "parallelism": p, "events": a.events}
            for name, workers in (("standalone", 0), ("workers2", 2)):
                with Deployment(a.eddy, workers) as d:
                    secs, rss = d.run(sql, p)
                row[name] = {"events_per_s": round(a.events / secs), "peak_rss_mb": round(rss, 1),
                             "job_s": secs}
            print(json.dumps(row), file=a.results_fh, flush=True)
            print("| %s | %d | %s | %s | %s | %s |" % (q, p, row["standalone"]["events_per_s"],
                                                     row["workers2"]["events_per_s"],
                                                     row["standalone"]["peak_rss_mb"],
                                                     row["workers2"]["peak_rss_mb"]), flush=True)
