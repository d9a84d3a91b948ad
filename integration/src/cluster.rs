//! A real cluster for a test: `eddy master` on a fresh Postgres database plus `eddy
//! worker` processes, with helpers to submit jobs over REST and wait for their states.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::{
    EddyProcess, WAIT, create_postgres_database, free_port, get_json, server_args, wait_for,
};

/// Heartbeats fast enough that a killed worker is noticed within seconds.
pub const HEARTBEAT_INTERVAL: &str = "300ms";
pub const HEARTBEAT_TIMEOUT: &str = "3s";
/// Workers' managed memory in tests: small, so tests see its limits.
pub const TEST_MANAGED_MEMORY: &str = "64MiB";

pub struct Cluster {
    pub master: EddyProcess,
    pub url: String,
    pub http: String,
    pub db: String,
    pub workers: Vec<EddyProcess>,
    pub data_dir: tempfile::TempDir,
    /// Environment of every process of the cluster (e.g. the checkpoint storage).
    pub env: Vec<(String, String)>,
    /// `--managed-memory` of the workers started from now on.
    pub managed_memory: String,
}

impl Cluster {
    /// A master on a new Postgres database and `workers` workers of `slots` slots each.
    pub async fn start(workers: usize, slots: u32) -> anyhow::Result<Cluster> {
        Self::start_with_env(workers, slots, &[]).await
    }

