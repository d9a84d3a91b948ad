//! `eddy run` on bad scripts: exit code 2 and a message that says what and where
//! (file:line:column), never a panic.

use eddy_integration::eddy_run::eddy_run;

fn run(sql: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let r = eddy_run(dir.path(), sql, &[]);
    (r.code, r.stderr)
}

const SOURCE: &str = "CREATE TABLE src (\n  a BIGINT,\n  b STRING\n) WITH (\n  'connector' = 'datagen',\n  'number-of-rows' = '10'\n);\n";
const SINK: &str = "CREATE TABLE out (a BIGINT) WITH ('connector' = 'blackhole');\n";

#[test]
fn syntax_error_has_line_and_column() {
    let (code, err) = run(&format!("{SOURCE}{SINK}INSERT INTO out\nSELECT a FRM src;"));
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("job.sql:10:"),
        "position of the bad token: {err}"
    );
}

#[test]
fn unknown_column_has_line_and_column() {
    let (code, err) = run(&format!(
        "{SOURCE}{SINK}INSERT INTO out\nSELECT nope FROM src;"
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nope"), "{err}");
    assert!(err.contains("job.sql:10:8"), "points at the column: {err}");
}

#[test]
fn unknown_connector_and_option_are_reported_at_the_table() {
    let (code, err) = run(
        "CREATE TABLE src (a BIGINT) WITH (\n  'connector' = 'kafkaesque'\n);\nCREATE TABLE out (a BIGINT) WITH ('connector' = 'blackhole');\nINSERT INTO out SELECT a FROM src;",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("kafkaesque"), "{err}");
    assert!(
        err.contains("job.sql:2:3"),
        "points at the connector option: {err}"
    );
    let (code, err) = run(&format!(
        "{SOURCE}CREATE TABLE out (a BIGINT) WITH ('connector' = 'blackhole', 'colour' = 'red');\nINSERT INTO out SELECT a FROM src;"
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn a_script_without_insert_is_an_error() {
    let (code, err) = run(SOURCE);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("INSERT INTO"), "{err}");
}
