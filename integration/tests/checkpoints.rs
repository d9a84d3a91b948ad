//! Checkpoints over real processes (recovery is in `recovery.rs`): periodic checkpoints with ids from the Raft
//! state, barriers aligned at multi-input subtasks, source positions stored, statistics
//! in the database served by the REST API, OVER state checkpointed, the state browser
//! on both backends.

use eddy_integration::cluster::Cluster;
use eddy_integration::{WAIT, get_json, wait_for};
use serde_json::{Value, json};

/// Two source subtasks rebalanced onto three sink subtasks: each sink subtask aligns
/// barriers from two channels.
const REBALANCED: &str = "
SET 'execution.checkpointing.num-retained' = '20';
CREATE TABLE src (id BIGINT, v INT) WITH (
  'connector' = 'datagen', 'rows-per-second' = '2000', 'scan.parallelism' = '2');
CREATE TABLE snk (id BIGINT, v INT) WITH ('connector' = 'blackhole', 'sink.parallelism' = '3');
INSERT INTO snk SELECT id, v FROM src WHERE v <> 0;
";

async fn checkpoints(cluster: &Cluster, id: &str) -> anyhow::Result<Value> {
    get_json(&format!("{}/api/v1/jobs/{id}/checkpoints", cluster.url)).await
}

/// Waits until the job has `n` completed checkpoints; returns its statistics.
async fn wait_completed(cluster: &Cluster, id: &str, n: u64) -> anyhow::Result<Value> {
    wait_for(&format!("{n} completed checkpoints"), WAIT, || async {
        let stats = checkpoints(cluster, id).await?;
        Ok((stats["counts"]["completed"].as_u64() >= Some(n)).then_some(stats))
    })
    .await
}

#[tokio::test]
async fn periodic_checkpoints_complete_with_ids_from_raft_and_statistics() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(3, 2).await?;
    let id = cluster
        .submit(REBALANCED, 2, json!({"checkpoint_interval_ms": 300}))
        .await?;
    let job = cluster.wait_running(&id).await?;
    assert_eq!(job["checkpoint_interval_ms"], 300);
    assert_eq!(job["edges"][0]["partitioning"], "REBALANCE", "{job:#}");

    let stats = wait_completed(&cluster, &id, 3).await?;
    let history = stats["history"].as_array().cloned().unwrap_or_default();
    let ids: Vec<u64> = history.iter().filter_map(|c| c["id"].as_u64()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, unique: {ids:?}"
    );
    let latest = &stats["latest"]["completed"];
    assert_eq!(latest["status"], "COMPLETED");
    assert!(
        latest["state_size_bytes"].as_u64() > Some(0),
        "source positions: {latest}"
    );
    assert!(latest["duration_ms"].is_u64() && latest["trigger_time"].is_u64());
    assert_eq!(latest["is_savepoint"], false);
    assert!(stats["summary"]["duration_ms"]["max"].is_u64(), "{stats:#}");

    // The detail: every subtask of both vertices acknowledged; the sources stored
    // their positions, the sinks aligned two channels.
    let cid = latest["id"].as_u64().unwrap_or(0);
    let detail = get_json(&format!(
        "{}/api/v1/jobs/{id}/checkpoints/{cid}",
        cluster.url
    ))
    .await?;
    let vertices = detail["vertices"].as_array().cloned().unwrap_or_default();
    assert_eq!(vertices.len(), 2, "{detail:#}");
    for v in &vertices {
        assert_eq!(v["acknowledged"], v["parallelism"], "{v:#}");
        for s in v["subtasks"].as_array().into_iter().flatten() {
            assert!(s["ack_time"].is_u64() && s["sync_ms"].is_u64() && s["async_ms"].is_u64());
            assert!(s["start_delay_ms"].is_u64() && s["alignment_ms"].is_u64());
            assert_eq!(s["key_groups"].as_array().map(Vec::len), Some(2));
        }
    }
    let source = &vertices[0];
    assert!(
        source["name"]
            .as_str()
            .unwrap_or("")
            .starts_with("Source: src")
    );
    for s in source["subtasks"].as_array().into_iter().flatten() {
        let file = s["files"][0].as_str().unwrap_or_default();
        assert!(file.contains(&format!("chk-{cid}")), "{s}");
        let bytes = std::fs::read(file)?;
        assert!(bytes.starts_with(b"EDDYSNP1") && s["state_size_bytes"] == bytes.len() as u64);
    }
    assert_eq!(vertices[1]["parallelism"], 3);
    assert_eq!(detail["id"], cid);

    // Checkpoint ids come from the Raft state: a restarted master goes on after them.
    let before = ids.iter().copied().max().unwrap_or(0);
    cluster.restart_master().await?;
    let stats = wait_for("a checkpoint after the master restart", WAIT, || async {
        let stats = checkpoints(&cluster, &id).await?;
        let newest = stats["latest"]["completed"]["id"].as_u64().unwrap_or(0);
        Ok(
            (newest > before && stats["latest"]["completed"]["attempt"].as_u64() >= Some(2))
                .then_some(stats),
        )
    })
    .await?;
    assert!(
        stats["counts"]["completed"].as_u64() > Some(3),
        "history survived: {stats:#}"
    );

    let missing = reqwest::get(format!(
        "{}/api/v1/jobs/{id}/checkpoints/999999",
        cluster.url
    ))
    .await?;
    assert_eq!(missing.status().as_u16(), 404);
    let missing = reqwest::get(format!("{}/api/v1/jobs/nope/checkpoints", cluster.url)).await?;
    assert_eq!(missing.status().as_u16(), 404);
    Ok(())
}