    /// Like [`Cluster::start`], every process with the environment `env`.
    pub async fn start_with_env(
        workers: usize,
        slots: u32,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Cluster> {
        let db = create_postgres_database().await?;
        let data_dir = tempfile::tempdir()?;
        let http = format!("127.0.0.1:{}", free_port());
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let master = start_master(&http, data_dir.path(), &db, &env).await?;
        let mut cluster = Cluster {
            master,
            url: format!("http://{http}"),
            http,
            db,
            workers: Vec::new(),
            data_dir,
            env,
            managed_memory: TEST_MANAGED_MEMORY.to_string(),
        };
        for _ in 0..workers {
            cluster.add_worker(slots).await?;
        }
        Ok(cluster)
    }

    /// `eddy worker` arguments for this cluster.
    pub fn worker_args(&self, slots: u32) -> Vec<String> {
        [
            "worker",
            "--master",
            &self.url,
            "--slots",
            &slots.to_string(),
            "--managed-memory",
            &self.managed_memory,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn env_refs(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Kills (SIGKILL) the worker process registered as `worker_id`.
    pub fn kill_worker(&mut self, worker_id: &str) -> anyhow::Result<()> {
        let Some(process) = self
            .workers
            .iter_mut()
            .find(|w| w.output().contains(worker_id))
        else {
            bail!("no worker process is {worker_id}");
        };
        process.kill9()
    }

    /// Starts one more worker and waits until the master counts it.
    pub async fn add_worker(&mut self, slots: u32) -> anyhow::Result<()> {
        let name = format!("worker-{}", self.workers.len() + 1);
        let process = EddyProcess::spawn(&name, &self.worker_args(slots), &self.env_refs())?;
        self.push_worker(process).await
    }

    /// Adds an already spawned worker process and waits until the master counts it.
    pub async fn push_worker(&mut self, process: EddyProcess) -> anyhow::Result<()> {
        // Killed workers are not counted (once the master noticed).
        let running = self
            .workers
            .iter_mut()
            .map(|w| w.is_running())
            .filter(|r| *r)
            .count();
        let want = running as u64 + 1;
        self.workers.push(process);
        let url = format!("{}/api/v1/overview", self.url);
        wait_for("worker registered", WAIT, || {
            let url = url.clone();
            async move {
                Ok(get_json(&url)
                    .await?
                    .get("workers")
                    .and_then(Value::as_u64)
                    .filter(|n| *n >= want))
            }
        })
        .await
        .map(|_| ())
    }

    /// Kills the master (SIGKILL) and starts it again on the same port, database and data dir.
    pub async fn restart_master(&mut self) -> anyhow::Result<()> {
        self.master.kill9()?;
        self.master = start_master(&self.http, self.data_dir.path(), &self.db, &self.env).await?;
        Ok(())
    }

    /// `POST /api/v1/jobs`; the status code and the JSON answer.
    pub async fn submit_raw(&self, body: &Value) -> anyhow::Result<(u16, Value)> {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/jobs", self.url))
            .json(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        let json = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
        Ok((status, json))
    }

    /// Submits a job that must be accepted; returns its id.
    pub async fn submit(
        &self,
        sql: &str,
        parallelism: u32,
        extra: Value,
    ) -> anyhow::Result<String> {
        let mut body = json!({"sql": sql, "parallelism": parallelism});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let (status, answer) = self.submit_raw(&body).await?;
        if status != 201 {
            bail!("submit answered {status}: {answer}");
        }
        Ok(answer["id"].as_str().context("job id")?.to_string())
    }

    pub async fn job(&self, id: &str) -> anyhow::Result<Value> {
        get_json(&format!("{}/api/v1/jobs/{id}", self.url)).await
    }

    pub async fn workers_json(&self) -> anyhow::Result<Value> {
        get_json(&format!("{}/api/v1/workers", self.url)).await
    }

    /// Waits until the job's details satisfy `want`; returns them.
    pub async fn wait_job(
        &self,
        id: &str,
        what: &str,
        want: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let result = wait_for(what, WAIT, || {
            let want = &want;
            async move { Ok(Some(self.job(id).await?).filter(|j| want(j))) }
        })
        .await;
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                let last = self.job(id).await.unwrap_or(Value::Null);
                bail!(
                    "{e:#}\nlast state of job {id}: {last:#}\n---- master ----\n{}",
                    self.master.output()
                )
            }
        }
    }

    /// Waits until the job is RUNNING with every subtask RUNNING.
    pub async fn wait_running(&self, id: &str) -> anyhow::Result<Value> {
        self.wait_job(id, "job running", |j| {
            j["status"] == "RUNNING" && subtasks(j).iter().all(|s| s["status"] == "RUNNING")
        })
        .await
    }

    /// Waits until the workers report exactly `n` allocated slots (slot reports come
    /// with heartbeats); returns them.
    pub async fn wait_allocated(&self, n: usize) -> anyhow::Result<Vec<(String, Value)>> {
        wait_for(&format!("{n} allocated slots"), WAIT, || async {
            let slots = self.allocated_slots().await?;
            Ok((slots.len() == n).then_some(slots))
        })
        .await
    }

    /// The slots of every active worker that hold subtasks: (worker id, slot).
    pub async fn allocated_slots(&self) -> anyhow::Result<Vec<(String, Value)>> {
        let workers = self.workers_json().await?;
        let mut out = Vec::new();
        for w in workers["workers"].as_array().into_iter().flatten() {
            for s in w["slots"].as_array().into_iter().flatten() {
                if s["state"] == "allocated" {
                    out.push((w["id"].as_str().unwrap_or_default().to_string(), s.clone()));
                }
            }
        }
        Ok(out)
    }
}

/// The statuses of a job's status history, oldest first.
pub fn status_history(job: &Value) -> Vec<String> {
    job["status_history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h["status"].as_str().map(str::to_string))
        .collect()
}

/// Every subtask of a job's details, flattened.
pub fn subtasks(job: &Value) -> Vec<Value> {
    job["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|v| v["subtasks"].as_array().cloned().unwrap_or_default())
        .collect()
}

async fn start_master(
    http: &str,
    data_dir: &Path,
    db: &str,
    env: &[(String, String)],
) -> anyhow::Result<EddyProcess> {
    let args = server_args(
        "master",
        http,
        data_dir,
        &[
            "--db",
            db,
            "--heartbeat-interval",
            HEARTBEAT_INTERVAL,
            "--heartbeat-timeout",
            HEARTBEAT_TIMEOUT,
        ],
    );
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let process = EddyProcess::spawn("master", &args, &env)?;
    crate::wait_healthy(&format!("http://{http}"), || process.output()).await?;
    Ok(process)
}
