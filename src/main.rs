//! The `eddy` binary: parses the command line (flags, `EDDY_*` variables, `--config`
//! TOML) and runs a master, a worker, or both (`standalone`).

mod cli;
mod config_file;
mod example_job;
mod job_cli;
mod job_client;
mod job_table;
mod json_pretty;
mod run;
mod sql_planner;

use std::process::ExitCode;

/// mimalloc instead of the system allocator: keyed state and decoding allocate many
/// small, short-lived objects, which glibc's malloc serves slowly.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches};
use eddy_control_plane::{Master, MasterConfig};
use eddy_worker::{Worker, WorkerConfig};

use cli::{Cli, Command, MasterFlags, SlotFlags};

/// Default managed memory of a worker: this fraction of physical memory.
const DEFAULT_MANAGED_MEMORY_FRACTION: f64 = 0.25;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut cmd = Cli::command();
    if let Some(path) = config_file::config_path(&args) {
        match config_file::apply(cmd, &path) {
            Ok(c) => cmd = c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let cli = match cmd
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    init_tracing(&cli.log);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let command = match cli.command {
        Command::Run(args) => return runtime.block_on(run::run(args)),
        Command::Job(args) => return runtime.block_on(job_cli::run_job_command(args)),
        server => server,
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Standalone(args) => {
            let master = Master::start(master_config(&args.master, None, 1))
                .await
                .context("starting the master")?;
            let url = master.url();
            tracing::info!(url = %url, "master listening");
            let rpc = "127.0.0.1:0".parse()?;
            let worker =
                Worker::start(worker_config(url.clone(), rpc, &args.slots, None, None)).await?;
            tracing::info!(worker_id = %worker.id(), address = %worker.address(), "worker started");
            println!("Eddy standalone is running: dashboard and REST API at {url}");
            let worker_task = tokio::spawn(worker.run(std::future::pending()));
            if args.example_job {
                tokio::spawn(example_job::submit(url.clone()));
            }
            tokio::select! {
                res = master.run(shutdown_signal()) => res?,
                res = worker_task => res.context("worker task")?.context("worker")?,
            }
            Ok(())
        }
        Command::Master(args) => {
            let master = Master::start(master_config(&args.master, args.rpc, args.node_id))
                .await
                .context("starting the master")?;
            tracing::info!(url = %master.url(), "master listening");
            println!("Eddy master is running at {}", master.url());
            master.run(shutdown_signal()).await?;
            Ok(())
        }
        Command::Run(_) | Command::Job(_) => {
            anyhow::bail!("`eddy run` and `eddy job` are handled before this point")
        }
        Command::Worker(args) => {
            let config = worker_config(
                args.master,
                args.rpc,
                &args.slots,
                args.heartbeat_interval,
                args.heartbeat_timeout,
            );
            let worker = Worker::start(config).await?;
            tracing::info!(worker_id = %worker.id(), address = %worker.address(), "worker started");
            worker.run(shutdown_signal()).await?;
            Ok(())
        }
    }
}

fn master_config(
    flags: &MasterFlags,
    rpc: Option<std::net::SocketAddr>,
    node_id: u64,
) -> MasterConfig {
    MasterConfig {
        sql: Some(std::sync::Arc::new(sql_planner::EddySqlPlanner)),
        http: flags.http,
        rpc,
        data_dir: flags.data_dir.clone(),
        db: flags.db.clone(),
        heartbeat_interval: flags.heartbeat_interval,
        heartbeat_timeout: flags.heartbeat_timeout,
        checkpoint_dir: flags.checkpoint_dir.clone(),
        node_id,
    }
}

fn worker_config(
    master: String,
    rpc: std::net::SocketAddr,
    flags: &SlotFlags,
    heartbeat_interval: Option<std::time::Duration>,
    heartbeat_timeout: Option<std::time::Duration>,
) -> WorkerConfig {
    let slots = flags.slots.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1)
    });
    let managed_memory_bytes = flags.managed_memory.unwrap_or_else(default_managed_memory);
    WorkerConfig {
        master,
        rpc,
        slots,
        managed_memory_bytes,
        heartbeat_interval,
        heartbeat_timeout,
        planner: Some(std::sync::Arc::new(sql_planner::EddySqlPlanner)),
        local_state_dir: flags.local_state_dir.clone(),
    }
}

pub(crate) fn default_managed_memory() -> u64 {
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    (sys.total_memory() as f64 * DEFAULT_MANAGED_MEMORY_FRACTION) as u64
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
