//! Helpers for Eddy's integration tests: spawn real `eddy` processes on free ports,
//! poll their REST API, create throw-away Postgres databases, drive headless Chromium.
//!
//! The tests find the binary next to their own executable (`target/debug/eddy`, built
//! by `cargo build --workspace` before `cargo test`), or at `$EDDY_BIN`.

pub mod browser;
pub mod cluster;
pub mod process;
pub mod s3;

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::Connection;

pub mod eddy_run;
pub mod oracle;
pub use process::EddyProcess;

/// Default wait for a condition in tests (generous: CI machines are slow).
pub const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

/// Path of the `eddy` binary under test.
pub fn eddy_bin() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("EDDY_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug/eddy
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("eddy");
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --workspace` first (make test does)",
        bin.display()
    );
    bin
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// Polls `f` until it returns `Ok(Some(v))`, or fails after `timeout` with the last error.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let start = Instant::now();
    let mut last = String::from("condition not met");
    loop {
        match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if start.elapsed() > timeout {
            bail!("timed out after {timeout:?} waiting for {what}: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `GET {url}/healthz` answers 2xx; on timeout the error carries `output`
/// (the process's log).
pub async fn wait_healthy(url: &str, output: impl FnOnce() -> String) -> anyhow::Result<()> {
    let health = format!("{url}/healthz");
    wait_for("master up", WAIT, || {
        let health = health.clone();
        async move {
            Ok(reqwest::get(&health)
                .await
                .ok()
                .filter(|r| r.status().is_success())
                .map(|_| ()))
        }
    })
    .await
    .with_context(output)
}

/// GET a JSON document, failing on a non-2xx status.
pub async fn get_json(url: &str) -> anyhow::Result<serde_json::Value> {
    let resp = reqwest::get(url)
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let body = resp.text().await?;
    if !status.is_success() {
        bail!("GET {url}: {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("GET {url}: not JSON: {body}"))
}

/// Admin URL of the test Postgres (`make test` starts it and creates the role).
pub fn postgres_admin_url() -> String {
    std::env::var("EDDY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://eddy:eddy@127.0.0.1:5432/postgres".into())
}

/// Creates a fresh, uniquely named database and returns its URL.
pub async fn create_postgres_database() -> anyhow::Result<String> {
    let admin = postgres_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.with_context(|| {
        format!("connect to the test Postgres at {admin} (make test starts it)")
    })?;
    let name = format!("eddy_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await?;
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    Ok(format!("{base}/{name}"))
}

/// `eddy SUBCOMMAND --http HTTP --data-dir DIR EXTRA…` as arguments.
pub fn server_args(
    subcommand: &str,
    http: &str,
    data_dir: &std::path::Path,
    extra: &[&str],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        subcommand.into(),
        "--http".into(),
        http.into(),
        "--data-dir".into(),
    ];
    args.push(data_dir.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// A running `eddy standalone` on free ports with its own data dir.
pub struct Standalone {
    pub process: EddyProcess,
    pub url: String,
    pub data_dir: tempfile::TempDir,
}

impl Standalone {
    /// Starts `eddy standalone --http 127.0.0.1:PORT --data-dir TMP EXTRA…` and waits
    /// until its worker has registered.
    pub async fn start(extra: &[&str]) -> anyhow::Result<Standalone> {
        let data_dir = tempfile::tempdir()?;
        Self::start_in(data_dir, extra).await
    }

    /// Like [`Standalone::start`] with a given data dir (e.g. to restart on it).
    pub async fn start_in(
        data_dir: tempfile::TempDir,
        extra: &[&str],
    ) -> anyhow::Result<Standalone> {
        let http = format!("127.0.0.1:{}", free_port());
        let args = server_args("standalone", &http, data_dir.path(), extra);
        let process = EddyProcess::spawn("standalone", &args, &[])?;
        let url = format!("http://{http}");
        let overview = format!("{url}/api/v1/overview");
        let started = wait_for("standalone worker registered", WAIT, || {
            let overview = overview.clone();
            async move {
                Ok(get_json(&overview)
                    .await?
                    .get("workers")
                    .and_then(|w| w.as_u64())
                    .filter(|w| *w >= 1))
            }
        })
        .await;
        if let Err(e) = started {
            bail!("{e:#}\n---- output ----\n{}", process.output());
        }
        Ok(Standalone {
            process,
            url,
            data_dir,
        })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        get_json(&format!("{}{path}", self.url)).await
    }
}
