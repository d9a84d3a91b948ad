//! The Flink oracle: the bench queries, their deterministic input (generated once per
//! target dir by `oracle/gen_bids.py`), running one through `eddy run`, and reading
//! outputs the way the bench harness does (visible files only, rows sorted as bytes).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Events in the oracle's input (the expected outputs were made from this many).
pub const ORACLE_EVENTS: u64 = 200_000;

pub fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("oracle")
}

/// A directory of `files` JSON files holding the oracle's bids (made once, cached
/// next to the binary under test).
pub fn bids_input(files: u32) -> anyhow::Result<PathBuf> {
    let cache = crate::eddy_bin()
        .parent()
        .context("binary dir")?
        .join("oracle-input")
        .join(format!("bids_{ORACLE_EVENTS}_{files}"));
    let done = cache.join("_DONE");
    if done.exists() {
        return Ok(cache);
    }
    std::fs::create_dir_all(cache.parent().context("cache parent")?)?;
    // Tests run in parallel: each generates into its own directory; the first rename wins.
    let tmp = cache.with_extension(
        format!(
            "tmp{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], ""),
    );
    let _ = std::fs::remove_dir_all(&tmp);
    let status = Command::new("python3")
        .arg(oracle_dir().join("gen_bids.py"))
        .args([
            "--events",
            &ORACLE_EVENTS.to_string(),
            "--files",
            &files.max(2).to_string(),
        ])
        .arg("--out")
        .arg(&tmp)
        .status()
        .context("running python3 oracle/gen_bids.py")?;
    if !status.success() {
        bail!("gen_bids.py failed: {status}");
    }
    std::fs::write(tmp.join("_DONE"), b"")?;
    if std::fs::rename(&tmp, &cache).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        if !done.exists() {
            bail!("could not place the oracle input at {}", cache.display());
        }
    }
    Ok(cache)
}

/// The query's SQL with its placeholders filled in.
pub fn query_sql(query: &str, input: &Path, output: &Path) -> anyhow::Result<String> {
    let sql = std::fs::read_to_string(oracle_dir().join("queries").join(format!("{query}.sql")))?;
    Ok(sql
        .replace("${INPUT}", &input.display().to_string())
        .replace("${OUTPUT}", &output.display().to_string()))
}

/// Flink's output for `query`, as sorted rows joined by `\n`.
pub fn expected(query: &str) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(
            oracle_dir()
                .join("expected")
                .join(format!("{query}.csv.gz")),
        )
        .output()
        .context("gzip -dc")?;
    if !out.status.success() {
        bail!("gzip failed on {query}");
    }
    let mut rows = out.stdout;
    if rows.last() == Some(&b'\n') {
        rows.pop();
    }
    Ok(rows)
}

/// Every row of the visible files under `dir` (names not starting with `.` or `_`),
/// sorted as bytes and joined by `\n` — the bench harness's rule.
pub fn collect_sorted(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let mut rows: Vec<Vec<u8>> = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                let data = std::fs::read(entry.path())?;
                rows.extend(
                    data.split(|b| *b == b'\n')
                        .filter(|l| !l.is_empty())
                        .map(<[u8]>::to_vec),
                );
            }
        }
    }
    rows.sort();
    Ok(rows.join(&b'\n'))
}

/// The first differing row of two sorted outputs, for a readable failure.
pub fn first_difference(actual: &[u8], expected: &[u8]) -> String {
    let a: Vec<&[u8]> = actual.split(|b| *b == b'\n').collect();
    let e: Vec<&[u8]> = expected.split(|b| *b == b'\n').collect();
    for (i, (x, y)) in a.iter().zip(e.iter()).enumerate() {
        if x != y {
            return format!(
                "row {i}: eddy {:?} vs flink {:?}",
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            );
        }
    }
    format!("eddy has {} rows, flink {}", a.len(), e.len())
}

/// Runs `query` (oracle/queries/QUERY.sql) with `eddy run` at each parallelism on the
/// oracle's bids and asserts the sorted output equals Flink's (oracle/expected).
pub fn check_against_flink(query: &str, parallelisms: &[u32]) {
    check_against_flink_with(query, parallelisms, &[]);
}

/// [`check_against_flink`] with more `eddy run` arguments (e.g. `--set KEY=VALUE`).
pub fn check_against_flink_with(query: &str, parallelisms: &[u32], extra: &[&str]) {
    let input = bids_input(2).expect("oracle input");
    let want = expected(query).expect("expected output (run oracle/make-expected.sh QUERY)");
    for &parallelism in parallelisms {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = dir.path().join("out");
        let sql = query_sql(query, &input, &output).expect("query");
        let parallelism_arg = parallelism.to_string();
        let mut args = vec!["--parallelism", &parallelism_arg];
        args.extend_from_slice(extra);
        let run = crate::eddy_run::eddy_run(dir.path(), &sql, &args);
        let stderr = run.stderr;
        assert!(run.code == 0, "{query} p={parallelism} failed: {stderr}");
        assert!(
            stderr.contains("rows in"),
            "summary line on stderr: {stderr}"
        );
        let got = collect_sorted(&output).expect("output");
        assert!(
            got == want,
            "{query} at parallelism {parallelism} differs from Flink: {}",
            first_difference(&got, &want)
        );
    }
}

/// The query's SQL with its file source throttled to `rows_per_second` (so a cluster
/// run lasts long enough to kill, stop or rescale it midway).
pub fn throttled_query_sql(
    query: &str,
    input: &Path,
    output: &Path,
    rows_per_second: u32,
) -> anyhow::Result<String> {
    let sql = query_sql(query, input, output)?;
    let throttled = sql.replace(
        "'format'    = 'json'",
        &format!("'format' = 'json', 'scan.rows-per-second' = '{rows_per_second}'"),
    );
    if throttled == sql {
        bail!("{query}.sql has no json source to throttle");
    }
    Ok(throttled)
}

/// Runs `query` on `input` with `eddy run -p PARALLELISM` into `dir/local` and checks
/// that the sorted rows under `actual` (a cluster's committed output) are the same.
pub fn assert_same_as_eddy_run(
    dir: &Path,
    query: &str,
    input: &Path,
    actual: &Path,
    parallelism: u32,
) -> anyhow::Result<()> {
    let local = dir.join("local");
    let run = crate::eddy_run::eddy_run(
        dir,
        &query_sql(query, input, &local)?,
        &["-p", &parallelism.to_string()],
    );
    if run.code != 0 {
        bail!("eddy run failed: {}", run.stderr);
    }
    let (rows, expected) = (collect_sorted(actual)?, collect_sorted(&local)?);
    if expected.is_empty() {
        bail!("eddy run wrote no rows");
    }
    if rows != expected {
        bail!("{}", first_difference(&rows, &expected));
    }
    Ok(())
}
