#!/usr/bin/env python3
"""Runs Flink SQL files (DDL + one `INSERT INTO print_sink SELECT ...`) on Apache Flink
(PyFlink, streaming mode, parallelism 1, mini-batch): the SELECT is collected as a changelog
(`execute_sql(select).collect()`), applied (+I/+U add a row, -U/-D remove one) and the
MATERIALIZED final rows are written, formatted as Flink's `Row.toString` without the
kind (`[a, 1, 2]`), sorted, one per line.

  flink_materialize.py --input BIDS.json --out OUT.txt QUERY.sql
Run it with the Flink venv's python (see make-updates-expected.sh).
"""
import argparse
import collections
import re

from pyflink.common import RowKind
from pyflink.table import EnvironmentSettings, TableEnvironment


def java_str(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("query")
    a = ap.parse_args()
    text = open(a.query).read().replace("${INPUT}", a.input)
    lines = [l for l in text.splitlines() if not l.strip().startswith("--")]
    stmts = [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = env.get_config()
    conf.set("parallelism.default", "1")
    # Mini-batches only make the changelog shorter (fewer -U/+U pairs crossing py4j);
    # the materialized result is the same.
    conf.set("table.exec.mini-batch.enabled", "true")
    conf.set("table.exec.mini-batch.allow-latency", "1 s")
    conf.set("table.exec.mini-batch.size", "20000")
    for s in stmts[:-1]:
        env.execute_sql(s)
    select = re.sub(r"(?is)^\s*INSERT\s+INTO\s+\S+\s+", "", stmts[-1])
    rows = collections.Counter()
    with env.execute_sql(select).collect() as results:
        for row in results:
            key = "[" + ", ".join(java_str(v) for v in row) + "]"
            if row.get_row_kind() in (RowKind.INSERT, RowKind.UPDATE_AFTER):
                rows[key] += 1
            else:
                rows[key] -= 1
    bad = {k: n for k, n in rows.items() if n < 0}
    if bad:
        raise SystemExit(f"retracted rows that were never added: {bad}")
    out = sorted(k for k, n in rows.items() for _ in range(n))
    with open(a.out, "w") as f:
        f.write("".join(r + "\n" for r in out))


if __name__ == "__main__":
    main()