/// `SET 'execution.checkpointing.interval'` in the script turns checkpoints on; an
/// OVER aggregate's state (a bounded ROWS frame with a retractable MAX, rows waiting
/// for the watermark) is checkpointed: its checkpoints complete with state, none fails,
/// and the state browser pages its per-key entries.
#[tokio::test]
async fn an_over_aggregates_checkpoints_complete_with_its_state() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, 2).await?;
    let sql = "
SET 'execution.checkpointing.interval' = '200 ms';
CREATE TABLE src (k INT, v INT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (
  'connector' = 'datagen', 'rows-per-second' = '500', 'fields.k.min' = '1', 'fields.k.max' = '5');
CREATE TABLE snk (k INT, c BIGINT, m INT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k,
  COUNT(*) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
  MAX(v) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
FROM src;
";
    let id = cluster.submit(sql, 1, json!({})).await?;
    cluster.wait_running(&id).await?;
    let stats = wait_completed(&cluster, &id, 2).await?;
    assert_eq!(stats["counts"]["failed"], 0, "{stats:#}");
    let latest = &stats["latest"]["completed"];
    assert!(
        latest["state_size_bytes"].as_u64() > Some(0),
        "OVER state: {latest}"
    );
    let cid = latest["id"].as_u64().unwrap_or_default();
    let job = cluster.job(&id).await?;
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_u64()),
        (Some("RUNNING"), Some(1))
    );
    let over = job["vertices"]
        .as_array()
        .and_then(|vs| {
            vs.iter().find(|v| {
                v["name"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("OverAggregate")
            })
        })
        .and_then(|v| v["id"].as_u64())
        .ok_or_else(|| anyhow::anyhow!("no OVER vertex: {job:#}"))?;
    let state = get_json(&format!(
        "{}/api/v1/jobs/{id}/checkpoints/{cid}/state?vertex={over}",
        cluster.url
    ))
    .await?;
    let entries = state["entries"].as_array().cloned().unwrap_or_default();
    // Rows wait for the watermark (a second behind); processed keys keep aggregates.
    let kinds = ["aggregates", "frame row", "waiting row"];
    assert!(
        !entries.is_empty()
            && entries
                .iter()
                .all(|e| kinds.iter().any(|k| e["namespace"] == *k)),
        "{state:#}"
    );
    assert!(
        entries.iter().any(|e| e["namespace"] == "waiting row"),
        "{state:#}"
    );
    Ok(())
}

/// The state browser: a keyed window's state in a completed checkpoint, by vertex,
/// paged, filtered by key group and key prefix; keys and windows readable.
#[tokio::test]
async fn the_state_browser_pages_a_windows_keyed_state() -> anyhow::Result<()> {
    browse_a_windows_keyed_state("hashmap").await
}

/// The same over an incremental RocksDB checkpoint (SST files in the job's `shared/`
/// directory): the master reads it with the job's own operator, offline.
#[tokio::test]
async fn the_state_browser_reads_a_rocksdb_checkpoint() -> anyhow::Result<()> {
    browse_a_windows_keyed_state("rocksdb").await
}

