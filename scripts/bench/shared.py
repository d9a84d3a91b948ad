"""Where the Flink harness lives (`../shared/bench` beside the clone, or
$FLINK_BENCH_DIR), put on `sys.path` so its `outhash` and `run_flink` are used as they
are: the bench compares Eddy with Flink by the harness's own rules."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FLINK_BENCH = os.path.abspath(os.environ.get("FLINK_BENCH_DIR")
                              or os.path.join(REPO, "..", "shared", "bench"))
if not os.path.exists(os.path.join(FLINK_BENCH, "run_flink.py")):
    raise SystemExit("the Flink bench harness is not at %s (set FLINK_BENCH_DIR)" % FLINK_BENCH)
sys.path.insert(0, FLINK_BENCH)

QUERIES = ["q0", "q1", "q2", "tumble_count", "hop_count", "q7_max", "session"]


def query_file(name):
    return os.path.join(FLINK_BENCH, "queries", name + ".sql")
