//! Running `eddy run` on a script from a test: what every SQL test does.

use std::path::Path;
use std::process::Command;

/// What one `eddy run` left behind.
#[derive(Debug)]
pub struct SqlRun {
    /// The exit code (-1 if killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Writes `sql` to `dir/job.sql`, runs `eddy run dir/job.sql ARGS…` to its end, and checks
/// it did not panic.
pub fn eddy_run(dir: &Path, sql: &str, args: &[&str]) -> SqlRun {
    let file = dir.join("job.sql");
    std::fs::write(&file, sql).expect("write the script");
    let out = Command::new(crate::eddy_bin())
        .arg("run")
        .arg(&file)
        .args(args)
        .output()
        .expect("run eddy");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    SqlRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr,
    }
}
