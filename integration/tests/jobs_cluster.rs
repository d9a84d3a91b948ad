//! Distributed execution over real processes: a master on Postgres and separate
//! workers. Slot sharing and resource groups, spreading over workers, waiting for
//! slots, restarts after a killed worker, and a bounded job whose output equals
//! `eddy run`'s.

use std::collections::{BTreeSet, HashSet};

use eddy_integration::cluster::{Cluster, status_history, subtasks};
use eddy_integration::oracle::{assert_same_as_eddy_run, bids_input, query_sql};
use serde_json::{Value, json};

/// An unbounded job: datagen, a filter, blackhole; everything chains into one vertex.
const PASSTHROUGH: &str = "
CREATE TABLE src (id BIGINT, v INT) WITH ('connector' = 'datagen', 'rows-per-second' = '500');
CREATE TABLE snk (id BIGINT, v INT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id, v FROM src WHERE v <> 0;
";

/// An unbounded keyed job: the source in resource group 'io' (parallelism 2), a hash
/// exchange to a processing-time tumbling count in 'default'.
const IO_GROUP: &str = "
CREATE TABLE src (k INT, ts AS PROCTIME()) WITH (
  'connector' = 'datagen', 'rows-per-second' = '1000', 'fields.k.min' = '1', 'fields.k.max' = '50',
  'slot-sharing-group' = 'io', 'scan.parallelism' = '2');
CREATE TABLE snk (k INT, c BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k, COUNT(*) FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' SECOND))
GROUP BY k, window_start, window_end;
";

/// The same keyed job with everything in 'default': 3 slots at parallelism 3.
fn keyed() -> String {
    IO_GROUP.replace(
        ",\n  'slot-sharing-group' = 'io', 'scan.parallelism' = '2');",
        ");",
    )
}

fn workers_of(job: &Value) -> BTreeSet<String> {
    subtasks(job)
        .iter()
        .filter_map(|s| s["worker_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn slot_sharing_resource_groups_spreading_and_waiting_for_slots() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, 2).await?;

    // Parallelism 3, one group: 3 slots, one on each worker.
    let id = cluster
        .submit(PASSTHROUGH, 3, json!({"name": "passthrough"}))
        .await?;
    let job = cluster.wait_running(&id).await?;
    assert_eq!(job["name"], "passthrough");
    assert_eq!(job["vertices"].as_array().map(Vec::len), Some(1), "{job:#}");
    assert_eq!(
        workers_of(&job).len(),
        3,
        "spread over the workers: {job:#}"
    );
    let slots = cluster.wait_allocated(3).await?;
    assert_eq!(
        slots.iter().map(|(w, _)| w).collect::<HashSet<_>>().len(),
        3
    );
    // Managed memory: 64 MiB per worker split over 2 slots, used and budget reported.
    for (_, slot) in &slots {
        assert_eq!(slot["managed_memory_bytes"], 32 << 20);
        assert!(slot["managed_memory_used_bytes"].as_u64().is_some());
        assert_eq!(slot["job_id"], id.as_str());
    }

    // Cancel: CANCELED, slots free again.
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/jobs/{id}/cancel", cluster.url))
        .send()
        .await?;
    assert_eq!(answer.status().as_u16(), 202);
    cluster
        .wait_job(&id, "job canceled", |j| j["status"] == "CANCELED")
        .await?;
    cluster.wait_allocated(0).await?;

    // Source in 'io' (parallelism 2), the rest in 'default' (parallelism 3): 5 slots,
    // and no slot holds subtasks of both groups.
    let io = cluster.submit(IO_GROUP, 3, json!({})).await?;
    let job = cluster.wait_running(&io).await?;
    let groups: Vec<(String, u64)> = job["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["slot_sharing_group"].as_str().unwrap_or("").to_string(),
                v["parallelism"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [("io".to_string(), 2), ("default".to_string(), 3)],
        "{job:#}"
    );
    let slots = cluster.wait_allocated(5).await?;
    for (_, slot) in &slots {
        let names: Vec<&str> = slot["subtasks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let sources = names.iter().filter(|n| n.starts_with("Source: ")).count();
        assert!(
            sources == 0 || sources == names.len(),
            "groups share a slot: {names:?}"
        );
    }
    assert_eq!(workers_of(&job).len(), 3);
    // The window state is charged to its slot's managed memory, within the budget.
    eddy_integration::wait_for(
        "window state in managed memory",
        eddy_integration::WAIT,
        || async {
            let slots = cluster.allocated_slots().await?;
            Ok(slots
                .iter()
                .any(|(_, s)| {
                    let used = s["managed_memory_used_bytes"].as_u64().unwrap_or(0);
                    used > 0 && used <= s["managed_memory_bytes"].as_u64().unwrap_or(0)
                })
                .then_some(()))
        },
    )
    .await?;

    // One slot left: a parallelism-3 job waits in SCHEDULED, saying why, and starts
    // once a worker joins.
    let waiting = cluster.submit(PASSTHROUGH, 3, json!({})).await?;
    let job = cluster
        .wait_job(&waiting, "job waiting for slots", |j| {
            j["status"] == "SCHEDULED"
        })
        .await?;
    let reason = job["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason.contains("needs 3 slots") && reason.contains("1 are free"),
        "{reason}"
    );
    cluster.add_worker(2).await?;
    let job = cluster.wait_running(&waiting).await?;
    assert_eq!(status_history(&job), ["CREATED", "SCHEDULED", "RUNNING"]);
    Ok(())
}

#[tokio::test]
async fn a_killed_worker_restarts_the_job_on_the_others() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, 2).await?;
    let id = cluster
        .submit(
            &keyed(),
            3,
            json!({"restart_strategy": {"type": "fixed-delay", "attempts": 5, "delay_ms": 200}}),
        )
        .await?;
    let job = cluster.wait_running(&id).await?;
    assert_eq!(job["attempt"], 1);
    assert_eq!(workers_of(&job).len(), 3, "{job:#}");
    assert_eq!(job["edges"][0]["partitioning"], "HASH", "{job:#}");
    assert!(
        job["restart_strategy"]
            .as_str()
            .unwrap_or("")
            .starts_with("fixed-delay (attempts 5")
    );
    // Kill -9 the worker running the first window subtask.
    let victim = job["vertices"][1]["subtasks"][0]["worker_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let workers = cluster.workers_json().await?;
    assert!(
        workers["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|w| w["id"] == victim.as_str())
    );
    let process = cluster
        .workers
        .iter_mut()
        .find(|w| w.output().contains(victim.as_str()));
    process.expect("the victim's process").kill9()?;

    let job = cluster
        .wait_job(&id, "job running again without the killed worker", |j| {
            j["status"] == "RUNNING"
                && j["attempt"].as_u64() >= Some(2)
                && subtasks(j)
                    .iter()
                    .all(|s| s["status"] == "RUNNING" && s["worker_id"] != victim.as_str())
        })
        .await?;
    assert_eq!(workers_of(&job).len(), 2, "{job:#}");
    let exceptions = job["exceptions"].as_array().cloned().unwrap_or_default();
    assert!(!exceptions.is_empty(), "{job:#}");
    assert!(
        exceptions
            .iter()
            .all(|e| e["worker_id"].is_string() && e["attempt"].is_u64()),
        "{exceptions:#?}"
    );
    let history = status_history(&job);
    for status in ["RUNNING", "FAILING", "RESTARTING"] {
        assert!(history.iter().any(|h| h == status), "{history:?}");
    }
    assert!(job["restarts"].as_u64() >= Some(1));
    Ok(())
}

#[tokio::test]
async fn a_bounded_job_finishes_with_the_output_of_eddy_run() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    let input = bids_input(2)?;
    let dir = tempfile::tempdir()?;
    let cluster_out = dir.path().join("cluster");
    let id = cluster
        .submit(
            &query_sql("tumble_count", &input, &cluster_out)?,
            2,
            json!({}),
        )
        .await?;
    let job = cluster
        .wait_job(&id, "job finished", |j| j["status"] == "FINISHED")
        .await?;
    assert!(
        subtasks(&job).iter().all(|s| s["status"] == "FINISHED"),
        "{job:#}"
    );
    assert!(job["end_time"].is_u64());
    let sink = &job["vertices"]
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .unwrap_or_default();
    assert!(
        sink["metrics"]["sink_records"].as_u64() > Some(0),
        "{job:#}"
    );
    assert_eq!(
        workers_of(&job).len(),
        2,
        "parallelism 2 over two workers: {job:#}"
    );

    assert_same_as_eddy_run(dir.path(), "tumble_count", &input, &cluster_out, 2)?;
    // All slots are free again.
    cluster.wait_allocated(0).await?;
    Ok(())
}

/// Subtasks without exchanges between them (one chained vertex): only the heartbeat
/// timeout reveals the killed worker; the attempt fails with "worker … lost" and the
/// default restart strategy (exponential-delay) runs the job on the others.
#[tokio::test]
async fn a_worker_lost_by_heartbeat_timeout_fails_the_attempt() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, 1).await?;
    let id = cluster.submit(PASSTHROUGH, 2, json!({})).await?;
    let job = cluster.wait_running(&id).await?;
    assert!(
        job["restart_strategy"]
            .as_str()
            .unwrap_or("")
            .starts_with("exponential-delay")
    );
    let victim = subtasks(&job)[0]["worker_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    cluster
        .workers
        .iter_mut()
        .find(|w| w.output().contains(victim.as_str()))
        .expect("the victim's process")
        .kill9()?;
    let job = cluster
        .wait_job(&id, "job running on the other workers", |j| {
            j["status"] == "RUNNING"
                && j["attempt"].as_u64() >= Some(2)
                && subtasks(j)
                    .iter()
                    .all(|s| s["status"] == "RUNNING" && s["worker_id"] != victim.as_str())
        })
        .await?;
    let exception = &job["exceptions"][0];
    assert_eq!(exception["worker_id"], victim.as_str(), "{job:#}");
    assert!(
        exception["message"]
            .as_str()
            .is_some_and(|m| m.contains("lost")),
        "{exception}"
    );
    Ok(())
}

/// A worker frees an attempt's slots before it reports the attempt's last subtask end:
/// the master counts them free once the job ended, so jobs submitted back to back on
/// the same slots (2 workers of 1 slot, a hash exchange between them) each run in their
/// first attempt instead of being refused a slot the previous job still held.
#[tokio::test]
async fn jobs_back_to_back_get_the_slots_the_previous_one_freed() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 1).await?;
    let sql = keyed().replace(
        "'rows-per-second' = '1000'",
        "'rows-per-second' = '1000000', 'number-of-rows' = '20000'",
    );
    for run in 0..6 {
        let id = cluster.submit(&sql, 2, json!({})).await?;
        let job = cluster
            .wait_job(&id, "job ended", |j| {
                j["status"] == "FINISHED"
                    || j["status"] == "FAILED"
                    || j["restarts"].as_u64() > Some(0)
            })
            .await?;
        assert!(
            job["status"] == "FINISHED" && job["attempt"] == 1 && job["exceptions"] == json!([]),
            "run {run}: {job:#}"
        );
        assert_eq!(workers_of(&job).len(), 2, "{job:#}");
    }
    Ok(())
}
