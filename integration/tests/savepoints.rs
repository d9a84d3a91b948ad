//! Savepoints over real processes, Flink's asynchronous-operation pattern: stop a job
//! with a savepoint (202 + trigger id, poll, idempotent retries), resume a new job from
//! it, take a savepoint with the CLI; the output of the stopped and the resumed job
//! together equals `eddy run`'s. Errors: unknown job or trigger → 404, a job that is
//! not running → 409.

use std::process::Command;

use eddy_integration::cluster::Cluster;
use eddy_integration::eddy_bin;
use eddy_integration::oracle::{
    assert_same_as_eddy_run, bids_input, collect_sorted, throttled_query_sql,
};
use eddy_integration::{WAIT, get_json, wait_for};
use serde_json::{Value, json};

async fn post(url: &str, body: Value) -> anyhow::Result<(u16, Value)> {
    let r = reqwest::Client::new().post(url).json(&body).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

/// Whether a status change's detail satisfies `want`.
fn has_detail(job: &Value, want: impl Fn(&str) -> bool) -> bool {
    job["status_history"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|h| h["detail"].as_str().is_some_and(&want))
}

/// Polls a savepoint operation until it ended; returns its status.
async fn wait_operation(cluster: &Cluster, id: &str, trigger: &str) -> anyhow::Result<Value> {
    wait_for("the savepoint operation to end", WAIT, || async {
        let s = get_json(&format!(
            "{}/api/v1/jobs/{id}/savepoints/{trigger}",
            cluster.url
        ))
        .await?;
        Ok((s["status"] != "IN_PROGRESS").then_some(s))
    })
    .await
}

#[tokio::test]
async fn stop_with_savepoint_then_resume_gives_the_fault_free_output() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2).await?;
    let input = bids_input(2)?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("cluster");
    let sql = throttled_query_sql("tumble_count", &input, &out, 10_000)?;
    // No periodic checkpoints: savepoints work without them.
    let id = cluster.submit(&sql, 2, json!({})).await?;
    cluster.wait_running(&id).await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let stop_url = format!("{}/api/v1/jobs/{id}/stop", cluster.url);
    let (status, body) = post(&stop_url, json!({"trigger_id": "stop-1"})).await?;
    assert_eq!(
        (status, &body["trigger_id"]),
        (202, &json!("stop-1")),
        "{body}"
    );
    let (status, body) = post(&stop_url, json!({"trigger_id": "stop-1"})).await?;
    assert_eq!(
        (status, &body["trigger_id"]),
        (202, &json!("stop-1")),
        "a retry is idempotent: {body}"
    );
    let op = wait_operation(&cluster, &id, "stop-1").await?;
    assert_eq!(op["status"], "COMPLETED", "{op:#}");
    assert_eq!(op["stop"], true);
    let location = op["location"].as_str().unwrap_or_default().to_string();
    assert!(std::path::Path::new(&location).is_dir(), "{op:#}");
    // The status history comes from the store, a moment after the live status.
    cluster
        .wait_job(&id, "job finished by the stop", |j| {
            j["status"] == "FINISHED" && has_detail(j, |d| d.contains(&location))
        })
        .await?;
    let stats = get_json(&format!("{}/api/v1/jobs/{id}/checkpoints", cluster.url)).await?;
    assert_eq!(
        stats["latest"]["savepoint"]["is_savepoint"], true,
        "{stats:#}"
    );

    // Errors: a finished job, an unknown job, an unknown trigger, drain.
    let (status, body) = post(
        &format!("{}/api/v1/jobs/{id}/savepoints", cluster.url),
        json!({}),
    )
    .await?;
    assert_eq!(status, 409, "{body}");
    let (status, _) = post(
        &format!("{}/api/v1/jobs/nope/savepoints", cluster.url),
        json!({}),
    )
    .await?;
    assert_eq!(status, 404);
    let missing = reqwest::get(format!("{}/api/v1/jobs/{id}/savepoints/nope", cluster.url)).await?;
    assert_eq!(missing.status().as_u16(), 404);

    // Resume from the savepoint into the same output directory.
    let resumed = cluster
        .submit(&sql, 2, json!({"savepoint_path": location}))
        .await?;
    cluster
        .wait_job(&resumed, "running, restored from the savepoint", |j| {
            j["status"] == "RUNNING" && has_detail(j, |d| d.starts_with("restored from savepoint"))
        })
        .await?;

    // The CLI takes a savepoint of the running job and waits for it.
    let cli = Command::new(eddy_bin())
        .args(["job", "savepoint", &resumed, "--master", &cluster.url])
        .output()?;
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success() && stdout.starts_with("Savepoint completed: "),
        "{stdout}{}",
        String::from_utf8_lossy(&cli.stderr)
    );

    let job = cluster
        .wait_job(&resumed, "the resumed job finished", |j| {
            j["status"] == "FINISHED" || j["status"] == "FAILED"
        })
        .await?;
    assert_eq!(job["status"], "FINISHED", "{job:#}");
    assert_same_as_eddy_run(dir.path(), "tumble_count", &input, &out, 2)?;

    // A bad savepoint path is refused at submission.
    let (status, body) = cluster
        .submit_raw(&json!({"sql": sql, "savepoint_path": "/no/such/savepoint"}))
        .await?;
    assert_eq!(status, 400, "{body}");
    Ok(())
}

