//! The catalog store on both databases: one schema, one suite. SQLite in a temp dir,
//! Postgres in a fresh database of the test server that `make test` starts.

use eddy_control_plane::store::{
    ClusterEventRow, JobExceptionRow, JobRow, Store, StoreError, StoreKind, WorkerRow,
};
use eddy_integration::create_postgres_database;

async fn sqlite() -> anyhow::Result<(Store, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let store = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("nested/eddy.db").display()
    ))
    .await?;
    assert_eq!(store.kind(), StoreKind::Sqlite);
    Ok((store, dir))
}

async fn postgres() -> anyhow::Result<Store> {
    let store = Store::connect(&create_postgres_database().await?).await?;
    assert_eq!(store.kind(), StoreKind::Postgres);
    Ok(store)
}

fn worker(id: &str, registered_at_ms: u64) -> WorkerRow {
    WorkerRow {
        id: id.into(),
        address: "127.0.0.1:7000".into(),
        slots: 4,
        managed_memory_bytes: 1 << 30,
        state: "active".into(),
        registered_at_ms,
        last_heartbeat_ms: registered_at_ms,
    }
}

async fn workers_round_trip(store: &Store) -> anyhow::Result<()> {
    store.upsert_worker(1, &worker("w1", 10)).await?;
    store.upsert_worker(1, &worker("w2", 20)).await?;
    let mut again = worker("w1", 30);
    again.slots = 8;
    store.upsert_worker(1, &again).await?;
    store.set_worker_state(1, "w2", "lost", 25).await?;
    let rows = store.workers().await?;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0], again,
        "newest registration first, re-registration replaces"
    );
    assert_eq!(
        (rows[1].state.as_str(), rows[1].last_heartbeat_ms),
        ("lost", 25)
    );
    Ok(())
}

async fn stale_leaders_are_fenced(store: &Store) -> anyhow::Result<()> {
    store.upsert_worker(3, &worker("w1", 1)).await?;
    assert_eq!(store.fence_term().await?, 3);
    let err = store
        .upsert_worker(2, &worker("w9", 2))
        .await
        .expect_err("a stale term must be refused");
    assert!(
        matches!(
            err,
            StoreError::Fenced {
                term: 2,
                current: 3
            }
        ),
        "{err}"
    );
    assert!(
        store.workers().await?.iter().all(|w| w.id != "w9"),
        "the fenced write left nothing behind"
    );
    store.upsert_worker(3, &worker("w2", 3)).await?;
    store.upsert_worker(4, &worker("w3", 4)).await?;
    assert_eq!(store.fence_term().await?, 4);
    Ok(())
}

async fn events_are_kept_newest_first(store: &Store) -> anyhow::Result<()> {
    for i in 0..5u64 {
        let e = ClusterEventRow {
            at_ms: i,
            kind: "worker_registered".into(),
            subject: format!("w{i}"),
            detail: "x".into(),
        };
        store.record_event(1, &e).await?;
    }
    let recent = store.recent_events(3).await?;
    assert_eq!(
        recent
            .iter()
            .map(|e| e.subject.as_str())
            .collect::<Vec<_>>(),
        ["w4", "w3", "w2"]
    );
    Ok(())
}

#[tokio::test]
async fn sqlite_workers_round_trip() -> anyhow::Result<()> {
    let (s, _d) = sqlite().await?;
    workers_round_trip(&s).await
}

#[tokio::test]
async fn postgres_workers_round_trip() -> anyhow::Result<()> {
    workers_round_trip(&postgres().await?).await
}

#[tokio::test]
async fn sqlite_fencing() -> anyhow::Result<()> {
    let (s, _d) = sqlite().await?;
    stale_leaders_are_fenced(&s).await
}

#[tokio::test]
async fn postgres_fencing() -> anyhow::Result<()> {
    stale_leaders_are_fenced(&postgres().await?).await
}

#[tokio::test]
async fn sqlite_events() -> anyhow::Result<()> {
    let (s, _d) = sqlite().await?;
    events_are_kept_newest_first(&s).await
}

#[tokio::test]
async fn postgres_events() -> anyhow::Result<()> {
    events_are_kept_newest_first(&postgres().await?).await
}

