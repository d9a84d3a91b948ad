//! `eddy standalone`: one master and one worker in one process, the worker talking to
//! the master over gRPC on 127.0.0.1. Checks the REST contract of the skeleton.

use std::time::Duration;

use anyhow::ensure;
use eddy_integration::{Standalone, WAIT, create_postgres_database, get_json, wait_for};
use serde_json::Value;

#[tokio::test]
async fn serves_the_rest_contract_on_sqlite() -> anyhow::Result<()> {
    let s = Standalone::start(&["--slots", "3", "--managed-memory", "300MiB"]).await?;

    let overview = s.get("/api/v1/overview").await?;
    assert_eq!(overview["workers"], 1);
    assert_eq!(overview["slots_total"], 3);
    assert_eq!(overview["slots_available"], 3);
    assert_eq!(overview["jobs_running"], 0);
    assert!(
        overview["version"].as_str().is_some_and(|v| !v.is_empty()),
        "{overview}"
    );

    let workers = s.get("/api/v1/workers").await?;
    let list = workers["workers"].as_array().expect("workers array");
    assert_eq!(list.len(), 1, "{workers}");
    let w = &list[0];
    assert!(w["id"].as_str().is_some_and(|id| !id.is_empty()));
    let address = w["address"].as_str().expect("address");
    assert!(
        address.starts_with("127.0.0.1:") && !address.ends_with(":0"),
        "{address}"
    );
    assert_eq!(w["state"], "active");
    assert!(
        w["last_heartbeat_ms"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000),
        "{w}"
    );
    let slots = w["slots"].as_array().expect("slots");
    assert_eq!(slots.len(), 3);
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(slot["index"], i as u64);
        assert_eq!(slot["state"], "free");
        assert_eq!(slot["job_id"], Value::Null);
        assert_eq!(slot["subtasks"], serde_json::json!([]));
        assert_eq!(
            slot["managed_memory_bytes"],
            100 * 1024 * 1024,
            "300MiB split over 3 slots"
        );
    }
    // The worker's RPC address is live (it serves gRPC there).
    tokio::net::TcpStream::connect(address).await?;

    let cluster = s.get("/api/v1/cluster").await?;
    assert_eq!(cluster["leader_id"], 1, "{cluster}");
    assert!(cluster["term"].as_u64().is_some_and(|t| t >= 1));
    assert_eq!(
        cluster["masters"],
        serde_json::json!([{ "id": 1, "http_address": s.url, "role": "leader" }])
    );
    assert!(
        cluster["last_applied_index"]
            .as_u64()
            .is_some_and(|i| i >= 1),
        "{cluster}"
    );

    let health = reqwest::get(format!("{}/healthz", s.url)).await?;
    assert!(health.status().is_success());
    assert_eq!(health.text().await?, "ok");

    assert!(
        s.data_dir.path().join("eddy.db").exists(),
        "SQLite under the data dir"
    );
    assert!(
        s.data_dir.path().join("raft").is_dir(),
        "Raft log under the data dir"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_api_routes_are_json_404s_and_other_paths_get_the_dashboard() -> anyhow::Result<()>
{
    let s = Standalone::start(&["--slots", "1"]).await?;
    for path in [
        "/api/v1/nope",
        "/api/v1/jobs/unknown-job/nothing",
        "/api",
        "/api/v2/overview",
    ] {
        let resp = reqwest::get(format!("{}{path}", s.url)).await?;
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await?;
        assert_eq!(body["code"], "not_found", "{path}: {body}");
        assert!(
            body["message"].as_str().is_some_and(|m| m.contains(path)),
            "{body}"
        );
    }
    for path in ["/", "/cluster", "/jobs/abc"] {
        let resp = reqwest::get(format!("{}{path}", s.url)).await?;
        assert_eq!(resp.status(), 200, "{path}");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
    }
    Ok(())
}

#[tokio::test]
async fn openapi_lists_every_route() -> anyhow::Result<()> {
    let s = Standalone::start(&["--slots", "1"]).await?;
    let doc = s.get("/api/v1/openapi.json").await?;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    for route in [
        "/healthz",
        "/api/v1/overview",
        "/api/v1/workers",
        "/api/v1/cluster",
        "/api/v1/events",
        "/api/v1/openapi.json",
        "/metrics",
    ] {
        assert!(
            paths.get(route).and_then(|p| p.get("get")).is_some(),
            "{route} missing from {:?}",
            paths.keys()
        );
    }
    for (route, method) in [
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs", "post"),
        ("/api/v1/jobs/{id}", "get"),
        ("/api/v1/jobs/{id}/cancel", "post"),
        ("/api/v1/sql/validate", "post"),
    ] {
        assert!(
            paths.get(route).and_then(|p| p.get(method)).is_some(),
            "{method} {route} missing from {:?}",
            paths.keys()
        );
    }
    for schema in [
        "JobDetails",
        "JobsResponse",
        "SubmitJobRequest",
        "Overview",
        "WorkersResponse",
        "WorkerInfo",
        "SlotInfo",
        "ClusterInfo",
        "MasterInfo",
    ] {
        assert!(
            doc["components"]["schemas"].get(schema).is_some(),
            "schema {schema} missing"
        );
    }
    Ok(())
}

/// `make run`'s standalone: the example job is submitted once and runs in the local
/// worker's slot; a restart on the same data dir does not submit it again.
#[tokio::test]
async fn the_example_job_runs_in_standalone() -> anyhow::Result<()> {
    let s = Standalone::start(&["--slots", "2", "--example-job"]).await?;
    let job = eddy_integration::wait_for(
        "the example job running",
        eddy_integration::WAIT,
        || async {
            let jobs = s.get("/api/v1/jobs").await?;
            let Some(id) = jobs["jobs"][0]["id"].as_str() else {
                return Ok(None);
            };
            let job = s.get(&format!("/api/v1/jobs/{id}")).await?;
            let records = job["vertices"][0]["metrics"]["records_out"]
                .as_u64()
                .unwrap_or(0);
            Ok((job["status"] == "RUNNING" && records > 0).then_some(job))
        },
    )
    .await?;
    assert!(
        job["name"].as_str().unwrap_or("").starts_with("example"),
        "{job:#}"
    );
    let overview = s.get("/api/v1/overview").await?;
    assert_eq!(overview["jobs_running"], 1);
    let Standalone {
        mut process,
        data_dir,
        ..
    } = s;
    process.terminate()?;
    process.wait_exit(eddy_integration::WAIT)?;
    let again = Standalone::start_in(data_dir, &["--slots", "2", "--example-job"]).await?;
    eddy_integration::wait_for(
        "the recovered example job",
        eddy_integration::WAIT,
        || async {
            let jobs = again.get("/api/v1/jobs").await?;
            let list = jobs["jobs"].as_array().cloned().unwrap_or_default();
            assert!(list.len() <= 1, "submitted twice: {jobs}");
            Ok((list.len() == 1 && list[0]["status"] == "RUNNING").then_some(()))
        },
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn runs_on_postgres_and_records_the_worker() -> anyhow::Result<()> {
    let db = create_postgres_database().await?;
    let s = Standalone::start(&["--db", db.as_str()]).await?;
    let overview = s.get("/api/v1/overview").await?;
    let cores = std::thread::available_parallelism()?.get() as u64;
    assert_eq!(overview["slots_total"], cores, "default slots = CPU cores");

    let workers = s.get("/api/v1/workers").await?;
    let id = workers["workers"][0]["id"]
        .as_str()
        .expect("worker id")
        .to_string();
    let store = eddy_control_plane::store::Store::connect(&db).await?;
    let rows = store.workers().await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].id.as_str(),
            rows[0].state.as_str(),
            rows[0].slots as u64
        ),
        (id.as_str(), "active", cores)
    );
    assert!(
        !s.data_dir.path().join("eddy.db").exists(),
        "no SQLite file when --db is Postgres"
    );
    Ok(())
}

