//! Text output of `eddy job`: tables rendered from the REST bodies of
//! [`eddy_api::jobs`]. Pure functions of their inputs (the current time is a parameter),
//! so tests pin the output.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use comfy_table::{CellAlignment, Table, TableComponent, presets};
use eddy_api::jobs::{
    JobDetails, JobException, JobSummary, JobsResponse, StatusChange, SubtaskDetails, TaskMetrics,
    VertexDetails,
};

/// Spaces between two columns of a table.
const COLUMN_GAP: u16 = 3;
/// Shown for an absent value.
const NONE: &str = "-";
/// Column headers of `eddy job list` (and of the job `submit` prints).
pub const JOBS_HEADER: [&str; 7] = [
    "ID",
    "NAME",
    "STATUS",
    "PARALLELISM",
    "ATTEMPT",
    "START",
    "DURATION",
];
/// Column headers of the tables of `eddy job show`.
pub const VERTICES_HEADER: [&str; 6] = [
    "ID",
    "NAME",
    "PARALLELISM",
    "SLOT SHARING GROUP",
    "RECORDS IN",
    "RECORDS OUT",
];
pub const SUBTASKS_HEADER: [&str; 8] = [
    "VERTEX",
    "SUBTASK",
    "WORKER",
    "SLOT",
    "STATUS",
    "RECORDS IN",
    "RECORDS OUT",
    "WATERMARK",
];
pub const EXCEPTIONS_HEADER: [&str; 5] = ["TIME", "ATTEMPT", "TASK", "WORKER", "MESSAGE"];
pub const HISTORY_HEADER: [&str; 3] = ["TIME", "STATUS", "DETAIL"];
/// Units of a job's duration shown.
const DURATION_UNITS: usize = 2;
/// First second humantime cannot format (year 10000).
const MAX_RFC3339_SECS: u64 = 253_402_300_800;

/// A borderless table: capitalised headers, columns aligned, numbers right-aligned.
/// `numeric` lists the columns aligned right.
fn table(header: &[&str], numeric: &[usize], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    for component in [
        TableComponent::LeftBorder,
        TableComponent::RightBorder,
        TableComponent::VerticalLines,
        TableComponent::HeaderLines,
        TableComponent::LeftHeaderIntersection,
        TableComponent::MiddleHeaderIntersections,
        TableComponent::RightHeaderIntersection,
    ] {
        t.remove_style(component);
    }
    t.set_header(header.to_vec());
    t.add_rows(rows);
    let last = header.len().saturating_sub(1);
    for (i, column) in t.column_iter_mut().enumerate() {
        column.set_padding((0, if i == last { 0 } else { COLUMN_GAP }));
        if numeric.contains(&i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    let mut out = t.trim_fmt();
    out.push('\n');
    out
}

/// Epoch milliseconds as RFC 3339 UTC to the second, e.g. `2024-05-01T12:00:00Z`.
pub fn format_time(epoch_ms: u64) -> String {
    let secs = epoch_ms / 1000;
    if secs >= MAX_RFC3339_SECS {
        return epoch_ms.to_string();
    }
    match UNIX_EPOCH.checked_add(Duration::from_secs(secs)) {
        Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
        None => epoch_ms.to_string(),
    }
}

/// A watermark (epoch ms, may be Flink's `Long.MIN_VALUE`-like negatives).
fn format_watermark(watermark: Option<i64>) -> String {
    match watermark {
        None => NONE.into(),
        Some(w) if w < 0 => w.to_string(),
        Some(w) => format_time(w as u64),
    }
}

/// How long a job ran: to its end, or to `now_ms` while it runs; its two largest units
/// (`1m 30s`, `3days 4h`).
pub fn format_duration(start_ms: u64, end_ms: Option<u64>, now_ms: u64) -> String {
    let end = end_ms.unwrap_or(now_ms);
    let secs = end.saturating_sub(start_ms) / 1000;
    let full = humantime::format_duration(Duration::from_secs(secs)).to_string();
    full.split_whitespace()
        .take(DURATION_UNITS)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Milliseconds since the Unix epoch, for [`format_duration`] of running jobs.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The list row of a job's details (what `POST /api/v1/jobs` answers).
pub fn summary_of(job: &JobDetails) -> JobSummary {
    JobSummary {
        id: job.id.clone(),
        name: job.name.clone(),
        status: job.status,
        start_time: job.start_time,
        end_time: job.end_time,
        parallelism: job.parallelism,
        attempt: job.attempt,
    }
}

/// `eddy job list`: ID, NAME, STATUS, PARALLELISM, ATTEMPT, START, DURATION.
pub fn render_jobs(jobs: &JobsResponse, now_ms: u64) -> String {
    if jobs.jobs.is_empty() {
        return "No jobs.\n".into();
    }
    render_summaries(&jobs.jobs, now_ms)
}

pub fn render_summaries(jobs: &[JobSummary], now_ms: u64) -> String {
    let rows = jobs
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.name.clone(),
                j.status.to_string(),
                j.parallelism.to_string(),
                j.attempt.to_string(),
                format_time(j.start_time),
                format_duration(j.start_time, j.end_time, now_ms),
            ]
        })
        .collect();
    table(&JOBS_HEADER, &[3, 4], rows)
}

