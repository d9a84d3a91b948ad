//! The command line: subcommands and flags. Every flag can also come from an `EDDY_*`
//! environment variable or from the TOML file given with `--config` (see
//! [`crate::config_file`]); precedence is flag > environment > file > default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "eddy",
    version,
    about = "Eddy: a Flink-style stream processor, run as a service"
)]
pub struct Cli {
    /// TOML file with defaults for any flag (keys are flag names: `http = "127.0.0.1:8081"`).
    #[arg(long, global = true, env = "EDDY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `eddy_control_plane=debug,info`.
    #[arg(long, global = true, env = "EDDY_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// A master and one worker in one process, SQLite under --data-dir (the embedded default).
    Standalone(StandaloneArgs),
    /// A master: REST API, dashboard, Raft, scheduler; workers connect to its --http address.
    Master(MasterArgs),
    /// A worker offering task slots to the master at --master.
    Worker(WorkerArgs),
    /// Run a Flink SQL file to completion in a local mini-cluster (the cluster's runtime).
    Run(RunArgs),
    /// Submit, list, show and cancel jobs on a running master (its REST API).
    Job(JobArgs),
}

#[derive(Debug, Args)]
pub struct JobArgs {
    #[command(subcommand)]
    pub command: JobCommand,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Submit a Flink SQL file as a job; prints its id and summary.
    Submit(JobSubmitArgs),
    /// The master's jobs, newest first.
    List(MasterClientFlags),
    /// One job: its fields, vertices, subtasks, exceptions and status history.
    Show(JobIdArgs),
    /// Cancel a job; prints the status it moved to.
    Cancel(JobIdArgs),
    /// Take a savepoint of a running job; waits for it and prints its directory.
    Savepoint(SavepointArgs),
    /// Stop a job with a savepoint; waits for it and prints its directory.
    Stop(StopArgs),
    /// Rescale a job: stop it with a savepoint and restart it from there at a new
    /// parallelism; waits for the savepoint.
    Rescale(RescaleArgs),
}

#[derive(Debug, Args, Clone)]
pub struct StopArgs {
    #[command(flatten)]
    pub savepoint: SavepointArgs,
    /// Flink's --drain: the sources end after the savepoint and the job drains (pending
    /// windows fire) before it finishes.
    #[arg(long)]
    pub drain: bool,
}

#[derive(Debug, Args, Clone)]
pub struct RescaleArgs {
    #[command(flatten)]
    pub job: JobIdArgs,
    /// The new parallelism.
    #[arg(long, short = 'p', value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: u32,
}

#[derive(Debug, Args, Clone)]
pub struct SavepointArgs {
    #[command(flatten)]
    pub job: JobIdArgs,
    /// Where the savepoint goes (default: the master's DATA_DIR/savepoints).
    #[arg(long)]
    pub target_directory: Option<String>,
    /// The operation's id (a retry with the same id triggers nothing new).
    #[arg(long)]
    pub trigger_id: Option<String>,
}

/// How a job command reaches the master and prints its answer.
#[derive(Debug, Args, Clone)]
pub struct MasterClientFlags {
    /// URL of the master's REST API.
    #[arg(long, env = "EDDY_MASTER", default_value = "http://127.0.0.1:8081")]
    pub master: String,
    /// Print the master's JSON answer (pretty-printed) instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct JobSubmitArgs {
    /// The SQL file: CREATE TABLE/VIEW, SET, and one or more INSERT INTO (one job).
    pub file: PathBuf,
    /// Default parallelism of every operator (default: the master's, 1).
    #[arg(long, short = 'p', env = "EDDY_PARALLELISM", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: Option<u32>,
    /// The job's name (default: the file name without its extension).
    #[arg(long)]
    pub name: Option<String>,
    /// Checkpoint interval, e.g. 10s (default: no checkpoints).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub checkpoint_interval: Option<Duration>,
    /// State backend (default: hashmap).
    #[arg(long, value_parser = ["hashmap", "rocksdb"])]
    pub state_backend: Option<String>,
    /// Restart strategy with Flink's default settings (default: exponential-delay).
    #[arg(long, value_parser = ["none", "fixed-delay", "exponential-delay"])]
    pub restart_strategy: Option<String>,
    /// Start from a savepoint's directory (Flink's `--fromSavepoint`, `-s`).
    #[arg(long, short = 's')]
    pub from_savepoint: Option<String>,
    #[command(flatten)]
    pub client: MasterClientFlags,
}

#[derive(Debug, Args, Clone)]
pub struct JobIdArgs {
    /// The job's id.
    pub id: String,
    #[command(flatten)]
    pub client: MasterClientFlags,
}

#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// The SQL file: CREATE TABLE/VIEW, SET, and one or more INSERT INTO (run as one job).
    pub file: PathBuf,
    /// Default parallelism of every operator (Flink's `parallelism.default`).
    #[arg(long, short = 'p', env = "EDDY_PARALLELISM", default_value_t = 1)]
    pub parallelism: u32,
    /// Managed memory for the job's state, split evenly over the slots it needs
    /// (default: a quarter of the machine's memory).
    #[arg(long, env = "EDDY_MANAGED_MEMORY", value_parser = parse_size)]
    pub managed_memory: Option<u64>,
    /// A configuration option, `key=value` (as `SET 'key' = 'value'`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, not '{s}'"))
}