#[tokio::test]
async fn raft_state_survives_a_restart() -> anyhow::Result<()> {
    let mut s = Standalone::start(&["--slots", "1"]).await?;
    let before = s.get("/api/v1/cluster").await?;
    let term_before = before["term"].as_u64().expect("term");
    let applied_before = before["last_applied_index"]
        .as_u64()
        .expect("applied index");
    s.process.terminate()?;
    let status = s.process.wait_exit(Duration::from_secs(30))?;
    ensure!(
        status.success(),
        "SIGTERM is a clean stop: {status}\n{}",
        s.process.output()
    );

    let again = Standalone::start_in(s.data_dir, &["--slots", "1"]).await?;
    let after = again.get("/api/v1/cluster").await?;
    assert_eq!(after["leader_id"], 1);
    let term_after = after["term"].as_u64().expect("term");
    assert!(
        term_after >= term_before,
        "the persisted vote is kept: {term_before} -> {term_after}"
    );
    let applied_after = after["last_applied_index"].as_u64().expect("applied index");
    assert!(
        applied_after > applied_before,
        "the log continues after the persisted entries instead of starting a new group: {applied_before} -> {applied_after}"
    );
    assert_eq!(after["masters"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test]
async fn flags_come_from_env_and_config_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let port = eddy_integration::free_port();
    let config = dir.path().join("eddy.toml");
    std::fs::write(
        &config,
        format!("http = \"127.0.0.1:{port}\"\nslots = 2\nheartbeat-interval = \"300ms\"\n"),
    )?;
    let data = dir.path().join("data");
    let _p = eddy_integration::EddyProcess::spawn(
        "standalone",
        &[
            "standalone",
            "--config",
            config.to_str().expect("utf-8 path"),
        ],
        &[
            ("EDDY_SLOTS", "5"),
            ("EDDY_DATA_DIR", data.to_str().expect("utf-8 path")),
        ],
    )?;
    let url = format!("http://127.0.0.1:{port}/api/v1/overview");
    let total = wait_for("standalone from config", WAIT, || {
        let url = url.clone();
        async move {
            Ok(get_json(&url).await?["slots_total"]
                .as_u64()
                .filter(|n| *n > 0))
        }
    })
    .await?;
    assert_eq!(total, 5, "EDDY_SLOTS overrides the file's slots");
    assert!(data.join("eddy.db").exists(), "EDDY_DATA_DIR was used");
    Ok(())
}
