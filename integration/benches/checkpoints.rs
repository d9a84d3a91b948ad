//! The cost of checkpoints and the time to recover (issue 7), on a real cluster: a
//! master on Postgres and two workers, the release `eddy` binary (`EDDY_BIN`, set by
//! `make bench-checkpoints`). Prints
//! for each state backend (hashmap, rocksdb):
//! - events/s of a bounded keyed tumbling aggregate (datagen → TUMBLE COUNT/SUM →
//!   blackhole, parallelism 2, [`DEFAULT_KEYS`] keys; a quarter of the rows on rocksdb)
//!   without checkpoints and with 1 s
//!   checkpoints, and the throughput cost in percent (target < 10 %);
//! - the recovery time after kill -9 of a worker: from the kill until every subtask of
//!   the restored attempt runs again.
//!
//! Numbers, not assertions: run it on a quiet machine and compare runs.

use std::time::{Duration, Instant};

use eddy_integration::cluster::{Cluster, subtasks};
use eddy_integration::get_json;
use serde_json::{Value, json};

/// Rows of the bounded job (override with EDDY_BENCH_ROWS).
const DEFAULT_ROWS: u64 = 20_000_000;
/// Distinct keys (override with EDDY_BENCH_KEYS): the window state's entries.
const DEFAULT_KEYS: u64 = 100_000;
/// Runs of each configuration; the best is reported.
const RUNS: usize = 3;
/// Each worker's managed memory (2 slots): Flink's default for a 1.7 GB task manager.
const MANAGED_MEMORY: &str = "512MiB";
/// The state backends measured, by their `state.backend.type` names.
const BACKENDS: [&str; 2] = ["hashmap", "rocksdb"];

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn job_sql(rows: u64) -> String {
    let keys = env_u64("EDDY_BENCH_KEYS", DEFAULT_KEYS);
    format!(
        "
CREATE TABLE src (k INT, v BIGINT, ts AS PROCTIME()) WITH (
  'connector' = 'datagen', 'number-of-rows' = '{rows}', 'rows-per-second' = '1000000000',
  'fields.k.min' = '1', 'fields.k.max' = '{keys}');
CREATE TABLE snk (k INT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k, COUNT(*), SUM(v)
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
"
    )
}

/// Seconds from RUNNING to FINISHED of one bounded run, and the job's id.
async fn bounded_run(
    cluster: &Cluster,
    rows: u64,
    options: Value,
) -> anyhow::Result<(f64, String)> {
    let id = cluster.submit(&job_sql(rows), 2, options).await?;
    cluster.wait_running(&id).await?;
    let started = Instant::now();
    let job = wait_long(cluster, &id, |j| {
        j["status"] == "FINISHED" || j["status"] == "FAILED"
    })
    .await?;
    anyhow::ensure!(
        job["status"] == "FINISHED" && job["attempt"] == 1,
        "the job did not finish in its first attempt: {job:#}"
    );
    Ok((started.elapsed().as_secs_f64(), id))
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

async fn recovery_time(cluster: &mut Cluster, backend: &str) -> anyhow::Result<f64> {
    let sql = job_sql(u64::MAX / 4).replace("'1000000000'", "'200000'");
    let id = cluster
        .submit(
            &sql,
            2,
            json!({"checkpoint_interval_ms": 1000, "state_backend": backend,
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

/// Completed checkpoints of the job and their mean state size, from the statistics.
async fn checkpoint_stats(cluster: &Cluster, id: &str) -> anyhow::Result<String> {
    let stats = get_json(&format!("{}/api/v1/jobs/{id}/checkpoints", cluster.url)).await?;
    let summary = &stats["summary"];
    Ok(format!(
        "{} checkpoints, avg {} ms, state {} B, uploaded {} B",
        stats["counts"]["completed"],
        summary["duration_ms"]["avg"],
        summary["state_size_bytes"]["avg"],
        summary["checkpointed_bytes"]["avg"],
    ))
}

/// The warnings and errors every process of the cluster logged (for a failed run).
fn dump_warnings(cluster: &Cluster) {
    for p in std::iter::once(&cluster.master).chain(&cluster.workers) {
        for line in p.output().lines() {
            if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("{line}");
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(0, 2).await?;
    cluster.managed_memory = MANAGED_MEMORY.to_string();
    for _ in 0..2 {
        cluster.add_worker(2).await?;
    }
    let result = measure(&mut cluster).await;
    if result.is_err() {
        dump_warnings(&cluster);
    }
    result
}

async fn measure(cluster: &mut Cluster) -> anyhow::Result<()> {
    let rows = env_u64("EDDY_BENCH_ROWS", DEFAULT_ROWS);
    for backend in BACKENDS {
        // RocksDB reads and writes every touched key per batch: a quarter of the rows
        // keeps its runs as long as the heap's.
        let rows = if backend == "rocksdb" { rows / 4 } else { rows };
        let mut best = [f64::MAX; 2];
        let mut stats = String::new();
        for _ in 0..RUNS {
            let plain = json!({"state_backend": backend});
            best[0] = best[0].min(bounded_run(cluster, rows, plain).await?.0);
            let checkpointed = json!({"state_backend": backend, "checkpoint_interval_ms": 1000});
            let (secs, id) = bounded_run(cluster, rows, checkpointed).await?;
            best[1] = best[1].min(secs);
            stats = checkpoint_stats(cluster, &id).await?;
        }
        let rate = |secs: f64| rows as f64 / secs;
        println!(
            "{backend}: keyed tumbling aggregate, {rows} rows, parallelism 2, 2 workers (best of {RUNS}):"
        );
        println!("  no checkpoints      {:>12.0} events/s", rate(best[0]));
        println!(
            "  1 s checkpoints     {:>12.0} events/s  ({stats})",
            rate(best[1])
        );
        println!(
            "  throughput cost     {:>11.1} %  (target < 10 %)",
            (1.0 - rate(best[1]) / rate(best[0])) * 100.0
        );
    }
    for backend in BACKENDS {
        cluster.add_worker(2).await?;
        let recovery = recovery_time(cluster, backend).await?;
        println!(
            "{backend}: recovery after kill -9 of a worker: {recovery:.2} s (until every subtask runs again)"
        );
    }
    Ok(())
}
