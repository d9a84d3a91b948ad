//! Exactly-once recovery over real processes: a job with checkpoints restarts from its
//! latest completed checkpoint after a worker is killed (source positions and operator
//! state restored), and the filesystem sink's two-phase commit makes the committed
//! output exactly the fault-free output of `eddy run` — no loss, no duplicates.

use eddy_integration::cluster::{Cluster, status_history, subtasks};
use eddy_integration::oracle::{assert_same_as_eddy_run, bids_input, throttled_query_sql};
use eddy_integration::s3::MotoServer;
use eddy_integration::{WAIT, get_json, wait_for};
use serde_json::{Value, json};

async fn completed_checkpoints(cluster: &Cluster, id: &str) -> anyhow::Result<u64> {
    let stats = get_json(&format!("{}/api/v1/jobs/{id}/checkpoints", cluster.url)).await?;
    Ok(stats["counts"]["completed"].as_u64().unwrap_or(0))
}

/// Kills the worker process running subtask `index` of vertex `vertex`; returns its id.
fn kill_worker_of(cluster: &mut Cluster, job: &Value, vertex: usize, index: usize) -> String {
    let victim = job["vertices"][vertex]["subtasks"][index]["worker_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    cluster.kill_worker(&victim).expect("kill -9 the victim");
    victim
}

/// Runs `query` (throttled to `rate` rows/s per file) on master + 3 workers at
/// parallelism 2 with checkpoints every `interval_ms`, kills the worker of the first
/// source subtask `kills` times (each after a further completed checkpoint), waits for
/// the job to finish and compares its committed output with `eddy run`'s.
async fn kill_workers_and_compare(
    mut cluster: Cluster,
    query: &str,
    rate: u32,
    interval_ms: u64,
    kills: usize,
    state_backend: &str,
) -> anyhow::Result<()> {
    let input = bids_input(2)?;
    let dir = tempfile::tempdir()?;
    let cluster_out = dir.path().join("cluster");
    let id = cluster
        .submit(
            &throttled_query_sql(query, &input, &cluster_out, rate)?,
            2,
            json!({
                "checkpoint_interval_ms": interval_ms,
                "state_backend": state_backend,
                "restart_strategy": {"type": "fixed-delay", "attempts": 10, "delay_ms": 200},
            }),
        )
        .await?;
    let mut victims = Vec::new();
    // Each kill waits for an attempt newer than the one the previous kill hit.
    let mut killed_attempt = 0;
    for _ in 0..kills {
        let job = cluster
            .wait_job(&id, "every subtask running", |j| {
                j["status"] == "RUNNING"
                    && j["attempt"].as_u64() > Some(killed_attempt)
                    && subtasks(j).iter().all(|s| s["status"] == "RUNNING")
            })
            .await?;
        killed_attempt = job["attempt"].as_u64().unwrap_or(0);
        let before = completed_checkpoints(&cluster, &id).await?;
        wait_for("a further completed checkpoint", WAIT, || async {
            Ok((completed_checkpoints(&cluster, &id).await? > before).then_some(()))
        })
        .await?;
        victims.push(kill_worker_of(&mut cluster, &job, 0, 0));
    }

    let job = cluster
        .wait_job(&id, "job finished after the restarts", |j| {
            j["status"] == "FINISHED" || j["status"] == "FAILED"
        })
        .await?;
    assert_eq!(job["status"], "FINISHED", "{job:#}");
    // One restart per kill at least: on a loaded machine a worker may also miss its
    // heartbeats once (declared lost), which is one more restart from a checkpoint.
    let restarts = job["attempt"].as_u64().unwrap_or(0).saturating_sub(1) as usize;
    assert!(restarts >= kills, "{job:#}");
    let history = status_history(&job);
    assert!(history.iter().any(|h| h == "RESTARTING"), "{history:?}");
    let restores = job["status_history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| {
            h["detail"]
                .as_str()
                .is_some_and(|d| d.starts_with("restored from checkpoint"))
        })
        .count();
    assert_eq!(
        restores, restarts,
        "every restart restored a checkpoint: {job:#}"
    );
    let stats = get_json(&format!("{}/api/v1/jobs/{id}/checkpoints", cluster.url)).await?;
    assert_eq!(
        stats["counts"]["restored"].as_u64(),
        Some(restarts as u64),
        "{stats:#}"
    );
    if state_backend == "rocksdb" {
        // Incremental: some completed checkpoint uploaded less than its full state.
        let incremental = stats["history"].as_array().into_iter().flatten().any(|c| {
            c["status"] == "COMPLETED"
                && c["checkpointed_bytes"].as_u64() < c["state_size_bytes"].as_u64()
        });
        assert!(incremental, "{stats:#}");
    }
    // Each killed attempt failed with an exception: the lost worker's, or the exchange
    // failure a surviving subtask saw first.
    for attempt in 1..=restarts as u64 {
        assert!(
            job["exceptions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["attempt"].as_u64() == Some(attempt)),
            "killed {victims:?}: {job:#}"
        );
    }

    assert_same_as_eddy_run(dir.path(), query, &input, &cluster_out, 2)
}

/// A stateless job: the sources' file offsets and the sink's two-phase commit.
#[tokio::test]
async fn a_killed_worker_restores_the_latest_checkpoint_and_commits_exactly_once()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "q1", 10_000, 500, 1, "hashmap").await
}

