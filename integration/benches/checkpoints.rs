//! The cost of checkpoints and the time to recover (issue 7), on a real cluster: a
//! master on Postgres and two workers, the release `eddy` binary (`EDDY_BIN`, set by
//! `make bench-checkpoints`). Prints
//! - events/s of a bounded keyed tumbling aggregate (datagen → TUMBLE COUNT/SUM →
//!   blackhole, parallelism 2) without checkpoints and with 1 s checkpoints, and the
//!   throughput cost in percent (target < 10 %);
//! - the recovery time after kill -9 of a worker: from the kill until every subtask of
//!   the restored attempt runs again.
//!
//! Numbers, not assertions: run it on a quiet machine and compare runs.

use std::time::{Duration, Instant};

use eddy_integration::cluster::{Cluster, subtasks};
use serde_json::{Value, json};

/// Rows of the bounded job (override with EDDY_BENCH_ROWS).
const DEFAULT_ROWS: u64 = 20_000_000;
/// Runs of each configuration; the best is reported.
const RUNS: usize = 2;

fn job_sql(rows: u64) -> String {
    format!(
        "
CREATE TABLE src (k INT, v BIGINT, ts AS PROCTIME()) WITH (
  'connector' = 'datagen', 'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000',
  'fields.k.min' = '1', 'fields.k.max' = '10000');
CREATE TABLE snk (k INT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k, COUNT(*), SUM(v)
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"
    )
}

/// Seconds from RUNNING to FINISHED of one bounded run.
async fn bounded_run(cluster: &Cluster, rows: u64, options: Value) -> anyhow::Result<f64> {
    let id = cluster.submit(&job_sql(rows), 2, options).await?;
    cluster.wait_running(&id).await?;
    let started = Instant::now();
    let job = wait_long(cluster, &id, |j| {
        j["status"] == "FINISHED" || j["status"] == "FAILED"
    })
    .await?;
    anyhow::ensure!(
        job["status"] == "FINISHED",
        "the job did not finish: {job:#}"
    );
    Ok(started.elapsed().as_secs_f64())
}

/// Polls the job until `want` holds (no upper bound beyond 30 minutes: a benchmark).
async fn wait_long(
    cluster: &Cluster,
    id: &str,
    want: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let job = cluster.job(id).await?;
        if want(&job) {
            return Ok(job);
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out: {job:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn recovery_time(cluster: &mut Cluster) -> anyhow::Result<f64> {
    let sql = job_sql(u64::MAX / 4).replace("'1000000000'", "'200000'");
    let id = cluster
        .submit(
            &sql,
            2,
            json!({"checkpoint_interval_ms": 1000,
                   "restart_strategy": {"type": "fixed-delay", "attempts": 3, "delay_ms": 0}}),
        )
        .await?;
    let job = cluster.wait_running(&id).await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let victim = job["vertices"][0]["subtasks"][0]["worker_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let killed = Instant::now();
    cluster.kill_worker(&victim)?;
    wait_long(cluster, &id, |j| {
        j["status"] == "RUNNING"
            && j["attempt"].as_u64() >= Some(2)
            && subtasks(j).iter().all(|s| s["status"] == "RUNNING")
    })
    .await?;
    Ok(killed.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: u64 = std::env::var("EDDY_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROWS);
    let mut cluster = Cluster::start(2, 2).await?;
    let mut best = [f64::MAX; 2];
    for _ in 0..RUNS {
        best[0] = best[0].min(bounded_run(&cluster, rows, json!({})).await?);
        best[1] = best[1]
            .min(bounded_run(&cluster, rows, json!({"checkpoint_interval_ms": 1000})).await?);
    }
    let rate = |secs: f64| rows as f64 / secs;
    println!("keyed tumbling aggregate, {rows} rows, parallelism 2, 2 workers (best of {RUNS}):");
    println!("  no checkpoints      {:>12.0} events/s", rate(best[0]));
    println!("  1 s checkpoints     {:>12.0} events/s", rate(best[1]));
    println!(
        "  throughput cost     {:>11.1} %  (target < 10 %)",
        (1.0 - rate(best[1]) / rate(best[0])) * 100.0
    );
    cluster.add_worker(2).await?;
    let recovery = recovery_time(&mut cluster).await?;
    println!(
        "  recovery after kill -9 of a worker: {recovery:.2} s (until every subtask runs again)"
    );
    Ok(())
}
