//! SQL features beyond the oracle queries: expression computed columns (also as the
//! watermark column), views, SET, and several INSERT INTO run as one job.

use eddy_integration::eddy_run::eddy_run;
use eddy_integration::oracle::collect_sorted;

fn rows(dir: &std::path::Path) -> Vec<String> {
    String::from_utf8(collect_sorted(dir).unwrap())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn computed_columns_views_set_and_statement_sets() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        concat!(
            "{\"id\": 1, \"cents\": 1250, \"ms\": 1000}\n",
            "{\"id\": 2, \"cents\": 99, \"ms\": 4000}\n",
            "{\"id\": 3, \"cents\": 3000, \"ms\": 12000}\n",
        ),
    )
    .unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let sql = format!(
        "SET 'parallelism.default' = '2';\n\
         CREATE TABLE t (\n  id BIGINT,\n  cents BIGINT,\n  ms BIGINT,\n  euros AS CAST(cents AS DOUBLE) / 100,\n  ts AS TO_TIMESTAMP_MILLIS(ms),\n  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND\n) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');\n\
         CREATE VIEW expensive AS SELECT id, euros FROM t WHERE euros > 1;\n\
         CREATE TABLE a (id BIGINT, euros DOUBLE) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         CREATE TABLE b (window_start TIMESTAMP(3), cnt BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO a SELECT id, euros FROM expensive;\n\
         INSERT INTO b SELECT window_start, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end;",
        input.display(),
        a.display(),
        b.display()
    );
    let run = eddy_run(dir.path(), &sql, &[]);
    let stderr = run.stderr;
    assert!(run.code == 0, "{stderr}");
    assert_eq!(rows(&a), vec!["1,12.5", "3,30.0"]);
    assert_eq!(
        rows(&b),
        vec!["\"1970-01-01 00:00:00\",2", "\"1970-01-01 00:00:10\",1"]
    );
    // One job: both sinks' rows counted in one summary.
    assert!(
        stderr.contains("3 rows in, 4 rows out"),
        "the source is read once: {stderr}"
    );
}

#[test]
fn ingestion_time_case_and_set_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::write(input.join("a.csv"), "1,5\n2,50\n").unwrap();
    std::fs::write(input.join("b.csv"), "3,500\n").unwrap();
    let out = dir.path().join("out");
    let sql = format!(
        "CREATE TABLE t (\n  id BIGINT,\n  amount BIGINT,\n  arrived AS INGESTION_TIME(),\n  WATERMARK FOR arrived AS arrived\n) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         CREATE TABLE out (id BIGINT, size STRING, recent BOOLEAN) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO out SELECT id, CASE WHEN amount < 10 THEN 'small' WHEN amount < 100 THEN 'medium' ELSE 'large' END,\n\
           arrived > TIMESTAMP '2020-01-01 00:00:00' FROM t;",
        input.display(),
        out.display()
    );
    let run = eddy_run(dir.path(), &sql, &["--set", "parallelism.default=2"]);
    let stderr = run.stderr;
    assert!(run.code == 0, "{stderr}");
    // The arrival stamp is the wall clock at the source: later than 2020.
    assert_eq!(
        rows(&out),
        vec!["1,small,true", "2,medium,true", "3,large,true"]
    );
    // --set reached the plan: two source subtasks (one file each), two sink part files.
    let parts = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(parts, 2, "{stderr}");
}

#[test]
fn proctime_column_and_processing_time_window() {
    let dir = tempfile::tempdir().unwrap();
    let (out, win) = (dir.path().join("out"), dir.path().join("win"));
    let sql = format!(
        "CREATE TABLE gen (k BIGINT, pt AS PROCTIME()) WITH ('connector' = 'datagen', 'number-of-rows' = '500',\n\
           'rows-per-second' = '1000000', 'fields.k.kind' = 'sequence', 'fields.k.start' = '1', 'fields.k.end' = '500');\n\
         CREATE TABLE out (k BIGINT, recent BOOLEAN) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         CREATE TABLE win (cnt BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO out SELECT k, pt > TIMESTAMP '2020-01-01 00:00:00' FROM gen WHERE k <= 3;\n\
         INSERT INTO win SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE gen, DESCRIPTOR(pt), INTERVAL '1' HOUR)) GROUP BY window_start, window_end;",
        out.display(),
        win.display()
    );
    let run = eddy_run(dir.path(), &sql, &[]);
    let stderr = run.stderr;
    assert!(run.code == 0, "{stderr}");
    assert_eq!(rows(&out), vec!["1,true", "2,true", "3,true"]);
    // Pending processing-time windows fire at the end of a bounded input: every row is
    // counted once (in one window, or two if the run straddles an hour boundary).
    let total: u64 = rows(&win).iter().map(|r| r.parse::<u64>().unwrap()).sum();
    assert_eq!(total, 500, "{stderr}");
}
