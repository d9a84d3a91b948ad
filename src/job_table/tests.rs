use eddy_api::jobs::{
    JobException, JobStatus, StatusChange, SubtaskDetails, TaskMetrics, VertexDetails,
};
use eddy_api::rest::EdgeInfo;

use super::*;

/// 2024-05-01T12:00:00Z.
const T0: u64 = 1_714_564_800_000;

fn jobs() -> JobsResponse {
    JobsResponse {
        jobs: vec![
            JobSummary {
                id: "3f2c9a".into(),
                name: "bids-per-auction".into(),
                status: JobStatus::Running,
                start_time: T0,
                end_time: None,
                parallelism: 12,
                attempt: 2,
            },
            JobSummary {
                id: "a1".into(),
                name: "q1".into(),
                status: JobStatus::Finished,
                start_time: T0 - 3_600_000,
                end_time: Some(T0 - 3_600_000 + 65_500),
                parallelism: 1,
                attempt: 1,
            },
        ],
    }
}

fn metrics(records_in: u64, records_out: u64, watermark: Option<i64>) -> TaskMetrics {
    TaskMetrics {
        records_in,
        records_out,
        current_watermark: watermark,
        ..TaskMetrics::default()
    }
}

fn subtask(index: u32, worker: Option<&str>, status: &str, m: TaskMetrics) -> SubtaskDetails {
    SubtaskDetails {
        index,
        worker_id: worker.map(Into::into),
        slot_index: worker.map(|_| index),
        status: status.into(),
        metrics: m,
    }
}

fn details() -> JobDetails {
    JobDetails {
        id: "3f2c9a".into(),
        name: "bids".into(),
        status: JobStatus::Restarting,
        reason: Some("waiting 1 s before attempt 2".into()),
        attempt: 2,
        sql: "INSERT INTO s SELECT * FROM b;".into(),
        parallelism: 2,
        start_time: T0,
        end_time: None,
        checkpoint_interval_ms: Some(10_000),
        state_backend: "hashmap".into(),
        restart_strategy: "fixed-delay (attempts 3, delay 1000 ms)".into(),
        restarts: 1,
        vertices: vec![
            VertexDetails {
                id: 1,
                name: "Source: bids".into(),
                parallelism: 2,
                slot_sharing_group: "default".into(),
                operators: vec!["Source: bids".into()],
                metrics: metrics(1500, 1500, Some(T0 as i64)),
                subtasks: vec![
                    subtask(
                        0,
                        Some("w-1"),
                        "RUNNING",
                        metrics(1000, 1000, Some(T0 as i64)),
                    ),
                    subtask(1, Some("w-2"), "RUNNING", metrics(500, 500, None)),
                ],
            },
            VertexDetails {
                id: 2,
                name: "Sink: s".into(),
                parallelism: 1,
                slot_sharing_group: "default".into(),
                operators: vec!["Sink: s".into()],
                metrics: metrics(1500, 0, None),
                subtasks: vec![subtask(0, None, "SCHEDULED", metrics(1500, 0, None))],
            },
        ],
        edges: vec![EdgeInfo {
            source: 1,
            target: 2,
            partitioning: "REBALANCE".into(),
        }],
        exceptions: vec![JobException {
            at: T0 + 5_000,
            attempt: 1,
            message: "boom".into(),
            worker_id: Some("w-2".into()),
            vertex: Some(1),
            subtask: Some(1),
            task: Some("Source: bids (2/2)".into()),
        }],
        status_history: vec![
            StatusChange {
                status: JobStatus::Created,
                at: T0,
                detail: String::new(),
            },
            StatusChange {
                status: JobStatus::Restarting,
                at: T0 + 5_000,
                detail: "boom".into(),
            },
        ],
    }
}

/// The byte offset of `cell` in `line`, which must contain it.
fn column_of(line: &str, cell: &str) -> usize {
    match line.find(cell) {
        Some(i) => i,
        None => panic!("{cell:?} not in {line:?}"),
    }
}

