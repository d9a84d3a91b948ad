#!/usr/bin/env bash
# Flink's MATERIALIZED results of the updating queries in oracle/updates/ (non-windowed
# GROUP BY, print sink): each query runs on real Apache Flink 2.3 (PyFlink venv,
# parallelism 1) over the oracle's 200 000 bids (gen_bids.py, seed 42); its changelog is
# applied and the final rows are written sorted to expected/updates_QUERY.txt.
# integration/tests/sql_updates.rs applies Eddy's printed changelog and compares.
# Usage: make-updates-expected.sh [QUERY…]   (default: every query in updates/)
set -euo pipefail
cd "$(dirname "$0")"
EVENTS="${EVENTS:-200000}"
WORK="${WORK:-$HOME/.cache/eddy-oracle}"
PY="${EDDY_FLINK_VENV:-$HOME/.cache/eddy-flink-venv}/bin/python"
mkdir -p "$WORK" expected
input="$WORK/bids_${EVENTS}.json"
[ -s "$input" ] || python3 gen_bids.py --events "$EVENTS" --out "$input"
if [ $# -eq 0 ]; then
  set -- $(cd updates && ls *.sql | sed 's/\.sql$//')
fi
for q in "$@"; do
  "$PY" updates/flink_materialize.py --input "$input" --out "expected/updates_$q.txt" "updates/$q.sql"
  echo "$q: $(wc -l < "expected/updates_$q.txt") rows"
done
