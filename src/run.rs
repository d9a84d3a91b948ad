//! `eddy run FILE.sql`: plans a Flink SQL script and runs it to completion in a local
//! mini-cluster — the same runtime code the cluster's workers run — then prints a
//! one-line summary to stderr. SQL errors exit with code 2 and say where they are.

use std::process::ExitCode;
use std::time::Instant;

use eddy_sql::{PlanOptions, plan_script};
use eddy_worker::graph::JobGraph;
use eddy_worker::graph::slot_sharing::SlotPlan;
use eddy_worker::runtime::executor::{ExecutionConfig, deploy};
use eddy_worker::runtime::metrics::MetricsSnapshot;
use eddy_worker::state::backend::StateBackendConfig;

use crate::cli::RunArgs;

/// Exit code for a script that does not plan (bad SQL, unknown connector or option).
pub const EXIT_INVALID_SQL: u8 = 2;

/// The sinks' latency (`'latency.column'`), the slowest sink subtask's percentiles.
fn latency_text(subtasks: &[(String, u32, MetricsSnapshot)]) -> String {
    let summaries: Vec<_> = subtasks
        .iter()
        .filter_map(|(_, _, m)| m.sink_latency)
        .collect();
    if summaries.is_empty() {
        return String::new();
    }
    let samples: u64 = summaries.iter().map(|s| s.samples).sum();
    let worst = |f: fn(&eddy_worker::runtime::latency::LatencySummary) -> u64| {
        summaries.iter().map(f).max().unwrap_or(0)
    };
    format!(
        ", sink latency p50 {} ms, p99 {} ms, max {} ms ({samples} rows)",
        worst(|s| s.p50_ms),
        worst(|s| s.p99_ms),
        worst(|s| s.max_ms)
    )
}

pub async fn run(args: RunArgs) -> ExitCode {
    let file = args.file.display().to_string();
    let sql = match std::fs::read_to_string(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {file}: {e}");
            return ExitCode::from(EXIT_INVALID_SQL);
        }
    };
    let options = PlanOptions {
        job_name: args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "sql-job".into()),
        parallelism: args.parallelism,
        settings: args.set.into_iter().collect(),
    };
    let managed_memory = args.managed_memory;
    let started = Instant::now();
    let planned = match plan_script(&sql, &options).await {
        Ok(p) => p,
        Err(e) => {
            match (e.line, e.column) {
                (Some(l), Some(c)) => eprintln!("error: {file}:{l}:{c}: {}", e.message),
                _ => eprintln!("error: {file}: {}", e.message),
            }
            return ExitCode::from(EXIT_INVALID_SQL);
        }
    };
    let graph = match JobGraph::from_stream_graph(planned.graph) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            return ExitCode::from(EXIT_INVALID_SQL);
        }
    };
    // The mini-cluster has exactly the slots the job needs; they share the managed memory.
    let slots = SlotPlan::new(&graph).slots.len().max(1) as u64;
    let total = managed_memory.unwrap_or_else(crate::default_managed_memory);
    // `SET 'state.backend.type' = 'rocksdb'`: RocksDB instances in a temporary
    // directory that goes when the run ends.
    let backend = match eddy_api::jobs::settings_state_backend(&planned.settings) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            return ExitCode::from(EXIT_INVALID_SQL);
        }
    };
    let rocksdb_dir = match backend {
        "rocksdb" => match tempfile::Builder::new().prefix("eddy-run-").tempdir() {
            Ok(dir) => Some(dir),
            Err(e) => {
                eprintln!("error: cannot create the RocksDB directory: {e}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let config = ExecutionConfig {
        managed_memory_per_slot: (total / slots) as usize,
        state_backend: match &rocksdb_dir {
            Some(dir) => StateBackendConfig::RocksDb {
                dir: dir.path().to_path_buf(),
            },
            None => StateBackendConfig::HashMap,
        },
        ..ExecutionConfig::default()
    };
    let job = match deploy(graph, config) {
        Ok(job) => job,
        Err(e) => {
            eprintln!("error: job failed to start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match job.join().await {
        Ok(result) => {
            let secs = started.elapsed().as_secs_f64();
            let rows_in: u64 = result
                .subtasks
                .iter()
                .filter(|(v, _, _)| v.starts_with("Source: "))
                .map(|(_, _, m)| m.records_in)
                .sum();
            let sum = |f: fn(&MetricsSnapshot) -> u64| -> u64 {
                result.subtasks.iter().map(|(_, _, m)| f(m)).sum()
            };
            let rows_out = sum(|m| m.sink_records);
            let late = sum(|m| m.late_records_dropped);
            let malformed = sum(|m| m.parse_errors_skipped);
            eprintln!(
                "eddy run: {rows_in} rows in, {rows_out} rows out, {late} late rows dropped, {malformed} malformed rows skipped, {secs:.2} s ({:.0} rows/s){}",
                rows_in as f64 / secs.max(1e-9),
                latency_text(&result.subtasks)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: job failed: {e}");
            ExitCode::FAILURE
        }
    }
}