/// The words of a line, one space apart.
fn words(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn job_list_is_an_aligned_table() {
    let out = render_jobs(&jobs(), T0 + 90_000);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    let header = lines[0];
    assert!(header.starts_with("ID "), "{header:?}");
    assert_eq!(
        words(header),
        "ID NAME STATUS PARALLELISM ATTEMPT START DURATION"
    );
    let heads = JOBS_HEADER;
    // Text columns start under their header; numbers end under it.
    for (row, cells) in [
        (
            lines[1],
            ["3f2c9a", "bids-per-auction", "RUNNING", "12", "2"],
        ),
        (lines[2], ["a1", "q1", "FINISHED", "1", "1"]),
    ] {
        for (h, cell) in heads.iter().zip(cells).take(3) {
            assert_eq!(column_of(row, cell), column_of(header, h), "{row:?}");
        }
        for (h, cell) in heads.iter().zip(cells).skip(3) {
            let end = column_of(header, h) + h.len();
            assert_eq!(&row[end - cell.len()..end], cell, "{h} in {row:?}");
        }
        assert_eq!(
            column_of(row, "2024-05-01T"),
            column_of(header, "START"),
            "{row:?}"
        );
    }
    assert!(lines[1].contains("2024-05-01T12:00:00Z"));
    assert!(lines[1].ends_with("1m 30s"), "{:?}", lines[1]);
    assert!(lines[2].contains("2024-05-01T11:00:00Z"));
    assert!(lines[2].ends_with("1m 5s"), "{:?}", lines[2]);
    assert!(out.lines().all(|l| l == l.trim_end()), "trailing spaces");
    assert_eq!(
        render_jobs(&JobsResponse { jobs: vec![] }, T0),
        "No jobs.\n"
    );
}

#[test]
fn job_details_show_fields_vertices_subtasks_exceptions_history() {
    let job = details();
    let out = render_job(&job, T0 + 60_000);
    for line in [
        "ID:                  3f2c9a",
        "Name:                bids",
        "Status:              RESTARTING (waiting 1 s before attempt 2)",
        "Attempt:             2",
        "Restarts:            1",
        "Parallelism:         2",
        "State backend:       hashmap",
        "Restart strategy:    fixed-delay (attempts 3, delay 1000 ms)",
        "Checkpoint interval: 10s",
        "Start:               2024-05-01T12:00:00Z",
        "End:                 -",
        "Duration:            1m",
    ] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing in\n{out}");
    }
    let lines: Vec<&str> = out.lines().collect();
    let section = |title: &str| -> Vec<&str> {
        let start = lines.iter().position(|l| *l == title).map(|i| i + 1);
        let Some(start) = start else {
            panic!("no {title} in\n{out}")
        };
        lines[start..]
            .iter()
            .take_while(|l| !l.is_empty())
            .copied()
            .collect()
    };

    let vertices = section("Vertices:");
    assert_eq!(vertices.len(), 3, "{vertices:?}");
    let head = vertices[0];
    assert_eq!(
        words(head),
        "ID NAME PARALLELISM SLOT SHARING GROUP RECORDS IN RECORDS OUT"
    );
    assert_eq!(
        column_of(vertices[1], "Source: bids"),
        column_of(head, "NAME")
    );
    assert_eq!(column_of(vertices[2], "Sink: s"), column_of(head, "NAME"));
    assert_eq!(
        column_of(vertices[1], "default"),
        column_of(head, "SLOT SHARING")
    );
    let records_in_end = column_of(head, "RECORDS IN") + "RECORDS IN".len();
    assert_eq!(&vertices[1][records_in_end - 4..records_in_end], "1500");

    let subtasks = section("Subtasks:");
    assert_eq!(subtasks.len(), 4, "{subtasks:?}");
    let head = subtasks[0];
    assert_eq!(
        words(head),
        "VERTEX SUBTASK WORKER SLOT STATUS RECORDS IN RECORDS OUT WATERMARK"
    );
    assert!(subtasks[1].starts_with("Source: bids"));
    assert_eq!(column_of(subtasks[2], "w-2"), column_of(head, "WORKER"));
    assert_eq!(
        column_of(subtasks[3], "SCHEDULED"),
        column_of(head, "STATUS")
    );
    assert_eq!(
        column_of(subtasks[1], "2024-05-01T12:00:00Z"),
        column_of(head, "WATERMARK")
    );
    assert!(subtasks[2].ends_with(" -"), "{:?}", subtasks[2]);

    let exceptions = section("Exceptions:");
    assert_eq!(exceptions.len(), 2, "{exceptions:?}");
    assert_eq!(words(exceptions[0]), "TIME ATTEMPT TASK WORKER MESSAGE");
    assert!(exceptions[1].starts_with("2024-05-01T12:00:05Z"));
    assert!(exceptions[1].contains("Source: bids (2/2)"));
    assert!(exceptions[1].ends_with("boom"));

    let history = section("Status history:");
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(
        column_of(history[2], "RESTARTING"),
        column_of(history[0], "STATUS")
    );
    assert!(history[1].ends_with("CREATED"), "{:?}", history[1]);
    assert!(out.lines().all(|l| l == l.trim_end()), "trailing spaces");
}

#[test]
fn empty_sections_say_none() {
    let mut job = details();
    job.vertices.clear();
    job.exceptions.clear();
    job.status_history.clear();
    job.reason = None;
    job.end_time = Some(T0 + 2_000);
    let out = render_job(&job, T0 + 60_000);
    assert!(out.contains("Status:              RESTARTING\n"), "{out}");
    assert!(
        out.contains("End:                 2024-05-01T12:00:02Z\n"),
        "{out}"
    );
    assert!(out.contains("Duration:            2s\n"), "{out}");
    assert_eq!(out.matches("  none\n").count(), 4, "{out}");
}

#[test]
fn submit_summary_is_the_list_row() {
    let out = render_summaries(&[summary_of(&details())], T0 + 1_000);
    assert!(out.starts_with("ID "), "{out}");
    assert!(
        out.lines().nth(1).is_some_and(|l| l.starts_with("3f2c9a ")),
        "{out}"
    );
}

#[test]
fn times_out_of_range_stay_numbers() {
    assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_time(u64::MAX), u64::MAX.to_string());
    assert_eq!(format_watermark(Some(i64::MIN)), i64::MIN.to_string());
    assert_eq!(format_duration(T0, Some(T0 - 1), T0), "0s");
    assert_eq!(format_duration(0, None, 93_784_000), "1day 2h");
}
