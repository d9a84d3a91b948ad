//! Connectors end to end under `eddy run`: nexmark and datagen sources, the print sink
//! (Flink's `+I[…]` rows, with the subtask prefix at parallelism > 1), filesystem part
//! files, and `'scan.rows-per-second'` throttling on any source.

use std::time::Instant;

use eddy_integration::eddy_run::eddy_run;

fn run(sql: &str, parallelism: u32) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let r = eddy_run(
        dir.path(),
        sql,
        &["--parallelism", &parallelism.to_string()],
    );
    (r.code, r.stdout, r.stderr)
}

#[test]
fn nexmark_bids_to_print_are_deterministic_at_any_parallelism() {
    let sql = "CREATE TABLE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3))\n\
               WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '500', 'seed' = '7');\n\
               CREATE TABLE out (auction BIGINT, price BIGINT) WITH ('connector' = 'print');\n\
               INSERT INTO out SELECT auction, price FROM bid WHERE price > 0;";
    let (code, one, err) = run(sql, 1);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<&str> = one.lines().collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.starts_with("+I[")),
        "{one}"
    );
    let (code, two, err) = run(sql, 2);
    assert_eq!(code, 0, "{err}");
    // At parallelism 2 each line carries its subtask ("1> ", "2> "); the rows are the same.
    let mut a: Vec<String> = rows.iter().map(|r| r.to_string()).collect();
    let mut b: Vec<String> = two
        .lines()
        .map(|l| {
            l.split_once("> ")
                .map(|(_, r)| r.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert!(
        two.lines()
            .all(|l| l.starts_with("1> ") || l.starts_with("2> ")),
        "{two}"
    );
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn datagen_sequence_to_filesystem_csv() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sql = format!(
        "CREATE TABLE gen (id BIGINT, v DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '1000', 'rows-per-second' = '1000000',\n\
           'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '1000');\n\
         CREATE TABLE out (id BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'csv');\n\
         INSERT INTO out SELECT id FROM gen WHERE id % 10 = 0;",
        out.display()
    );
    let (code, _, err) = run(&sql, 2);
    assert_eq!(code, 0, "{err}");
    let rows = String::from_utf8(eddy_integration::oracle::collect_sorted(&out).unwrap()).unwrap();
    let mut ids: Vec<u64> = rows.lines().map(|l| l.parse().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=100).map(|i| i * 10).collect::<Vec<u64>>());
    // Committed part files only: nothing hidden is left behind.
    for entry in std::fs::read_dir(&out).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(name.starts_with("part-"), "{name}");
    }
}

#[test]
fn scan_rows_per_second_throttles_any_source() {
    let sql = "CREATE TABLE bid (auction BIGINT, price BIGINT)\n\
               WITH ('connector' = 'nexmark', 'table' = 'bid', 'events.num' = '300', 'scan.rows-per-second' = '200');\n\
               CREATE TABLE out (auction BIGINT) WITH ('connector' = 'blackhole');\n\
               INSERT INTO out SELECT auction FROM bid;";
    let started = Instant::now();
    let (code, _, err) = run(sql, 1);
    assert_eq!(code, 0, "{err}");
    // 300 rows at 200 rows/s cannot take less than about a second (an initial burst of
    // at most one second's tokens is allowed); a throttle can only make things slower.
    assert!(started.elapsed().as_millis() >= 400, "{err}");
    assert!(err.contains("300 rows in"), "{err}");
}