/// A keyed tumbling aggregate with the in-memory backend, two workers killed in turn:
/// window state restored from the checkpoints, output exactly once.
#[tokio::test]
async fn keyed_window_state_survives_killed_workers_with_the_hashmap_backend() -> anyhow::Result<()>
{
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "tumble_count", 10_000, 1_000, 2, "hashmap").await
}

/// The same with the RocksDB backend: window state lives in one RocksDB instance per
/// subtask, checkpoints upload only the SST files the previous completed one did not
/// hold, and each restart downloads them back.
#[tokio::test]
async fn keyed_window_state_survives_killed_workers_with_the_rocksdb_backend() -> anyhow::Result<()>
{
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "tumble_count", 10_000, 1_000, 2, "rocksdb").await
}

/// SESSION windows on the RocksDB backend (one RocksDB entry per pending session,
/// a key's sessions loaded by prefix and merged) restore from incremental
/// checkpoints too.
#[tokio::test]
async fn session_window_state_survives_killed_workers_with_the_rocksdb_backend()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "session", 10_000, 1_000, 1, "rocksdb").await
}

/// An interval join (both sides' buffered rows in the canonical keyed snapshot, their
/// timers registered again on restore) survives a killed worker.
#[tokio::test]
async fn interval_join_state_survives_a_killed_worker() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "interval_join", 10_000, 1_000, 1, "hashmap").await
}

/// A bounded RANGE OVER aggregate (checkpointed in the canonical keyed snapshot:
/// accumulators with a retractable MAX's multisets, frame rows, rows waiting for the
/// watermark) survives a killed worker.
#[tokio::test]
async fn over_aggregate_state_survives_a_killed_worker() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "over_range", 10_000, 1_000, 1, "hashmap").await
}

/// A left outer interval join on the RocksDB backend (one RocksDB entry per buffered
/// row with its matched flag, incremental checkpoints, timers rebuilt from the keys on
/// restore) survives a killed worker: no unmatched row padded twice or lost.
#[tokio::test]
async fn outer_interval_join_state_survives_a_killed_worker_with_the_rocksdb_backend()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "interval_join_left", 10_000, 1_000, 1, "rocksdb").await
}

/// The bounded RANGE OVER aggregate on the RocksDB backend (accumulators, frame rows and
/// waiting rows in RocksDB) survives a killed worker.
#[tokio::test]
async fn over_aggregate_state_survives_a_killed_worker_with_the_rocksdb_backend()
-> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    kill_workers_and_compare(cluster, "over_range", 10_000, 1_000, 1, "rocksdb").await
}

/// Checkpoint storage in an object store (a real S3-compatible server, moto): the
/// snapshots and metadata go to the bucket, none to the local data directory, and a
/// killed worker's job restores from there.
#[tokio::test]
async fn checkpoints_in_an_s3_bucket_restore_a_killed_workers_job() -> anyhow::Result<()> {
    let s3 = MotoServer::start("eddy").await?;
    let mut env = s3.env();
    env.push(("EDDY_CHECKPOINT_DIR", "s3://eddy/checkpoints".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cluster = Cluster::start_with_env(3, 2, &env).await?;
    let local = cluster.data_dir.path().join("checkpoints");
    kill_workers_and_compare(cluster, "tumble_count", 10_000, 1_000, 1, "hashmap").await?;
    let keys = s3.keys("checkpoints/").await?;
    assert!(
        keys.iter().any(|k| k.ends_with("/_metadata")),
        "metadata in the bucket: {keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.contains("/chk-") && k.ends_with("-0")),
        "snapshots in the bucket: {keys:?}"
    );
    assert!(!local.exists(), "nothing in the local data directory");
    Ok(())
}
