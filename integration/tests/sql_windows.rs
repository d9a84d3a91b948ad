//! SQL windows beyond the window TVF aggregates: CUMULATE, OVER aggregates and legacy
//! group windows against Apache Flink's output (oracle/expected), and Eddy's count
//! windows against rows this test computes from its own input; unsupported forms fail
//! with a position, never a panic.

use std::collections::BTreeMap;
use std::path::Path;

use eddy_integration::eddy_run::eddy_run;
use eddy_integration::oracle::{check_against_flink, check_against_flink_with, collect_sorted};

/// Every keyed operator kind with its state in RocksDB (`eddy run --set
/// state.backend.type=rocksdb`) gives Flink's output: window aggregates, SESSION, GROUP
/// BY (q7's MAX per window is a window aggregate; the updating GROUP BY has its own
/// test), OVER with ROWS and RANGE frames, the interval joins and the window joins.
#[test]
fn keyed_operators_on_the_rocksdb_backend_give_flinks_output() {
    for query in [
        "tumble_count",
        "session",
        "over_rows",
        "over_range",
        "interval_join",
        "interval_join_left",
        "window_join_full",
    ] {
        check_against_flink_with(query, &[2], &["--set", "state.backend.type=rocksdb"]);
    }
}

#[test]
fn cumulate_window() {
    check_against_flink("cumulate", &[1, 2]);
}

#[test]
fn over_rows_bounded() {
    check_against_flink("over_rows", &[1, 2]);
}

#[test]
fn over_range_interval_with_named_window() {
    check_against_flink("over_range", &[1, 2]);
}

#[test]
fn over_range_unbounded() {
    check_against_flink("over_unbounded", &[1, 2]);
}

#[test]
fn legacy_tumble() {
    check_against_flink("legacy_tumble", &[1, 2]);
}

#[test]
fn legacy_hop() {
    check_against_flink("legacy_hop", &[1, 2]);
}

#[test]
fn legacy_session() {
    check_against_flink("legacy_session", &[1, 2]);
}

/// Runs `sql` (with `${INPUT}`/`${OUTPUT}` filled in) at `parallelism`; returns the exit
/// code, stderr and the sorted output rows.
fn run(sql: &str, input: &Path, parallelism: u32) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out");
    let sql = sql
        .replace("${INPUT}", &input.display().to_string())
        .replace("${OUTPUT}", &output.display().to_string());
    let r = eddy_run(
        dir.path(),
        &sql,
        &["--parallelism", &parallelism.to_string()],
    );
    let rows = if output.exists() {
        String::from_utf8(collect_sorted(&output).unwrap()).unwrap()
    } else {
        String::new()
    };
    (r.code, r.stderr, rows)
}

const EVENTS: i64 = 500;

/// One JSON file of (k, v) rows, uneven counts per key; returns the values per key in
/// file order.
fn count_input(dir: &Path) -> BTreeMap<i64, Vec<i64>> {
    let mut per_key: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    let mut text = String::new();
    for i in 0..EVENTS {
        let k = (i * 7 + i / 13) % 5 + (i % 11) / 10 * 5;
        let v = (i * 37) % 101 - 50;
        text.push_str(&format!("{{\"k\": {k}, \"v\": {v}}}\n"));
        per_key.entry(k).or_default().push(v);
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("part-0.json"), text).unwrap();
    per_key
}

const COUNT_TABLES: &str = "CREATE TABLE src (k BIGINT, v BIGINT) WITH (
  'connector' = 'filesystem', 'path' = '${INPUT}', 'format' = 'json');
CREATE TABLE sink (k BIGINT, window_index BIGINT, cnt BIGINT, sum_v BIGINT, min_v BIGINT, max_v BIGINT)
  WITH ('connector' = 'filesystem', 'path' = '${OUTPUT}', 'format' = 'csv');
";

/// Flink's countWindow(size, slide): per key, after every `slide`-th row, one row over
/// that key's last `size` rows; rows after the last fire point are never emitted.
fn expected_count_windows(per_key: &BTreeMap<i64, Vec<i64>>, size: usize, slide: usize) -> String {
    let mut rows = Vec::new();
    for (k, values) in per_key {
        let mut fire = slide;
        while fire <= values.len() {
            let w = &values[fire.saturating_sub(size)..fire];
            rows.push(format!(
                "{k},{},{},{},{},{}",
                fire / slide - 1,
                w.len(),
                w.iter().sum::<i64>(),
                w.iter().min().unwrap(),
                w.iter().max().unwrap()
            ));
            fire += slide;
        }
    }
    rows.sort();
    rows.join("\n")
}

