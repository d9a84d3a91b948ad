//! A real S3-compatible server for tests: moto's server (PyPI `moto[server]`, installed
//! by `scripts/install-deps.sh` into `~/.cache/eddy-venv`, or `$EDDY_VENV`), one per
//! test on a free port, with one bucket.

use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

use crate::{WAIT, free_port, wait_for};

pub struct MotoServer {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
}

impl MotoServer {
    /// Starts the server and creates `bucket`.
    pub async fn start(bucket: &str) -> anyhow::Result<MotoServer> {
        let venv = std::env::var("EDDY_VENV").unwrap_or_else(|_| {
            format!(
                "{}/.cache/eddy-venv",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        let bin = format!("{venv}/bin/moto_server");
        if !std::path::Path::new(&bin).exists() {
            bail!("{bin} not found: run scripts/install-deps.sh (make test does)");
        }
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        let server = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_string(),
        };
        let client = reqwest::Client::new();
        wait_for("moto_server up", WAIT, || {
            let url = format!("{}/{bucket}", server.endpoint);
            let client = client.clone();
            async move {
                // Creating the bucket is the readiness probe.
                Ok(client
                    .put(url)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ()))
            }
        })
        .await?;
        Ok(server)
    }

    /// The environment object_store reads (`AmazonS3Builder::from_env`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "eddy".into()),
            ("AWS_SECRET_ACCESS_KEY", "eddy-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Keys of the bucket's objects under `prefix` (S3 ListObjectsV2).
    pub async fn keys(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let url = format!(
            "{}/{}?list-type=2&max-keys=1000&prefix={prefix}",
            self.endpoint, self.bucket
        );
        let body = reqwest::get(url).await?.text().await?;
        Ok(body
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect())
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
