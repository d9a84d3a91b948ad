//! What happens to bad and late input under `eddy run`: malformed records fail the job
//! with file and line by default, or are skipped and counted with
//! 'json.ignore-parse-errors'; rows behind the watermark are dropped and counted.

use eddy_integration::eddy_run::eddy_run;

fn run(dir: &std::path::Path, sql: &str) -> (i32, String) {
    let r = eddy_run(dir, sql, &[]);
    (r.code, r.stderr)
}

fn script(input: &std::path::Path, output: &std::path::Path, extra: &str) -> String {
    format!(
        "CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),\n  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND\n) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json'{extra});\n\
         CREATE TABLE out (window_start TIMESTAMP(3), window_end TIMESTAMP(3), auction BIGINT, cnt BIGINT)\n  WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO out SELECT window_start, window_end, auction, COUNT(*)\n  FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(date_time), INTERVAL '10' SECOND))\n  GROUP BY window_start, window_end, auction;",
        input.display(),
        output.display()
    )
}

const LINES: &str = concat!(
    "{\"auction\": 1, \"price\": 10, \"date_time\": \"2026-01-01 00:00:01.000\"}\n",
    "{\"auction\": 1, \"price\": 11, \"date_time\": \"2026-01-01 00:00:25.000\"}\n",
    "{\"auction\": 1, \"price\": oops}\n",
    "{\"auction\": 1, \"price\": 12, \"date_time\": \"2026-01-01 00:00:02.000\"}\n",
    "{\"auction\": 1, \"price\": 13, \"date_time\": \"2026-01-01 00:00:26.000\"}\n",
);

#[test]
fn malformed_records_fail_the_job_with_file_and_line_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.json");
    std::fs::write(&input, LINES).unwrap();
    let (code, err) = run(dir.path(), &script(&input, &dir.path().join("out"), ""));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{}:3", input.display())),
        "file and line of the bad record: {err}"
    );
}

#[test]
fn ignored_malformed_records_and_late_rows_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bids.json");
    // 8 200 rows 10 ms apart (more than one source batch), a malformed line, then a row
    // at 00:00:02 whose window [0 s, 10 s) fired when the first batch's watermark passed.
    let mut lines = String::new();
    for i in 0..8200u64 {
        let ms = i * 10;
        lines.push_str(&format!(
            "{{\"auction\": 1, \"price\": {i}, \"date_time\": \"2026-01-01 00:{:02}:{:02}.{:03}\"}}\n",
            ms / 60_000,
            (ms / 1000) % 60,
            ms % 1000
        ));
    }
    lines.push_str("{\"auction\": 1, \"price\": oops}\n");
    lines.push_str("{\"auction\": 1, \"price\": 1, \"date_time\": \"2026-01-01 00:00:02.000\"}\n");
    std::fs::write(&input, lines).unwrap();
    let output = dir.path().join("out");
    let (code, err) = run(
        dir.path(),
        &script(&input, &output, ", 'json.ignore-parse-errors' = 'true'"),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("8201 rows in"), "{err}");
    assert!(err.contains("1 malformed rows skipped"), "{err}");
    assert!(err.contains("1 late rows dropped"), "{err}");
    let rows =
        String::from_utf8(eddy_integration::oracle::collect_sorted(&output).unwrap()).unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows.len(), 9, "{rows:?}");
    assert_eq!(
        rows[0], "\"2026-01-01 00:00:00\",\"2026-01-01 00:00:10\",1,1000",
        "the late row is not counted"
    );
    assert_eq!(
        rows[8],
        "\"2026-01-01 00:01:20\",\"2026-01-01 00:01:30\",1,200"
    );
}

#[test]
fn state_beyond_the_managed_memory_fails_the_job_with_a_clear_error() {
    let input = eddy_integration::oracle::bids_input(2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sql =
        eddy_integration::oracle::query_sql("hop_count", &input, &dir.path().join("out")).unwrap();
    let run = eddy_run(dir.path(), &sql, &["--managed-memory", "256KiB"]);
    let stderr = run.stderr;
    assert_eq!(Some(run.code), Some(1), "{stderr}");
    assert!(stderr.contains("managed memory exhausted"), "{stderr}");
    assert!(
        stderr.contains("262144 bytes"),
        "the slot's budget is the whole 256 KiB: {stderr}"
    );
}
