#!/usr/bin/env bash
# Produces the Flink oracle's expected outputs used by Eddy's SQL tests (issue 5):
#   200 000 bids from ../shared/bench/gen_bids.py (seed 42), every query of
#   ../shared/bench/queries run by real Apache Flink 2.3 (../shared/bench/run_flink.py,
#   parallelism 1, filesystem/csv sink), the sorted output rows gzipped into
#   integration/oracle/expected/QUERY.csv.gz, and their sha256 into SHA256SUMS.
# Rerun only when a query or the generator changes; the outputs are committed.
set -euo pipefail
cd "$(dirname "$0")"
BENCH="$(cd ../../../shared/bench && pwd)"
EVENTS="${EVENTS:-200000}"
WORK="${WORK:-$HOME/.cache/eddy-oracle}"
mkdir -p "$WORK" expected

"$BENCH/setup_flink.sh"
input="$WORK/bids_${EVENTS}.json"
[ -s "$input" ] || python3 "$BENCH/gen_bids.py" --events "$EVENTS" --out "$input"

: > expected/SHA256SUMS
for sql in "$BENCH"/queries/*.sql; do
  q="$(basename "$sql" .sql)"
  out="$WORK/out_$q"
  rm -rf "$out" "$out.sorted.csv" "$out.norm.csv"
  python3 "$BENCH/run_flink.py" --query "$sql" --input "$input" --output "$out" --parallelism 1 \
    | tee "$WORK/run_$q.json"
  # run_flink.py writes the rows sorted as bytes, joined by \n, no trailing newline.
  gzip -9n < "$out.sorted.csv" > "expected/$q.csv.gz"
  echo "$(sha256sum < "$out.sorted.csv" | cut -d' ' -f1)  $q" >> expected/SHA256SUMS
done
echo "events=$EVENTS seed=42 flink=2.3.0 parallelism=1" > expected/README
cat expected/SHA256SUMS
