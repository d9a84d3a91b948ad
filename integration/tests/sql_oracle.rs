//! Issue 5's oracle: every bench query, run by `eddy run` at parallelism 1 and 2 on
//! 200 000 generated bids, must produce exactly Apache Flink's output (sorted rows,
//! byte for byte; Flink's output is committed under oracle/expected).

use std::process::Command;

use eddy_integration::eddy_bin;
use eddy_integration::oracle::{bids_input, collect_sorted, expected, first_difference, query_sql};

fn check(query: &str) {
    let input = bids_input(2).expect("oracle input");
    let want = expected(query).expect("expected output");
    for parallelism in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out");
        let sql_file = dir.path().join(format!("{query}.sql"));
        std::fs::write(&sql_file, query_sql(query, &input, &output).unwrap()).unwrap();
        let run = Command::new(eddy_bin())
            .arg("run")
            .arg(&sql_file)
            .args(["--parallelism", &parallelism.to_string()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            run.status.success(),
            "{query} p={parallelism} failed: {stderr}"
        );
        assert!(
            stderr.contains("rows in"),
            "summary line on stderr: {stderr}"
        );
        let got = collect_sorted(&output).unwrap();
        assert!(
            got == want,
            "{query} at parallelism {parallelism} differs from Flink: {}",
            first_difference(&got, &want)
        );
    }
}

#[test]
fn q0_passthrough() {
    check("q0");
}

#[test]
fn q1_decimal_projection() {
    check("q1");
}

#[test]
fn q2_filter() {
    check("q2");
}

#[test]
fn tumble_count() {
    check("tumble_count");
}

#[test]
fn hop_count() {
    check("hop_count");
}

#[test]
fn q7_max_global_window() {
    check("q7_max");
}

#[test]
fn session_windows() {
    check("session");
}
