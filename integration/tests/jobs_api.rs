//! The jobs REST API and CLI over real processes: errors as JSON, jobs surviving a
//! master restart, `eddy job submit|list|show|cancel`, and back pressure across
//! workers (a slow consumer on one worker slows the source on another).

use std::io::Read;
use std::process::Command;
use std::time::Duration;

use eddy_integration::cluster::{Cluster, status_history, subtasks};
use eddy_integration::{EddyProcess, WAIT, eddy_bin, wait_for};
use serde_json::{Value, json};

const PASSTHROUGH: &str = "
CREATE TABLE src (id BIGINT, v INT) WITH ('connector' = 'datagen', 'rows-per-second' = '200');
CREATE TABLE snk (id BIGINT, v INT) WITH ('connector' = 'blackhole');
INSERT INTO snk SELECT id, v FROM src;
";

#[tokio::test]
async fn errors_are_json_and_jobs_survive_a_master_restart() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(1, 2).await?;
    let client = reqwest::Client::new();

    // Invalid SQL: 400 with line and column; bad options: 400; unknown job: 404 JSON.
    let (status, body) = cluster
        .submit_raw(&json!({"sql": "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nINSERT INTO nowhere SELECT a FROM t;"}))
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("invalid_sql")),
        "{body}"
    );
    assert_eq!(body["line"], 2, "{body}");
    assert!(body["column"].as_u64() >= Some(1), "{body}");
    for bad in [
        json!({"sql": PASSTHROUGH, "parallelism": 0}),
        json!({"sql": PASSTHROUGH, "state_backend": "tape"}),
        json!({"sql": PASSTHROUGH, "restart_strategy": "sometimes"}),
    ] {
        let (status, body) = cluster.submit_raw(&bad).await?;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("bad_request")),
            "{bad} → {body}"
        );
    }
    for (method, path) in [
        ("GET", "/api/v1/jobs/nope"),
        ("POST", "/api/v1/jobs/nope/cancel"),
    ] {
        let resp = client
            .request(method.parse()?, format!("{}{path}", cluster.url))
            .send()
            .await?;
        assert_eq!(resp.status().as_u16(), 404, "{method} {path}");
        let body: Value = resp.json().await?;
        assert_eq!(body["code"], "not_found");
    }

    let id = cluster
        .submit(
            PASSTHROUGH,
            1,
            json!({"name": "survivor", "checkpoint_interval_ms": 1000, "state_backend": "rocksdb"}),
        )
        .await?;
    let job = cluster.wait_running(&id).await?;
    assert_eq!(
        (
            job["checkpoint_interval_ms"].as_u64(),
            job["state_backend"].as_str()
        ),
        (Some(1000), Some("rocksdb"))
    );
    let list = eddy_integration::get_json(&format!("{}/api/v1/jobs", cluster.url)).await?;
    let row = &list["jobs"][0];
    assert_eq!(
        (
            row["id"].as_str(),
            row["name"].as_str(),
            row["status"].as_str()
        ),
        (Some(id.as_str()), Some("survivor"), Some("RUNNING"))
    );
    assert!(row["start_time"].is_u64() && row["end_time"].is_null() && row["parallelism"] == 1);

    // The master dies and comes back on the same database: the job, its SQL, graph and
    // history are still there, and it runs again (a new attempt) once the worker is back.
    cluster.restart_master().await?;
    let job = cluster
        .wait_job(&id, "job recovered", |j| {
            j["status"] == "RUNNING" && j["attempt"].as_u64() >= Some(2)
        })
        .await?;
    assert_eq!(job["name"], "survivor");
    assert_eq!(job["sql"], PASSTHROUGH);
    assert_eq!(job["vertices"].as_array().map(Vec::len), Some(1));
    let h = status_history(&job);
    assert_eq!(&h[..2], ["CREATED", "RUNNING"], "{h:?}");
    assert!(h.contains(&"RESTARTING".to_string()), "{h:?}");
    assert!(subtasks(&job).iter().all(|s| s["status"] == "RUNNING"));
    Ok(())
}

/// Runs `eddy job ARGS… --master URL`; returns (exit code, stdout, stderr).
fn eddy_job(url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(eddy_bin())
        .arg("job")
        .args(args)
        .args(["--master", url])
        .output()
        .expect("run eddy job");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test]