fn check_count_window(tvf: &str, size: usize, slide: usize) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let per_key = count_input(&input);
    // Some keys must leave a tail that no window covers.
    assert!(per_key.values().any(|v| v.len() % slide != 0));
    let want = expected_count_windows(&per_key, size, slide);
    let sql = format!(
        "{COUNT_TABLES}INSERT INTO sink
SELECT k, window_index, COUNT(*), SUM(v), MIN(v), MAX(v)
FROM TABLE({tvf})
GROUP BY k, window_index;"
    );
    // On either state backend.
    for set in ["", "SET 'state.backend.type' = 'rocksdb';\n"] {
        let sql = format!("{set}{sql}");
        for parallelism in [1, 2] {
            let (code, stderr, got) = run(&sql, &input, parallelism);
            assert_eq!(code, 0, "{stderr}");
            assert_eq!(got, want, "{tvf} at parallelism {parallelism} {set}");
        }
    }
}

#[test]
fn count_tumble_windows() {
    check_count_window("COUNT_TUMBLE(TABLE src, DESCRIPTOR(k), 7)", 7, 7);
}

#[test]
fn count_hop_windows() {
    check_count_window("COUNT_HOP(TABLE src, DESCRIPTOR(k), 5, 2)", 5, 2);
    check_count_window("COUNT_HOP(TABLE src, DESCRIPTOR(k), 2, 3)", 2, 3);
}

#[test]
fn count_window_columns_in_any_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let per_key = count_input(&input);
    let sql = format!(
        "{COUNT_TABLES}INSERT INTO sink
SELECT k, window_index, cnt, s, mn, mx FROM (
  SELECT MAX(v) AS mx, window_index, MIN(v) AS mn, k, SUM(v) AS s, COUNT(v) AS cnt
  FROM TABLE(COUNT_TUMBLE(TABLE src, DESCRIPTOR(k), 4))
  GROUP BY window_index, k);"
    );
    let (code, stderr, got) = run(&sql, &input, 2);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(got, expected_count_windows(&per_key, 4, 4));
}

const BID: &str = "CREATE TABLE bid (
  auction BIGINT, price BIGINT, date_time TIMESTAMP(3), pt AS PROCTIME(),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out (auction BIGINT, n BIGINT) WITH ('connector' = 'blackhole');
";

fn assert_error_at(query: &str, what: &str, line_col: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr, _) = run(&format!("{BID}{query}"), dir.path(), 1);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(what), "{what}: {stderr}");
    assert!(
        stderr.contains(&format!("job.sql:{line_col}")),
        "{line_col}: {stderr}"
    );
}

#[test]
fn unsupported_forms_have_positions() {
    // OVER must ORDER BY a time attribute.
    assert_error_at(
        "INSERT INTO out\nSELECT auction, COUNT(*) OVER (PARTITION BY auction ORDER BY price) FROM bid;",
        "time attribute",
        "6:",
    );
    // … an event-time one.
    assert_error_at(
        "INSERT INTO out\nSELECT auction, COUNT(*) OVER (PARTITION BY auction ORDER BY pt) FROM bid;",
        "processing-time",
        "6:",
    );
    // Frames end at CURRENT ROW.
    assert_error_at(
        "INSERT INTO out\nSELECT auction, COUNT(*) OVER (PARTITION BY auction ORDER BY date_time ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM bid;",
        "CURRENT ROW",
        "6:",
    );
    // Legacy auxiliary functions repeat the group window's arguments.
    assert_error_at(
        "INSERT INTO out\nSELECT auction, COUNT(*) FROM bid\nGROUP BY auction, HOP(date_time, INTERVAL '1' SECOND, 5);",
        "INTERVAL",
        "8:19",
    );
    assert_error_at(
        "INSERT INTO out\nSELECT auction, COUNT(*) FROM bid\nWHERE TUMBLE_END(date_time, INTERVAL '1' SECOND) IS NOT NULL GROUP BY auction;",
        "needs GROUP BY TUMBLE",
        "8:7",
    );
    // Count windows group by their descriptor column.
    assert_error_at(
        "INSERT INTO out\nSELECT price, COUNT(*) FROM TABLE(COUNT_TUMBLE(TABLE bid, DESCRIPTOR(auction), 3))\nGROUP BY price, window_index;",
        "must GROUP BY auction, window_index",
        "6:1",
    );
}
