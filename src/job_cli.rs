//! `eddy job submit|list|show|cancel|savepoint|stop|rescale`: a client of the master's REST API
//! (`/api/v1/jobs…`). Prints tables ([`crate::job_table`]) or, with `--json`, the master's
//! JSON. Exit codes: 0 success, 2 a SQL error (`FILE:LINE:COLUMN: message`, as `eddy
//! run`) or an unreadable SQL file, 1 anything else (refused request, unknown job,
//! master unreachable).

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use eddy_api::error::codes;
use eddy_api::jobs::{
    CancelJobResponse, JobDetails, JobsResponse, RestartStrategySpec, SubmitJobRequest,
};
use eddy_api::savepoints::{SavepointStatus, SavepointTriggerResponse};
use reqwest::Method;

use crate::cli::{JobArgs, JobCommand, JobIdArgs, JobSubmitArgs, MasterClientFlags};
use crate::job_client::{ClientError, Master, path_segment};
use crate::job_table;
use crate::run::EXIT_INVALID_SQL;

/// Largest SQL file submitted.
pub const MAX_SQL_BYTES: u64 = 1 << 20;
/// How long `eddy job savepoint|stop` waits for the savepoint, and how often it asks.
pub const SAVEPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
pub const SAVEPOINT_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Why a job command failed; decides the exit code and the line on stderr.
#[derive(Debug)]
enum Failure {
    /// The master refused the SQL: exit 2, `error: FILE:LINE:COLUMN: message`.
    InvalidSql {
        line: Option<u32>,
        column: Option<u32>,
        message: String,
    },
    /// The SQL file cannot be sent: exit 2, as `eddy run` for an unreadable file.
    File(String),
    /// Anything else: exit 1, `error: message`.
    Other(String),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Other(e.0)
    }
}

/// Runs one `eddy job` subcommand; prints its output and returns its exit code.
pub async fn run_job_command(args: JobArgs) -> ExitCode {
    let (result, file) = match args.command {
        JobCommand::Submit(a) => {
            let file = a.file.display().to_string();
            (submit(a).await, file)
        }
        JobCommand::List(client) => (list(client).await, String::new()),
        JobCommand::Show(a) => (show(a).await, String::new()),
        JobCommand::Cancel(a) => (cancel(a).await, String::new()),
        JobCommand::Savepoint(a) => {
            let body = serde_json::json!({"trigger_id": a.trigger_id, "target_directory": a.target_directory});
            (savepoint(a.job, "savepoints", body).await, String::new())
        }
        JobCommand::Stop(a) => {
            let s = a.savepoint;
            let body = serde_json::json!({"trigger_id": s.trigger_id, "target_directory": s.target_directory, "drain": a.drain});
            (savepoint(s.job, "stop", body).await, String::new())
        }
        JobCommand::Rescale(a) => {
            let body = serde_json::json!({"parallelism": a.parallelism});
            (savepoint(a.job, "rescale", body).await, String::new())
        }
    };
    let failure = match result {
        Ok(out) => return emit(&out),
        Err(f) => f,
    };
    match &failure {
        Failure::InvalidSql {
            line: Some(l),
            column: Some(c),
            message,
        } => eprintln!("error: {file}:{l}:{c}: {message}"),
        Failure::InvalidSql { message, .. } => eprintln!("error: {file}: {message}"),
        Failure::File(message) | Failure::Other(message) => eprintln!("error: {message}"),
    }
    match failure {
        Failure::InvalidSql { .. } | Failure::File(_) => ExitCode::from(EXIT_INVALID_SQL),
        Failure::Other(_) => ExitCode::FAILURE,
    }
}

/// Writes the command's output to stdout; a closed stdout is an error, not a panic.
fn emit(out: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`| head`) is no failure of the command.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the output: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn submit(args: JobSubmitArgs) -> Result<String, Failure> {
    let sql = read_sql(&args.file)?;
    let name = args.name.or_else(|| {
        args.file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
    });
    let request = SubmitJobRequest {
        sql,
        name,
        parallelism: args.parallelism,
        checkpoint_interval_ms: args
            .checkpoint_interval
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        state_backend: args.state_backend,
        restart_strategy: args.restart_strategy.map(RestartStrategySpec::Name),
        savepoint_path: args.from_savepoint,
    };
    let body = serde_json::to_string(&request)
        .map_err(|e| Failure::Other(format!("cannot encode the request: {e}")))?;
    let master = Master::new(&args.client.master)?;
    let text = master
        .call(Method::POST, "/api/v1/jobs", Some(body))
        .await?
        .map_err(|r| match &r.body {
            Some(b) if b.code == codes::INVALID_SQL => Failure::InvalidSql {
                line: b.line,
                column: b.column,
                message: b.message.clone(),
            },
            _ => Failure::Other(r.message()),
        })?;
    render(&text, args.client.json, |t| {
        let job: JobDetails = serde_json::from_str(t)?;
        let summary =
            job_table::render_summaries(&[job_table::summary_of(&job)], job_table::now_ms());
        Ok(format!("Job {} submitted: {}\n{summary}", job.id, job.name))
    })
}

async fn list(client: MasterClientFlags) -> Result<String, Failure> {
    let text = Master::new(&client.master)?
        .call(Method::GET, "/api/v1/jobs", None)
        .await?
        .map_err(|r| Failure::Other(r.message()))?;
    render(&text, client.json, |t| {
        let jobs: JobsResponse = serde_json::from_str(t)?;
        Ok(job_table::render_jobs(&jobs, job_table::now_ms()))
    })
}

