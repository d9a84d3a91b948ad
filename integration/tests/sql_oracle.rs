//! Issue 5's oracle: every bench query, run by `eddy run` at parallelism 1 and 2 on
//! 200 000 generated bids, must produce exactly Apache Flink's output (sorted rows,
//! byte for byte; Flink's output is committed under oracle/expected).

use eddy_integration::oracle::check_against_flink;

fn check(query: &str) {
    check_against_flink(query, &[1, 2]);
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
