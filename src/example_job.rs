//! `eddy standalone --example-job`: once the local worker has registered, submits the
//! example job (`examples/nexmark_auction_counts.sql`) through the REST API — unless the
//! cluster already has jobs (a restart on the same data dir keeps the first one).

use std::time::Duration;

use eddy_api::jobs::{JobsResponse, SubmitJobRequest};
use eddy_api::rest::Overview;

/// The example job's SQL and name.
pub const EXAMPLE_SQL: &str = include_str!("../examples/nexmark_auction_counts.sql");
pub const EXAMPLE_NAME: &str = "example: Nexmark bids per auction";
/// How long to wait for the local worker before giving up on the example.
pub const WORKER_WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);

/// Submits the example job to the master at `url`; logs instead of failing.
pub async fn submit(url: String) {
    match try_submit(&url).await {
        Ok(Some(id)) => tracing::info!(job_id = %id, "submitted the example job"),
        Ok(None) => tracing::info!("jobs exist already; the example job is not submitted again"),
        Err(e) => tracing::warn!(error = %e, "could not submit the example job"),
    }
}

async fn try_submit(url: &str) -> anyhow::Result<Option<String>> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started = std::time::Instant::now();
    loop {
        let overview: Overview = client
            .get(format!("{url}/api/v1/overview"))
            .send()
            .await?
            .json()
            .await?;
        if overview.workers > 0 {
            break;
        }
        if started.elapsed() > WORKER_WAIT {
            anyhow::bail!("no worker registered within {WORKER_WAIT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
    let jobs: JobsResponse = client
        .get(format!("{url}/api/v1/jobs"))
        .send()
        .await?
        .json()
        .await?;
    if !jobs.jobs.is_empty() {
        return Ok(None);
    }
    let request = SubmitJobRequest {
        sql: EXAMPLE_SQL.to_string(),
        name: Some(EXAMPLE_NAME.to_string()),
        parallelism: Some(1),
        checkpoint_interval_ms: None,
        state_backend: None,
        restart_strategy: None,
        savepoint_path: None,
    };
    let resp = client
        .post(format!("{url}/api/v1/jobs"))
        .json(&request)
        .send()
        .await?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await?;
    if !status.is_success() {
        anyhow::bail!("the master refused the example job: {status} {body}");
    }
    Ok(body["id"].as_str().map(str::to_string))
}