async fn show(args: JobIdArgs) -> Result<String, Failure> {
    let path = format!("/api/v1/jobs/{}", path_segment(&args.id));
    let text = job_call(&args, Method::GET, &path).await?;
    render(&text, args.client.json, |t| {
        let job: JobDetails = serde_json::from_str(t)?;
        Ok(job_table::render_job(&job, job_table::now_ms()))
    })
}

async fn cancel(args: JobIdArgs) -> Result<String, Failure> {
    let path = format!("/api/v1/jobs/{}/cancel", path_segment(&args.id));
    let text = job_call(&args, Method::POST, &path).await?;
    render(&text, args.client.json, |t| {
        let c: CancelJobResponse = serde_json::from_str(t)?;
        Ok(format!("Job {}: {}\n", c.id, c.status))
    })
}

/// Triggers a savepoint (`action` savepoints, stop or rescale) and polls it until it
/// ended, at most [`SAVEPOINT_WAIT`].
async fn savepoint(
    job: JobIdArgs,
    action: &str,
    body: serde_json::Value,
) -> Result<String, Failure> {
    let id = path_segment(&job.id);
    let master = Master::new(&job.client.master)?;
    let refused = |r: crate::job_client::Refusal| {
        if r.is_not_found() {
            Failure::Other(format!("no job {}", job.id))
        } else {
            Failure::Other(r.message())
        }
    };
    let text = master
        .call(
            Method::POST,
            &format!("/api/v1/jobs/{id}/{action}"),
            Some(body.to_string()),
        )
        .await?
        .map_err(refused)?;
    let unexpected =
        |e: serde_json::Error| Failure::Other(format!("unexpected answer from the master: {e}"));
    let trigger: SavepointTriggerResponse = serde_json::from_str(&text).map_err(unexpected)?;
    let path = format!(
        "/api/v1/jobs/{id}/savepoints/{}",
        path_segment(&trigger.trigger_id)
    );
    let deadline = std::time::Instant::now() + SAVEPOINT_WAIT;
    loop {
        let text = master
            .call(Method::GET, &path, None)
            .await?
            .map_err(refused)?;
        let status: SavepointStatus = serde_json::from_str(&text).map_err(unexpected)?;
        match status.status.as_str() {
            "IN_PROGRESS" if std::time::Instant::now() < deadline => {
                tokio::time::sleep(SAVEPOINT_POLL).await;
            }
            "COMPLETED" => {
                return render(&text, job.client.json, |_| {
                    Ok(format!(
                        "Savepoint completed: {}\n",
                        status.location.unwrap_or_default()
                    ))
                });
            }
            "IN_PROGRESS" => {
                return Err(Failure::Other(format!(
                    "the savepoint (trigger id {}) did not complete within {} s",
                    trigger.trigger_id,
                    SAVEPOINT_WAIT.as_secs()
                )));
            }
            _ => {
                return Err(Failure::Other(format!(
                    "the savepoint failed: {}",
                    status.failure.unwrap_or_default()
                )));
            }
        }
    }
}

/// A call about one job: an unknown id says `no job ID`.
async fn job_call(args: &JobIdArgs, method: Method, path: &str) -> Result<String, Failure> {
    Master::new(&args.client.master)?
        .call(method, path, None)
        .await?
        .map_err(|r| {
            if r.is_not_found() {
                Failure::Other(format!("no job {}", args.id))
            } else {
                Failure::Other(r.message())
            }
        })
}

/// `--json`: the master's JSON pretty-printed; otherwise `table` of the parsed body.
fn render(
    text: &str,
    json: bool,
    table: impl FnOnce(&str) -> serde_json::Result<String>,
) -> Result<String, Failure> {
    let unexpected =
        |e: serde_json::Error| Failure::Other(format!("unexpected answer from the master: {e}"));
    if json {
        let mut out = crate::json_pretty::pretty_json(text).map_err(unexpected)?;
        out.push('\n');
        return Ok(out);
    }
    table(text).map_err(unexpected)
}

/// Reads the SQL file, refusing one over [`MAX_SQL_BYTES`] before sending anything.
fn read_sql(path: &Path) -> Result<String, Failure> {
    let file = path.display();
    let cannot_read = |e: std::io::Error| Failure::File(format!("cannot read {file}: {e}"));
    let f = std::fs::File::open(path).map_err(cannot_read)?;
    let mut bytes = Vec::new();
    f.take(MAX_SQL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > MAX_SQL_BYTES {
        return Err(Failure::File(format!(
            "{file} is larger than {} (the most a job's SQL may be)",
            bytesize::ByteSize::b(MAX_SQL_BYTES).display().iec()
        )));
    }
    String::from_utf8(bytes).map_err(|_| Failure::File(format!("{file} is not UTF-8 text")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_sql_files_are_refused() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(dir) = dir else { panic!("{dir:?}") };
        let path = dir.path().join("big.sql");
        std::fs::write(&path, vec![b' '; MAX_SQL_BYTES as usize + 1]).ok();
        assert!(matches!(read_sql(&path), Err(Failure::File(m)) if m.contains("larger")));
        std::fs::write(&path, "SELECT 1;").ok();
        assert!(matches!(read_sql(&path), Ok(s) if s == "SELECT 1;"));
        assert!(matches!(
            read_sql(&dir.path().join("missing.sql")),
            Err(Failure::File(_))
        ));
    }
}