#[tokio::test]
async fn migrations_are_idempotent() -> anyhow::Result<()> {
    let (s, dir) = sqlite().await?;
    s.upsert_worker(1, &worker("w1", 1)).await?;
    s.close().await;
    let again = Store::connect(&format!(
        "sqlite://{}",
        dir.path().join("nested/eddy.db").display()
    ))
    .await?;
    assert_eq!(again.workers().await?.len(), 1, "reopening keeps the data");
    let url = create_postgres_database().await?;
    Store::connect(&url).await?.close().await;
    Store::connect(&url).await?;
    Ok(())
}

fn job(id: &str, start_time_ms: u64) -> JobRow {
    JobRow {
        id: id.into(),
        name: format!("job {id}"),
        sql: "INSERT INTO out SELECT * FROM src;".into(),
        parallelism: 2,
        status: "CREATED".into(),
        attempt: 0,
        graph_json: r#"{"vertices":[],"edges":[]}"#.into(),
        options_json: r#"{"state_backend":"hashmap"}"#.into(),
        start_time_ms,
        end_time_ms: None,
    }
}

async fn jobs_and_their_history(store: &Store) -> anyhow::Result<()> {
    store.insert_job(1, &job("j1", 100)).await?;
    store.insert_job(1, &job("j2", 200)).await?;
    assert!(
        store
            .set_job_status(1, "j1", "SCHEDULED", 110, "waiting for 2 slots", 0)
            .await?
    );
    assert!(store.set_job_status(1, "j1", "RUNNING", 120, "", 0).await?);
    assert!(
        store
            .set_job_status(1, "j1", "FINISHED", 130, "", 0)
            .await?
    );
    assert!(
        !store.set_job_status(1, "nope", "RUNNING", 1, "", 0).await?,
        "unknown job"
    );
    let jobs = store.jobs().await?;
    assert_eq!(
        jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        ["j2", "j1"],
        "newest first"
    );
    let j1 = store.job("j1").await?.expect("j1");
    assert_eq!(
        (j1.status.as_str(), j1.end_time_ms),
        ("FINISHED", Some(130))
    );
    assert_eq!(j1.sql, job("j1", 0).sql);
    assert_eq!(store.job("j2").await?.expect("j2").end_time_ms, None);
    assert_eq!(store.job("nope").await?, None);
    let history: Vec<(String, u64, String)> = store
        .job_history("j1")
        .await?
        .into_iter()
        .map(|c| (c.status, c.at_ms, c.detail))
        .collect();
    assert_eq!(
        history,
        vec![
            ("CREATED".to_string(), 100, String::new()),
            (
                "SCHEDULED".to_string(),
                110,
                "waiting for 2 slots".to_string()
            ),
            ("RUNNING".to_string(), 120, String::new()),
            ("FINISHED".to_string(), 130, String::new()),
        ]
    );
    assert_eq!(j1.options_json, job("j1", 0).options_json);
    let unfinished: Vec<String> = store
        .unfinished_jobs()
        .await?
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(unfinished, ["j2"], "j1 finished");
    // Exceptions: kept per job, oldest first, with where they happened.
    let failure = JobExceptionRow {
        attempt: 1,
        at_ms: 115,
        message: "worker lost".into(),
        worker_id: Some("w1".into()),
        vertex: Some(0),
        subtask: Some(1),
        task: Some("Source: src (2/2)".into()),
    };
    store.insert_job_exception(1, "j1", &failure).await?;
    let second = JobExceptionRow {
        attempt: 2,
        at_ms: 116,
        worker_id: None,
        vertex: None,
        subtask: None,
        task: None,
        ..failure.clone()
    };
    store.insert_job_exception(1, "j1", &second).await?;
    assert_eq!(store.job_exceptions("j1").await?, vec![failure, second]);
    assert!(store.job_exceptions("j2").await?.is_empty());
    // A stale leader cannot move a job.
    store.upsert_worker(5, &worker("w1", 1)).await?;
    assert!(matches!(
        store.set_job_status(4, "j2", "CANCELED", 300, "", 0).await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(store.job("j2").await?.expect("j2").status, "CREATED");
    Ok(())
}

#[tokio::test]
async fn sqlite_jobs() -> anyhow::Result<()> {
    let (store, _dir) = sqlite().await?;
    jobs_and_their_history(&store).await
}

#[tokio::test]
async fn postgres_jobs() -> anyhow::Result<()> {
    jobs_and_their_history(&postgres().await?).await
}