async fn browse_a_windows_keyed_state(backend: &str) -> anyhow::Result<()> {
    let cluster = Cluster::start(1, 2).await?;
    let sql = format!("SET 'state.backend.type' = '{backend}';")
        + "
SET 'execution.checkpointing.interval' = '300 ms';
SET 'execution.checkpointing.num-retained' = '20';
CREATE TABLE src (k INT, v BIGINT, ts AS PROCTIME()) WITH ('connector' = 'datagen',
  'rows-per-second' = '2000', 'fields.k.min' = '1', 'fields.k.max' = '40');
CREATE TABLE snk (k INT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' HOUR))
GROUP BY k, window_start, window_end;
";
    let id = cluster.submit(&sql, 2, json!({})).await?;
    let job = cluster.wait_running(&id).await?;
    assert_eq!(job["state_backend"], backend);
    let window_vertex = job["vertices"][1]["id"].as_u64().unwrap_or(1);
    let stats = wait_completed(&cluster, &id, 2).await?;
    let mut cid = stats["latest"]["completed"]["id"].as_u64().unwrap_or(0);
    if backend == "rocksdb" {
        // A checkpoint that uploaded less than its state: incremental, files shared.
        cid = wait_for("an incremental checkpoint", WAIT, || async {
            let stats = checkpoints(&cluster, &id).await?;
            Ok(stats["history"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|c| {
                    (c["status"] == "COMPLETED"
                        && c["checkpointed_bytes"].as_u64() < c["state_size_bytes"].as_u64())
                    .then(|| c["id"].as_u64())
                    .flatten()
                }))
        })
        .await?;
    }
    let state = |query: String| {
        let url = format!(
            "{}/api/v1/jobs/{id}/checkpoints/{cid}/state?vertex={window_vertex}{query}",
            cluster.url
        );
        async move { get_json(&url).await }
    };
    let all = state("&limit=1000".into()).await?;
    let entries = all["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(all["total"].as_u64(), Some(entries.len() as u64), "{all:#}");
    assert!(entries.len() >= 30, "40 keys, one window each: {all:#}");
    let subtasks: std::collections::BTreeSet<u64> = entries
        .iter()
        .filter_map(|e| e["subtask"].as_u64())
        .collect();
    assert_eq!(subtasks.len(), 2, "both subtasks' snapshots: {all:#}");
    let first = &entries[0];
    let key = first["key"].as_str().unwrap_or_default().to_string();
    assert!(
        key.parse::<i32>().is_ok_and(|k| (1..=40).contains(&k)),
        "{first:#}"
    );
    assert!(
        first["namespace"]
            .as_str()
            .is_some_and(|n| n.starts_with('[') && n.ends_with(')'))
    );
    // COUNT(*) keeps a count, SUM its sum and count: three numbers, named after the
    // planner's aggregate calls.
    let values = first["values"].as_object().cloned().unwrap_or_default();
    assert_eq!(values.len(), 3, "{first:#}");
    assert!(
        values
            .values()
            .all(|v| v.as_str().is_some_and(|n| n.parse::<i64>().is_ok())),
        "{first:#}"
    );
    assert_eq!(first["operator"], "TumbleWindow", "{first:#}");

    let page = state("&limit=5".into()).await?;
    assert_eq!(page["entries"].as_array().map(Vec::len), Some(5));
    assert_eq!(page["next_offset"], 5);
    let next = state("&limit=5&offset=5".into()).await?;
    assert_ne!(next["entries"][0], page["entries"][0]);

    let by_key = state(format!("&prefix={key}")).await?;
    assert!(
        by_key["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|e| e["key"].as_str().is_some_and(|k| k.starts_with(&key)))
    );
    let group = first["key_group"].as_u64().unwrap_or(0);
    let by_group = state(format!("&key_group={group}")).await?;
    assert!(by_group["total"].as_u64() >= Some(1));
    assert!(
        by_group["entries"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|e| e["key_group"] == group)
    );

    let missing = reqwest::get(format!(
        "{}/api/v1/jobs/{id}/checkpoints/{cid}/state?vertex=99",
        cluster.url
    ))
    .await?;
    assert_eq!(missing.status().as_u16(), 404);
    Ok(())
}

/// Flink's `SET 'state.backend.type'` (or Flink 1.x's `'state.backend'`) in the
/// script chooses the state backend when the request names none; the request's
/// `state_backend` wins; the job shows the effective choice; a bad name is a 400.
#[tokio::test]
async fn the_scripts_set_chooses_the_state_backend_unless_the_request_does() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, 4).await?;
    let set = |option: &str, value: &str| format!("SET '{option}' = '{value}';\n{REBALANCED}");
    for (sql, request, shown) in [
        (REBALANCED.to_string(), json!({}), "hashmap"),
        (set("state.backend.type", "rocksdb"), json!({}), "rocksdb"),
        (set("state.backend", "RocksDB"), json!({}), "rocksdb"),
        (
            set("state.backend.type", "rocksdb"),
            json!({"state_backend": "hashmap"}),
            "hashmap",
        ),
        (
            set("state.backend.type", "hashmap"),
            json!({"state_backend": "rocksdb"}),
            "rocksdb",
        ),
    ] {
        let id = cluster.submit(&sql, 1, request.clone()).await?;
        let job = cluster.job(&id).await?;
        assert_eq!(job["state_backend"], shown, "{request} {sql}");
        let cancel = reqwest::Client::new()
            .post(format!("{}/api/v1/jobs/{id}/cancel", cluster.url))
            .send()
            .await?;
        assert_eq!(cancel.status().as_u16(), 202);
    }
    let (status, body) = cluster
        .submit_raw(&json!({"sql": set("state.backend.type", "tape")}))
        .await?;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("state.backend.type"), "{body}");
    Ok(())
}

/// `execution.checkpointing.mode`: AT_LEAST_ONCE checkpoints complete without
/// alignment; an unknown mode is refused at submission.
#[tokio::test]
async fn at_least_once_mode_checkpoints_and_unknown_modes_are_refused() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, 3).await?;
    let sql = format!("SET 'execution.checkpointing.mode' = 'AT_LEAST_ONCE';\n{REBALANCED}");
    let id = cluster
        .submit(&sql, 2, json!({"checkpoint_interval_ms": 200}))
        .await?;
    cluster.wait_running(&id).await?;
    wait_completed(&cluster, &id, 2).await?;
    let bad = format!("SET 'execution.checkpointing.mode' = 'SOMETIMES';\n{REBALANCED}");
    let (status, body) = cluster
        .submit_raw(&json!({"sql": bad, "checkpoint_interval_ms": 200}))
        .await?;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or("")
            .contains("AT_LEAST_ONCE"),
        "{body}"
    );
    Ok(())
}

