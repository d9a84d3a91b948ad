#!/usr/bin/env bash
# Produces the Flink oracle's expected outputs used by Eddy's SQL tests:
#   200 000 bids from oracle/gen_bids.py (a copy of ../shared/bench/gen_bids.py, seed 42),
#   each query of oracle/queries (copies of ../shared/bench/queries plus Eddy's own cases)
#   run by real Apache Flink 2.3 (../shared/bench/run_flink.py, parallelism 1,
#   filesystem/csv sink), the sorted output rows gzipped into expected/QUERY.csv.gz and
#   their sha256 into expected/SHA256SUMS.
# Usage: make-expected.sh [QUERY…]   (default: every query). Rerun only when a query or
# the generator changes; the outputs are committed.
set -euo pipefail
cd "$(dirname "$0")"
BENCH="$(cd ../../../shared/bench && pwd)"
EVENTS="${EVENTS:-200000}"
WORK="${WORK:-$HOME/.cache/eddy-oracle}"
mkdir -p "$WORK" expected

"$BENCH/setup_flink.sh"
input="$WORK/bids_${EVENTS}.json"
[ -s "$input" ] || python3 gen_bids.py --events "$EVENTS" --out "$input"

if [ $# -eq 0 ]; then
  set -- $(cd queries && ls *.sql | sed 's/\.sql$//')
fi
touch expected/SHA256SUMS
for q in "$@"; do
  sql="queries/$q.sql"
  out="$WORK/out_$q"
  rm -rf "$out" "$out.sorted.csv" "$out.norm.csv"
  python3 "$BENCH/run_flink.py" --query "$sql" --input "$input" --output "$out" --parallelism 1 \
    | tee "$WORK/run_$q.json"
  # run_flink.py writes the rows sorted as bytes, joined by \n.
  gzip -9n < "$out.sorted.csv" > "expected/$q.csv.gz"
  grep -v "  $q\$" expected/SHA256SUMS > expected/SHA256SUMS.new || true
  echo "$(sha256sum < "$out.sorted.csv" | cut -d' ' -f1)  $q" >> expected/SHA256SUMS.new
  sort -k2 expected/SHA256SUMS.new > expected/SHA256SUMS && rm expected/SHA256SUMS.new
done
echo "events=$EVENTS seed=42 flink=2.3.0 parallelism=1" > expected/README
cat expected/SHA256SUMS