/// A savepoint is canonical: a job on the RocksDB backend (with incremental
/// checkpoints) stopped with a savepoint resumes on the hashmap backend, and the
/// output equals the fault-free `eddy run`.
#[tokio::test]
async fn a_rocksdb_savepoint_resumes_on_the_hashmap_backend() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2).await?;
    let input = bids_input(2)?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("cluster");
    let sql = throttled_query_sql("tumble_count", &input, &out, 10_000)?;
    let id = cluster
        .submit(
            &sql,
            2,
            json!({"state_backend": "rocksdb", "checkpoint_interval_ms": 500}),
        )
        .await?;
    cluster.wait_running(&id).await?;
    let checkpoints = format!("{}/api/v1/jobs/{id}/checkpoints", cluster.url);
    eddy_integration::wait_for(
        "two completed checkpoints",
        eddy_integration::WAIT,
        || async {
            let stats = get_json(&checkpoints).await?;
            Ok((stats["counts"]["completed"].as_u64() >= Some(2)).then_some(()))
        },
    )
    .await?;
    let stop_url = format!("{}/api/v1/jobs/{id}/stop", cluster.url);
    let (status, body) = post(&stop_url, json!({"trigger_id": "to-hashmap"})).await?;
    assert_eq!(status, 202, "{body}");
    let op = wait_operation(&cluster, &id, "to-hashmap").await?;
    assert_eq!(op["status"], "COMPLETED", "{op:#}");
    let location = op["location"].as_str().unwrap_or_default().to_string();
    cluster
        .wait_job(&id, "job finished by the stop", |j| {
            j["status"] == "FINISHED"
        })
        .await?;

    let resumed = cluster
        .submit(
            &sql,
            2,
            json!({"savepoint_path": location, "state_backend": "hashmap"}),
        )
        .await?;
    let job = cluster
        .wait_job(&resumed, "the resumed job finished", |j| {
            j["status"] == "FINISHED" || j["status"] == "FAILED"
        })
        .await?;
    assert_eq!(job["status"], "FINISHED", "{job:#}");
    assert!(
        has_detail(&job, |d| d.starts_with("restored from savepoint")),
        "{job:#}"
    );
    assert_same_as_eddy_run(dir.path(), "tumble_count", &input, &out, 2)
}

