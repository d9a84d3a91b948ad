//! `eddy master` and `eddy worker` as separate processes: workers that start later
//! show up, killed workers are declared lost after the heartbeat timeout, and the
//! event stream reports both.

use std::time::Duration;

use anyhow::Context;
use eddy_integration::{EddyProcess, WAIT, free_port, get_json, server_args, wait_for};
use serde_json::Value;
use tokio_stream_ext::next_event_named;

/// Reads Server-Sent Events from a streaming response.
mod tokio_stream_ext {
    use anyhow::bail;

    /// Returns the data of the next event called `name`, skipping others.
    pub async fn next_event_named(
        resp: &mut reqwest::Response,
        buf: &mut String,
        name: &str,
    ) -> anyhow::Result<String> {
        loop {
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let mut event = None;
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_string());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if event.as_deref() == Some(name) {
                    return Ok(data);
                }
            }
            match resp.chunk().await? {
                Some(chunk) => buf.push_str(&String::from_utf8_lossy(&chunk)),
                None => bail!("event stream ended before a {name} event"),
            }
        }
    }
}

struct Master {
    process: EddyProcess,
    url: String,
    dir: tempfile::TempDir,
}

async fn start_master(extra: &[&str]) -> anyhow::Result<Master> {
    start_master_at(
        tempfile::tempdir()?,
        format!("127.0.0.1:{}", free_port()),
        extra,
    )
    .await
}

/// Starts a master on `http` with data dir `dir`, and waits for its health check.
async fn start_master_at(
    dir: tempfile::TempDir,
    http: String,
    extra: &[&str],
) -> anyhow::Result<Master> {
    let process = EddyProcess::spawn(
        "master",
        &server_args("master", &http, dir.path(), extra),
        &[],
    )?;
    let url = format!("http://{http}");
    eddy_integration::wait_healthy(&url, || process.output()).await?;
    Ok(Master { process, url, dir })
}

async fn wait_for_overview(
    url: &str,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    let overview = format!("{url}/api/v1/overview");
    wait_for(what, WAIT, || {
        let overview = overview.clone();
        let ok = &want;
        async move { Ok(Some(get_json(&overview).await?).filter(|v| ok(v))) }
    })
    .await
}

#[tokio::test]
async fn workers_started_later_show_up_and_killed_ones_are_lost() -> anyhow::Result<()> {
    let master =
        start_master(&["--heartbeat-interval", "200ms", "--heartbeat-timeout", "2s"]).await?;
    let overview = get_json(&format!("{}/api/v1/overview", master.url)).await?;
    assert_eq!(
        (
            overview["workers"].as_u64(),
            overview["slots_total"].as_u64()
        ),
        (Some(0), Some(0))
    );

    let mut events = reqwest::get(format!("{}/api/v1/events", master.url)).await?;
    assert!(
        events.headers()["content-type"]
            .to_str()?
            .starts_with("text/event-stream")
    );
    let mut buf = String::new();

    let mut w1 = EddyProcess::spawn(
        "worker-1",
        &["worker", "--master", &master.url, "--slots", "2"],
        &[],
    )?;
    wait_for_overview(&master.url, "first worker", |v| {
        v["workers"] == 1 && v["slots_total"] == 2
    })
    .await?;
    let registered: Value =
        serde_json::from_str(&next_event_named(&mut events, &mut buf, "worker_registered").await?)?;
    assert_eq!(registered["type"], "worker_registered");
    assert_eq!(registered["slots"], 2);
    let w1_id = registered["worker_id"]
        .as_str()
        .expect("worker id")
        .to_string();

    let rpc = format!("127.0.0.1:{}", free_port());
    let _w2 = EddyProcess::spawn(
        "worker-2",
        &[
            "worker",
            "--master",
            &master.url,
            "--slots",
            "3",
            "--rpc",
            &rpc,
        ],
        &[],
    )?;
    wait_for_overview(&master.url, "second worker", |v| {
        v["workers"] == 2 && v["slots_total"] == 5 && v["slots_available"] == 5
    })
    .await?;
    let workers = get_json(&format!("{}/api/v1/workers", master.url)).await?;
    assert!(
        workers["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .any(|w| w["address"] == rpc.as_str()),
        "a worker reports its --rpc address: {workers}"
    );

    w1.kill9()?;
    let lost: Value = serde_json::from_str(
        &tokio::time::timeout(WAIT, next_event_named(&mut events, &mut buf, "worker_lost"))
            .await??,
    )?;
    assert_eq!(lost["worker_id"], w1_id.as_str());
    let overview = wait_for_overview(&master.url, "lost worker's slots leave the totals", |v| {
        v["workers"] == 1
    })
    .await?;
    assert_eq!(
        (
            overview["slots_total"].as_u64(),
            overview["slots_available"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let workers = get_json(&format!("{}/api/v1/workers", master.url)).await?;
    let gone = workers["workers"]
        .as_array()
        .expect("workers")
        .iter()
        .find(|w| w["id"] == w1_id.as_str())
        .cloned();
    let gone = gone.context("the lost worker stays listed")?;
    assert_eq!(gone["state"], "lost");
    assert_eq!(gone["slots"], serde_json::json!([]));
    drop(master.process);
    Ok(())
}

#[tokio::test]
async fn workers_reach_the_master_on_its_rpc_address_too() -> anyhow::Result<()> {
    let rpc = format!("127.0.0.1:{}", free_port());
    let master = start_master(&["--rpc", &rpc]).await?;
    let _w = EddyProcess::spawn(
        "worker",
        &[
            "worker",
            "--master",
            &format!("http://{rpc}"),
            "--slots",
            "1",
        ],
        &[],
    )?;
    wait_for_overview(&master.url, "worker via --rpc", |v| v["workers"] == 1).await?;
    Ok(())
}

#[tokio::test]
async fn a_worker_started_before_its_master_registers_once_it_is_up() -> anyhow::Result<()> {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let _w = EddyProcess::spawn("worker", &["worker", "--master", &url, "--slots", "2"], &[])?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = tempfile::tempdir()?;
    let http = format!("127.0.0.1:{port}");
    let _m = EddyProcess::spawn(
        "master",
        &[
            "master",
            "--http",
            &http,
            "--data-dir",
            &dir.path().display().to_string(),
        ],
        &[],
    )?;
    wait_for_overview(&url, "worker retried its registration", |v| {
        v["workers"] == 1 && v["slots_total"] == 2
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn workers_register_again_after_a_master_restart() -> anyhow::Result<()> {
    let flags = ["--heartbeat-interval", "200ms", "--heartbeat-timeout", "2s"];
    let mut master = start_master(&flags).await?;
    let _w = EddyProcess::spawn(
        "worker",
        &["worker", "--master", &master.url, "--slots", "2"],
        &[],
    )?;
    wait_for_overview(&master.url, "worker registered", |v| v["workers"] == 1).await?;

    master.process.terminate()?;
    master.process.wait_exit(WAIT)?;
    let http = master.url.trim_start_matches("http://").to_string();
    let restarted = start_master_at(master.dir, http, &flags).await?;
    let overview = wait_for_overview(&restarted.url, "worker registered again", |v| {
        v["workers"] == 1
    })
    .await?;
    assert_eq!(overview["slots_total"], 2);
    Ok(())
}