/// Shared files of incremental checkpoints across a master restart: the restarted
/// master rebuilds its registry from the retained checkpoints' `_metadata` (which lists
/// their shared files), deletes a file of the job's `shared/` folder none of them
/// refers to (as a checkpoint that never completed leaves), and keeps every file the
/// latest completed checkpoint needs, so the job restores and checkpoints on.
#[tokio::test]
async fn a_restarted_master_rebuilds_shared_files_and_deletes_orphans() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(1, 2).await?;
    let sql = "
SET 'state.backend.type' = 'rocksdb';
SET 'execution.checkpointing.interval' = '300 ms';
CREATE TABLE src (k INT, v BIGINT, ts AS PROCTIME()) WITH ('connector' = 'datagen',
  'rows-per-second' = '2000', 'fields.k.min' = '1', 'fields.k.max' = '400');
CREATE TABLE snk (k INT, c BIGINT, s BIGINT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT k, COUNT(*) AS c, SUM(v) AS s
FROM TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), INTERVAL '1' HOUR))
GROUP BY k, window_start, window_end;
";
    let id = cluster.submit(sql, 1, json!({})).await?;
    cluster.wait_running(&id).await?;
    let stats = wait_completed(&cluster, &id, 2).await?;
    let before = stats["latest"]["completed"]["id"].as_u64().unwrap_or(0);
    let shared = cluster
        .data_dir
        .path()
        .join("checkpoints")
        .join(&id)
        .join("shared");
    std::fs::create_dir_all(&shared)?;
    let orphan = shared.join("orphan-999999.sst");
    std::fs::write(&orphan, b"left by a checkpoint that never completed")?;

    cluster.restart_master().await?;
    let stats = wait_for("a checkpoint after the master restart", WAIT, || async {
        let stats = checkpoints(&cluster, &id).await?;
        let latest = &stats["latest"]["completed"];
        Ok(
            (latest["id"].as_u64() > Some(before) && latest["attempt"].as_u64() >= Some(2))
                .then_some(stats),
        )
    })
    .await?;
    assert!(!orphan.exists(), "the orphan was deleted");
    let latest = &stats["latest"]["completed"];
    let path = latest["path"].as_str().unwrap_or_default();
    let metadata: Value = serde_json::from_slice(&std::fs::read(format!("{path}/_metadata"))?)?;
    let files = metadata["shared_files"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !files.is_empty(),
        "an incremental checkpoint shares files: {metadata:#}"
    );
    for f in files {
        let f = f.as_str().unwrap_or_default();
        assert!(
            shared.join(f).exists(),
            "{f} of checkpoint {} kept",
            latest["id"]
        );
    }
    Ok(())
}