/// `eddy job show`: the job's fields, then its vertices, subtasks, exceptions and status
/// history.
pub fn render_job(job: &JobDetails, now_ms: u64) -> String {
    let status = match &job.reason {
        Some(reason) if !reason.is_empty() => format!("{} ({reason})", job.status),
        _ => job.status.to_string(),
    };
    let checkpoints = job
        .checkpoint_interval_ms
        .map(|ms| humantime::format_duration(Duration::from_millis(ms)).to_string())
        .unwrap_or_else(|| "off".into());
    let fields: [(&str, String); 12] = [
        ("ID", job.id.clone()),
        ("Name", job.name.clone()),
        ("Status", status),
        ("Attempt", job.attempt.to_string()),
        ("Restarts", job.restarts.to_string()),
        ("Parallelism", job.parallelism.to_string()),
        ("State backend", job.state_backend.clone()),
        ("Restart strategy", job.restart_strategy.clone()),
        ("Checkpoint interval", checkpoints),
        ("Start", format_time(job.start_time)),
        ("End", or_none(job.end_time.map(format_time))),
        (
            "Duration",
            format_duration(job.start_time, job.end_time, now_ms),
        ),
    ];
    let width = fields.iter().map(|(k, _)| k.len() + 1).max().unwrap_or(0);
    let mut out = String::new();
    for (key, value) in fields {
        out.push_str(&format!("{:<width$} {value}\n", format!("{key}:")));
    }
    let sections: [(&str, &[&str], &[usize], Vec<Vec<String>>); 4] = [
        (
            "Vertices",
            &VERTICES_HEADER,
            &[0, 2, 4, 5],
            vertex_rows(job),
        ),
        (
            "Subtasks",
            &SUBTASKS_HEADER,
            &[1, 3, 5, 6],
            subtask_rows(job),
        ),
        ("Exceptions", &EXCEPTIONS_HEADER, &[1], exception_rows(job)),
        ("Status history", &HISTORY_HEADER, &[], history_rows(job)),
    ];
    for (title, header, numeric, rows) in sections {
        out.push_str(&format!("\n{title}:\n"));
        if rows.is_empty() {
            out.push_str("  none\n");
        } else {
            out.push_str(&table(header, numeric, rows));
        }
    }
    out
}

/// The value, or [`NONE`].
fn or_none(value: Option<impl ToString>) -> String {
    value.map_or_else(|| NONE.into(), |v| v.to_string())
}

fn records(m: &TaskMetrics) -> [String; 2] {
    [m.records_in.to_string(), m.records_out.to_string()]
}

fn vertex_rows(job: &JobDetails) -> Vec<Vec<String>> {
    let row = |v: &VertexDetails| {
        let mut row = vec![
            v.id.to_string(),
            v.name.clone(),
            v.parallelism.to_string(),
            v.slot_sharing_group.clone(),
        ];
        row.extend(records(&v.metrics));
        row
    };
    job.vertices.iter().map(row).collect()
}

fn subtask_rows(job: &JobDetails) -> Vec<Vec<String>> {
    let row = |v: &VertexDetails, s: &SubtaskDetails| {
        let mut row = vec![
            v.name.clone(),
            s.index.to_string(),
            or_none(s.worker_id.as_ref()),
            or_none(s.slot_index),
            s.status.clone(),
        ];
        row.extend(records(&s.metrics));
        row.push(format_watermark(s.metrics.current_watermark));
        row
    };
    job.vertices
        .iter()
        .flat_map(|v| v.subtasks.iter().map(move |s| row(v, s)))
        .collect()
}

fn exception_rows(job: &JobDetails) -> Vec<Vec<String>> {
    let row = |e: &JobException| {
        vec![
            format_time(e.at),
            e.attempt.to_string(),
            or_none(e.task.as_ref()),
            or_none(e.worker_id.as_ref()),
            e.message.clone(),
        ]
    };
    job.exceptions.iter().map(row).collect()
}

fn history_rows(job: &JobDetails) -> Vec<Vec<String>> {
    let row = |c: &StatusChange| vec![format_time(c.at), c.status.to_string(), c.detail.clone()];
    job.status_history.iter().map(row).collect()
}

#[cfg(test)]
mod tests;
