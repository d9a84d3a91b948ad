//! Issue 5's stream joins against Apache Flink: interval joins (>= / <= and BETWEEN
//! forms, a residual condition, LEFT OUTER) and window joins (TUMBLE inner, HOP FULL
//! OUTER) of Apple and Google bids, run by `eddy run` at parallelism 1 and 2, must
//! produce exactly Flink's output (sorted rows, byte for byte).

use eddy_integration::oracle::check_against_flink;

fn check(query: &str) {
    check_against_flink(query, &[1, 2]);
}

#[test]
fn interval_join_inner() {
    check("interval_join");
}

#[test]
fn interval_join_between_with_residual() {
    check("interval_join_between");
}

#[test]
fn interval_join_left_outer() {
    check("interval_join_left");
}

#[test]
fn window_join_tumble_inner() {
    check("window_join");
}

#[test]
fn window_join_hop_full_outer() {
    check("window_join_full");
}