#[derive(Debug, Args, Clone)]
pub struct MasterFlags {
    /// Address of the HTTP server (REST, dashboard, and gRPC for workers and masters).
    #[arg(long, env = "EDDY_HTTP", default_value = "127.0.0.1:8081")]
    pub http: SocketAddr,
    /// Directory for the SQLite database, the Raft log and checkpoints.
    #[arg(long, env = "EDDY_DATA_DIR", default_value = "./eddy-data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://PATH or postgres://USER:PASSWORD@HOST/DB (default sqlite://DATA_DIR/eddy.db).
    #[arg(long, env = "EDDY_DB")]
    pub db: Option<String>,
    /// How often workers send heartbeats.
    #[arg(long, env = "EDDY_HEARTBEAT_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,
    /// A worker without a heartbeat for this long is declared lost.
    #[arg(long, env = "EDDY_HEARTBEAT_TIMEOUT", default_value = "50s", value_parser = humantime::parse_duration)]
    pub heartbeat_timeout: Duration,
    /// Checkpoint storage (Flink's state.checkpoints.dir): a directory every worker can
    /// reach, or s3://BUCKET/PREFIX configured by the AWS_* environment variables
    /// (default DATA_DIR/checkpoints).
    #[arg(long, env = "EDDY_CHECKPOINT_DIR")]
    pub checkpoint_dir: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct SlotFlags {
    /// Task slots this worker offers (default: number of CPU cores).
    #[arg(long, env = "EDDY_SLOTS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub slots: Option<u32>,
    /// Managed memory of the worker, split evenly across slots, e.g. 2GiB (default: a quarter of RAM).
    #[arg(long, env = "EDDY_MANAGED_MEMORY", value_parser = parse_size)]
    pub managed_memory: Option<u64>,
    /// Where the RocksDB state backend keeps its working files (Flink's
    /// `state.backend.rocksdb.localdir`; default: the system's temporary directory).
    #[arg(long, env = "EDDY_LOCAL_STATE_DIR")]
    pub local_state_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct StandaloneArgs {
    #[command(flatten)]
    pub master: MasterFlags,
    #[command(flatten)]
    pub slots: SlotFlags,
    /// Submit the example job (Nexmark bids per auction) if the cluster has no jobs yet.
    #[arg(long, env = "EDDY_EXAMPLE_JOB")]
    pub example_job: bool,
}

#[derive(Debug, Args)]
pub struct MasterArgs {
    #[command(flatten)]
    pub master: MasterFlags,
    /// Optional extra address serving only the gRPC services (workers, Raft).
    #[arg(long, env = "EDDY_RPC")]
    pub rpc: Option<SocketAddr>,
    /// This master's Raft node id.
    #[arg(long, env = "EDDY_NODE_ID", default_value_t = 1)]
    pub node_id: u64,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// URL of the master, e.g. http://127.0.0.1:8081.
    #[arg(long, env = "EDDY_MASTER")]
    pub master: String,
    /// Address this worker serves RPC on and reports to the master (port 0: any free port).
    #[arg(long, env = "EDDY_RPC", default_value = "127.0.0.1:0")]
    pub rpc: SocketAddr,
    #[command(flatten)]
    pub slots: SlotFlags,
    /// Heartbeat interval (default: the master's).
    #[arg(long, env = "EDDY_HEARTBEAT_INTERVAL", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Option<Duration>,
    /// Without a successful heartbeat for this long the master is considered lost and the
    /// worker registers again (default: the master's heartbeat timeout).
    #[arg(long, env = "EDDY_HEARTBEAT_TIMEOUT", value_parser = humantime::parse_duration)]
    pub heartbeat_timeout: Option<Duration>,
}

/// Parses sizes such as `512MiB`, `2GB` or `1048576`.
fn parse_size(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("invalid size {s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("2 MB"), Ok(2_000_000));
        assert!(parse_size("lots").is_err());
    }

    /// The arguments of `eddy job submit …`.
    fn parse_submit(argv: &[&str]) -> JobSubmitArgs {
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string());
        let Ok(Cli {
            command:
                Command::Job(JobArgs {
                    command: JobCommand::Submit(args),
                }),
            ..
        }) = cli
        else {
            panic!("not a job submit: {cli:?}");
        };
        args
    }

    #[test]
    fn job_submit_parses() {
        let args = parse_submit(&[
            "eddy",
            "job",
            "submit",
            "f.sql",
            "--master",
            "http://x:1",
            "-p",
            "3",
            "--json",
        ]);
        assert_eq!(args.file, PathBuf::from("f.sql"));
        assert_eq!(args.parallelism, Some(3));
        assert_eq!(args.client.master, "http://x:1");
        assert!(args.client.json);
        assert_eq!(args.checkpoint_interval, None);
    }

    #[test]
    fn job_flags_parse() {
        let args = parse_submit(&[
            "eddy",
            "job",
            "submit",
            "q.sql",
            "--checkpoint-interval",
            "1m 30s",
            "--state-backend",
            "rocksdb",
            "--restart-strategy",
            "fixed-delay",
            "--name",
            "bids",
        ]);
        assert_eq!(args.checkpoint_interval, Some(Duration::from_secs(90)));
        assert_eq!(args.state_backend.as_deref(), Some("rocksdb"));
        assert_eq!(args.restart_strategy.as_deref(), Some("fixed-delay"));
        assert_eq!(args.name.as_deref(), Some("bids"));
        for bad in [
            ["--state-backend", "memory"],
            ["--restart-strategy", "always"],
        ] {
            let argv = ["eddy", "job", "submit", "q.sql", bad[0], bad[1]];
            assert!(Cli::try_parse_from(argv).is_err(), "{bad:?} accepted");
        }
        for sub in ["show", "cancel"] {
            let cli = Cli::try_parse_from(["eddy", "job", sub, "abc", "--json"]);
            assert!(cli.is_ok(), "{sub}: {cli:?}");
        }
        assert!(Cli::try_parse_from(["eddy", "job", "list", "--master", "http://m/"]).is_ok());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