/// Rescale 2 → 3 → 1 (REST, then the CLI) while a keyed tumbling aggregate runs: each
/// step stops the job with a savepoint and restarts it at the new parallelism, window
/// state redistributed by key group and file positions by split; the output equals
/// the fault-free `eddy run`.
#[tokio::test]
async fn rescale_two_three_one_gives_the_fault_free_output() -> anyhow::Result<()> {
    let cluster = Cluster::start(3, 2).await?;
    // Three files: at parallelism 3 every source subtask has one (none ends early, which
    // would stop checkpoints and savepoints as in Flink before FLIP-147).
    let input = bids_input(3)?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("cluster");
    let sql = throttled_query_sql("tumble_count", &input, &out, 8_000)?;
    let id = cluster
        .submit(&sql, 2, json!({"checkpoint_interval_ms": 1000}))
        .await?;
    cluster.wait_running(&id).await?;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let (status, body) = post(
        &format!("{}/api/v1/jobs/{id}/rescale", cluster.url),
        json!({"parallelism": 3}),
    )
    .await?;
    assert_eq!(status, 202, "{body}");
    let trigger = body["trigger_id"].as_str().unwrap_or_default().to_string();
    let op = wait_operation(&cluster, &id, &trigger).await?;
    assert_eq!(op["status"], "COMPLETED", "{op:#}");
    let job = cluster
        .wait_job(&id, "running at parallelism 3", |j| {
            j["status"] == "RUNNING"
                && j["parallelism"] == 3
                && j["vertices"][1]["parallelism"] == 3
                && eddy_integration::cluster::subtasks(j)
                    .iter()
                    .all(|s| s["status"] == "RUNNING")
        })
        .await?;
    assert_eq!(job["attempt"], 2, "{job:#}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let cli = Command::new(eddy_bin())
        .args(["job", "rescale", &id, "-p", "1", "--master", &cluster.url])
        .output()?;
    assert!(
        cli.status.success(),
        "{}{}",
        String::from_utf8_lossy(&cli.stdout),
        String::from_utf8_lossy(&cli.stderr)
    );
    let job = cluster
        .wait_job(&id, "finished after rescaling to 1", |j| {
            (j["parallelism"] == 1 && j["status"] == "FINISHED") || j["status"] == "FAILED"
        })
        .await?;
    assert_eq!(job["status"], "FINISHED", "{job:#}");
    let history: Vec<String> = job["status_history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["detail"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        history
            .iter()
            .filter(|d| d.starts_with("rescaling to parallelism"))
            .count(),
        2,
        "{history:#?}"
    );

    assert_same_as_eddy_run(dir.path(), "tumble_count", &input, &out, 2)?;
    Ok(())
}

/// Stop with drain (Flink's `--drain`, here through the CLI): the sources end right
/// after the savepoint's barrier, pending windows fire, and the job FINISHES with the
/// output of the input it read — a part of the whole.
#[tokio::test]
async fn stop_with_drain_ends_the_sources_and_fires_pending_windows() -> anyhow::Result<()> {
    let cluster = Cluster::start(2, 2).await?;
    let input = bids_input(2)?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("cluster");
    let sql = throttled_query_sql("tumble_count", &input, &out, 5_000)?;
    let id = cluster.submit(&sql, 2, json!({})).await?;
    cluster.wait_running(&id).await?;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let cli = Command::new(eddy_bin())
        .args(["job", "stop", &id, "--drain", "--master", &cluster.url])
        .output()?;
    let stdout = String::from_utf8_lossy(&cli.stdout);
    assert!(
        cli.status.success() && stdout.starts_with("Savepoint completed: "),
        "{stdout}{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let job = cluster
        .wait_job(&id, "the drained job finished", |j| {
            (j["status"] == "FINISHED" && has_detail(j, |d| d.ends_with("(drained)")))
                || j["status"] == "FAILED"
        })
        .await?;
    assert_eq!(job["status"], "FINISHED", "{job:#}");
    // cnt is the 4th column: its sum is the rows read before the stop, every window
    // fired (none is left pending), fewer than the whole input.
    let rows = collect_sorted(&out)?;
    let read: u64 = String::from_utf8_lossy(&rows)
        .lines()
        .filter_map(|l| l.split(',').nth(3)?.parse::<u64>().ok())
        .sum();
    assert!(
        read > 0 && read < 200_000,
        "rows read before the stop: {read}"
    );
    Ok(())
}