async fn the_cli_submits_lists_shows_and_cancels_jobs() -> anyhow::Result<()> {
    let cluster = Cluster::start(1, 2).await?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("job.sql");
    std::fs::write(&file, PASSTHROUGH)?;
    let file = file.display().to_string();

    let (code, out, err) = eddy_job(
        &cluster.url,
        &["submit", &file, "--parallelism", "2", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let submitted: Value = serde_json::from_str(&out)?;
    let id = submitted["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(submitted["parallelism"], 2);
    cluster.wait_running(&id).await?;

    let (code, out, err) = eddy_job(&cluster.url, &["list"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap_or_default();
    for column in ["ID", "NAME", "STATUS"] {
        assert!(header.contains(column), "{out}");
    }
    assert!(out.contains(&id) && out.contains("RUNNING"), "{out}");
    let (code, out, _) = eddy_job(&cluster.url, &["list", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out)?["jobs"][0]["id"],
        id.as_str()
    );

    let (code, out, err) = eddy_job(&cluster.url, &["show", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Source: src") && out.contains("RUNNING"),
        "{out}"
    );

    let (code, out, err) = eddy_job(&cluster.url, &["cancel", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("CANCELLING"), "{out}");
    cluster
        .wait_job(&id, "canceled", |j| j["status"] == "CANCELED")
        .await?;

    // Bad SQL: FILE:LINE:COLUMN and exit 2; an unknown job: exit 1.
    let bad = dir.path().join("bad.sql");
    std::fs::write(
        &bad,
        "CREATE TABLE t (a INT) WITH ('connector' = 'datagen');\nINSERT INTO nowhere SELECT a FROM t;\n",
    )?;
    let (code, _, err) = eddy_job(&cluster.url, &["submit", &bad.display().to_string()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("{}:2:", bad.display())), "{err}");
    let (code, _, err) = eddy_job(&cluster.url, &["show", "nope"]);
    assert_eq!(code, 1, "{err}");
    Ok(())
}

/// The print sink's worker writes to a stdout nobody reads (a stuck terminal): the sink
/// blocks, its input queue fills, the exchange grants no more credits, and the source on
/// the other worker stops — back pressure across processes. Reading the pipe lets it go on.
#[tokio::test]
async fn a_slow_consumer_on_one_worker_slows_the_source_on_another() -> anyhow::Result<()> {
    let mut cluster = Cluster::start(0, 1).await?;
    let mut pipes = Vec::new();
    for i in 0..2 {
        let mut w = EddyProcess::spawn_piped(&format!("worker-{i}"), &cluster.worker_args(1), &[])?;
        pipes.push(w.take_stdout().expect("piped stdout"));
        cluster.push_worker(w).await?;
    }
    let sql = "
CREATE TABLE src (id BIGINT, s STRING) WITH (
  'connector' = 'datagen', 'rows-per-second' = '200000', 'fields.s.length' = '100',
  'slot-sharing-group' = 'io');
CREATE TABLE out (id BIGINT, s STRING) WITH ('connector' = 'print');
INSERT INTO out SELECT id, s FROM src;
";
    let id = cluster.submit(sql, 1, json!({})).await?;
    let job = cluster.wait_running(&id).await?;
    let worker = |v: usize| {
        job["vertices"][v]["subtasks"][0]["worker_id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_ne!(
        worker(0),
        worker(1),
        "source and sink on different workers: {job:#}"
    );

    // The source stalls: its output stops growing, bounded by the buffers and credits.
    let source_out = |j: &Value| {
        j["vertices"][0]["metrics"]["records_out"]
            .as_u64()
            .unwrap_or(0)
    };
    let stalled = wait_for("the source to stall", WAIT, || async {
        let before = source_out(&cluster.job(&id).await?);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let after = cluster.job(&id).await?;
        Ok((before > 0 && source_out(&after) == before).then_some(after))
    })
    .await?;
    let stalled_at = source_out(&stalled);
    assert!(
        stalled_at < 2_000_000,
        "the source ran ahead by {stalled_at} rows"
    );
    assert_eq!(stalled["status"], "RUNNING");

    // Read the sink's stdout: rows flow again and the source moves on.
    for mut pipe in pipes {
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while matches!(pipe.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    cluster
        .wait_job(&id, "the source to move on", |j| {
            source_out(j) > stalled_at + 10_000
        })
        .await?;
    Ok(())
}

/// A task failure (a malformed record under the default `fail` policy) fails the
/// attempt; fixed-delay restarts it once, the second failure fails the job. Both
/// exceptions are kept with their worker, subtask and message.
#[tokio::test]
async fn a_failing_task_is_restarted_then_fails_the_job_with_its_exceptions() -> anyhow::Result<()>
{
    let cluster = Cluster::start(1, 2).await?;
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("in");
    std::fs::create_dir(&input)?;
    std::fs::write(input.join("a.json"), "{\"a\": 1}\n{\"a\": oops}\n")?;
    let sql = format!(
        "CREATE TABLE src (a INT) WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'json');
         CREATE TABLE snk (a INT) WITH ('connector' = 'blackhole');
         INSERT INTO snk SELECT a FROM src;",
        input.display()
    );
    let strategy = json!({"type": "fixed-delay", "attempts": 1, "delay_ms": 100});
    let id = cluster
        .submit(&sql, 1, json!({"restart_strategy": strategy}))
        .await?;
    let job = cluster
        .wait_job(&id, "job failed", |j| j["status"] == "FAILED")
        .await?;
    assert_eq!(
        (job["attempt"].as_u64(), job["restarts"].as_u64()),
        (Some(2), Some(1)),
        "{job:#}"
    );
    assert!(job["end_time"].is_u64());
    let h = status_history(&job);
    for status in ["RUNNING", "FAILING", "RESTARTING", "FAILED"] {
        assert!(h.contains(&status.to_string()), "{h:?}");
    }
    let exceptions = job["exceptions"].as_array().cloned().unwrap_or_default();
    assert_eq!(exceptions.len(), 2, "{exceptions:#?}");
    for (e, attempt) in exceptions.iter().zip([1, 2]) {
        assert_eq!(e["attempt"], attempt);
        assert!(
            e["worker_id"]
                .as_str()
                .is_some_and(|w| w.starts_with("worker-")),
            "{e}"
        );
        assert_eq!(
            (e["vertex"].as_u64(), e["subtask"].as_u64()),
            (Some(0), Some(0)),
            "{e}"
        );
        assert!(
            e["task"]
                .as_str()
                .is_some_and(|t| t.starts_with("Source: src")),
            "{e}"
        );
        let message = e["message"].as_str().unwrap_or_default();
        assert!(message.contains("a.json:2"), "{message}");
    }
    Ok(())
}
