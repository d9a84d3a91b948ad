//! Non-windowed GROUP BY through `eddy run`: the exact changelog a print sink shows for
//! a small input, Flink's planning error for an insert-only sink, and — against Apache
//! Flink — the MATERIALIZED result (changelog applied) of the queries in
//! oracle/updates/ on the oracle's 200 000 bids at parallelism 1 and 2 (Flink's
//! results: oracle/expected/updates_QUERY.txt, made by oracle/make-updates-expected.sh).

use std::collections::BTreeMap;
use std::path::Path;

use eddy_integration::eddy_run::eddy_run;
use eddy_integration::oracle::{bids_input, oracle_dir};

/// Runs a script; returns (exit code, stdout, stderr).
fn run(sql: &str, parallelism: u32) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let r = eddy_run(
        dir.path(),
        sql,
        &["--parallelism", &parallelism.to_string()],
    );
    (r.code, r.stdout, r.stderr)
}

/// Three files, read in order by one source subtask: three batches.
fn small_input(dir: &Path) {
    std::fs::write(
        dir.join("1.json"),
        "{\"k\":\"a\",\"x\":5}\n{\"k\":\"b\",\"x\":1}\n",
    )
    .unwrap();
    std::fs::write(dir.join("2.json"), "{\"k\":\"a\",\"x\":4}\n").unwrap();
    std::fs::write(
        dir.join("3.json"),
        "{\"k\":\"a\",\"x\":1}\n{\"k\":\"b\",\"x\":2}\n",
    )
    .unwrap();
}

fn source(dir: &Path) -> String {
    format!(
        "CREATE TABLE t (k STRING, x BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');\n",
        dir.display()
    )
}

#[test]
fn print_sink_shows_the_exact_changelog() {
    let input = tempfile::tempdir().unwrap();
    small_input(input.path());
    let sql = format!(
        "{}CREATE TABLE print_sink (k STRING, c BIGINT, s BIGINT) WITH ('connector' = 'print');\n\
         INSERT INTO print_sink SELECT k, COUNT(*), SUM(x) FROM t GROUP BY k;",
        source(input.path())
    );
    let (code, stdout, stderr) = run(&sql, 1);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "+I[a, 1, 5]\n+I[b, 1, 1]\n-U[a, 1, 5]\n+U[a, 2, 9]\n-U[a, 2, 9]\n+U[a, 3, 10]\n-U[b, 1, 1]\n+U[b, 2, 3]\n"
    );
}

#[test]
fn aggregate_of_an_updating_stream_retracts_and_deletes() {
    let input = tempfile::tempdir().unwrap();
    small_input(input.path());
    let sql = format!(
        "{}CREATE TABLE print_sink (c BIGINT, n BIGINT) WITH ('connector' = 'print');\n\
         INSERT INTO print_sink SELECT c, COUNT(*) FROM (SELECT k, COUNT(*) AS c FROM t GROUP BY k) GROUP BY c;",
        source(input.path())
    );
    let (code, stdout, stderr) = run(&sql, 1);
    assert_eq!(code, 0, "{stderr}");
    // Batch 2: a goes from 1 to 2 bids; batch 3: a 2→3 and b 1→2 (count 2 stays 1 bidder).
    assert_eq!(
        stdout,
        "+I[1, 2]\n-U[1, 2]\n+U[1, 1]\n+I[2, 1]\n+I[3, 1]\n-D[1, 1]\n"
    );
}

#[test]
fn insert_only_sink_refuses_updates_like_flink() {
    let input = tempfile::tempdir().unwrap();
    small_input(input.path());
    let out = tempfile::tempdir().unwrap();
    let sql = format!(
        "{}CREATE TABLE fs (k STRING, c BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO fs SELECT k, COUNT(*) FROM t GROUP BY k;",
        source(input.path()),
        out.path().display()
    );
    let (code, _, stderr) = run(&sql, 1);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(
            "Table sink 'default_catalog.default_database.fs' doesn't support consuming update changes which is produced by node GroupAggregate("
        ),
        "{stderr}"
    );
    assert!(stderr.contains("job.sql:3:1"), "{stderr}");
}

#[test]
fn window_over_an_updating_view_is_refused() {
    let input = tempfile::tempdir().unwrap();
    small_input(input.path());
    let sql = format!(
        "CREATE TABLE t2 (k STRING, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');\n\
         CREATE VIEW v AS SELECT k, MAX(ts) AS ts FROM t2 GROUP BY k;\n\
         CREATE TABLE print_sink (k STRING, c BIGINT) WITH ('connector' = 'print');\n\
         INSERT INTO print_sink SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE v, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end, k;",
        input.path().display()
    );
    let (code, _, stderr) = run(&sql, 1);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("doesn't support consuming update changes"),
        "{stderr}"
    );
}

/// Applies a printed changelog (`[N> ]+I[…]`): the final rows, sorted, one per line.
fn materialize(stdout: &str) -> String {
    let mut rows: BTreeMap<&str, i64> = BTreeMap::new();
    for line in stdout.lines() {
        let line = line.split_once("> ").map_or(line, |(_, rest)| rest);
        let (kind, row) = line.split_at(2);
        let n = rows.entry(row).or_default();
        match kind {
            "+I" | "+U" => *n += 1,
            "-U" | "-D" => *n -= 1,
            other => panic!("unknown row kind {other} in {line}"),
        }
    }
    let mut out = String::new();
    for (row, n) in rows {
        assert!(n >= 0, "{row} retracted more often than added");
        for _ in 0..n {
            out.push_str(row);
            out.push('\n');
        }
    }
    out
}

fn check_materialized(query: &str) {
    let input = bids_input(2).expect("oracle input");
    let sql = std::fs::read_to_string(oracle_dir().join("updates").join(format!("{query}.sql")))
        .unwrap()
        .replace("${INPUT}", &input.display().to_string());
    let want = std::fs::read_to_string(
        oracle_dir()
            .join("expected")
            .join(format!("updates_{query}.txt")),
    )
    .expect("expected output (run oracle/make-updates-expected.sh QUERY)");
    assert!(!want.is_empty());
    for parallelism in [1, 2] {
        let (code, stdout, stderr) = run(&sql, parallelism);
        assert_eq!(code, 0, "{query} p={parallelism}: {stderr}");
        let got = materialize(&stdout);
        assert!(
            got == want,
            "{query} at parallelism {parallelism} differs from Flink:\n--- eddy\n{}\n--- flink\n{}",
            &got[..got.len().min(2000)],
            &want[..want.len().min(2000)]
        );
    }
}

#[test]
fn flink_group_by_channel() {
    check_materialized("group_by_channel");
}

#[test]
fn flink_global_count() {
    check_materialized("global_count");
}

#[test]
fn flink_nested_retract() {
    check_materialized("nested_retract");
}

#[test]
fn flink_having_expr() {
    check_materialized("having_expr");
}
