//! The checkpoint statistics the REST API serves, built from the store's rows: counts,
//! the latest of each outcome, min/avg/max of the completed ones, the history, and one
//! checkpoint's per-vertex and per-subtask detail.

use eddy_api::checkpoints::{
    CheckpointCounts, CheckpointDetails, CheckpointInfo, CheckpointSubtask, CheckpointSummary,
    CheckpointVertex, CheckpointsResponse, LatestCheckpoints, MinAvgMax,
};
use eddy_api::rest::JobGraphInfo;

use crate::store::{CheckpointRow, CheckpointSubtaskRow, checkpoint_status};

pub fn info(r: &CheckpointRow) -> CheckpointInfo {
    CheckpointInfo {
        id: r.checkpoint_id,
        status: r.status.clone(),
        trigger_time: r.trigger_time_ms,
        end_time: r.end_time_ms,
        duration_ms: r.end_time_ms.map(|e| e.saturating_sub(r.trigger_time_ms)),
        state_size_bytes: r.state_size_bytes,
        checkpointed_bytes: r.checkpointed_bytes,
        alignment_ms: r.alignment_ms,
        is_savepoint: r.is_savepoint,
        attempt: r.attempt,
        path: r.path.clone(),
        failure: (!r.failure.is_empty()).then(|| r.failure.clone()),
    }
}

/// `rows` newest first (as the store lists them).
pub fn overview(rows: &[CheckpointRow], restored: u64) -> CheckpointsResponse {
    let history: Vec<CheckpointInfo> = rows.iter().map(info).collect();
    fn with<'a>(
        history: &'a [CheckpointInfo],
        status: &'a str,
    ) -> impl Iterator<Item = &'a CheckpointInfo> + 'a {
        history.iter().filter(move |c| c.status == status)
    }
    let counts = CheckpointCounts {
        completed: with(&history, checkpoint_status::COMPLETED).count() as u64,
        failed: with(&history, checkpoint_status::FAILED).count() as u64,
        in_progress: with(&history, checkpoint_status::IN_PROGRESS).count() as u64,
        restored,
    };
    let latest = LatestCheckpoints {
        completed: with(&history, checkpoint_status::COMPLETED)
            .find(|c| !c.is_savepoint)
            .cloned(),
        failed: with(&history, checkpoint_status::FAILED).next().cloned(),
        savepoint: with(&history, checkpoint_status::COMPLETED)
            .find(|c| c.is_savepoint)
            .cloned(),
    };
    let completed: Vec<&CheckpointInfo> = with(&history, checkpoint_status::COMPLETED).collect();
    let summary = CheckpointSummary {
        duration_ms: min_avg_max(completed.iter().filter_map(|c| c.duration_ms)),
        state_size_bytes: min_avg_max(completed.iter().map(|c| c.state_size_bytes)),
        checkpointed_bytes: min_avg_max(completed.iter().map(|c| c.checkpointed_bytes)),
    };
    CheckpointsResponse {
        counts,
        latest,
        summary,
        history,
    }
}

fn min_avg_max(values: impl Iterator<Item = u64>) -> MinAvgMax {
    let values: Vec<u64> = values.collect();
    if values.is_empty() {
        return MinAvgMax::default();
    }
    let sum: u128 = values.iter().map(|v| u128::from(*v)).sum();
    MinAvgMax {
        min: values.iter().copied().min().unwrap_or(0),
        avg: (sum / values.len() as u128) as u64,
        max: values.iter().copied().max().unwrap_or(0),
    }
}

/// One checkpoint, vertex by vertex, with every acknowledged subtask.
pub fn details(
    row: &CheckpointRow,
    graph: &JobGraphInfo,
    subtasks: &[CheckpointSubtaskRow],
) -> CheckpointDetails {
    let vertices = graph
        .vertices
        .iter()
        .map(|v| {
            let acks: Vec<CheckpointSubtask> = subtasks
                .iter()
                .filter(|s| s.vertex == v.id)
                .map(|s| CheckpointSubtask {
                    index: s.subtask,
                    ack_time: s.ack_time_ms,
                    duration_ms: s.ack_time_ms.saturating_sub(row.trigger_time_ms),
                    sync_ms: s.sync_ms,
                    async_ms: s.async_ms,
                    alignment_ms: s.alignment_ms,
                    start_delay_ms: s.start_delay_ms,
                    state_size_bytes: s.state_size_bytes,
                    key_groups: [s.key_group_first, s.key_group_last],
                    files: (!s.file.is_empty())
                        .then(|| s.file.clone())
                        .into_iter()
                        .collect(),
                })
                .collect();
            CheckpointVertex {
                id: v.id,
                name: v.name.clone(),
                parallelism: v.parallelism,
                acknowledged: acks.len() as u32,
                state_size_bytes: acks.iter().map(|a| a.state_size_bytes).sum(),
                duration_ms: acks.iter().map(|a| a.duration_ms).max().unwrap_or(0),
                alignment_ms: acks.iter().map(|a| a.alignment_ms).max().unwrap_or(0),
                subtasks: acks,
            }
        })
        .collect();
    CheckpointDetails {
        checkpoint: info(row),
        vertices,
    }
}

#[cfg(test)]
mod tests {
    use eddy_api::rest::VertexInfo;

    use super::*;

    fn row(id: u64, status: &str, size: u64, duration: u64) -> CheckpointRow {
        CheckpointRow {
            job_id: "j".into(),
            checkpoint_id: id,
            attempt: 1,
            status: status.into(),
            is_savepoint: false,
            trigger_time_ms: 1000 * id,
            end_time_ms: (status != checkpoint_status::IN_PROGRESS).then_some(1000 * id + duration),
            state_size_bytes: size,
            checkpointed_bytes: size,
            alignment_ms: 0,
            path: format!("/cp/j/chk-{id}"),
            failure: if status == checkpoint_status::FAILED {
                "declined".into()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn counts_latest_and_summary() {
        let rows = vec![
            row(4, checkpoint_status::IN_PROGRESS, 0, 0),
            row(3, checkpoint_status::COMPLETED, 300, 30),
            row(2, checkpoint_status::FAILED, 0, 20),
            row(1, checkpoint_status::COMPLETED, 100, 10),
        ];
        let o = overview(&rows, 0);
        assert_eq!(
            (o.counts.completed, o.counts.failed, o.counts.in_progress),
            (2, 1, 1)
        );
        assert_eq!(o.latest.completed.as_ref().map(|c| c.id), Some(3));
        assert_eq!(
            o.latest.failed.as_ref().and_then(|c| c.failure.clone()),
            Some("declined".into())
        );
        assert_eq!(
            o.summary.state_size_bytes,
            MinAvgMax {
                min: 100,
                avg: 200,
                max: 300
            }
        );
        assert_eq!(
            o.summary.duration_ms,
            MinAvgMax {
                min: 10,
                avg: 20,
                max: 30
            }
        );
        assert_eq!(
            o.history.iter().map(|c| c.id).collect::<Vec<_>>(),
            [4, 3, 2, 1]
        );
        assert_eq!(o.history[0].duration_ms, None);
    }

    #[test]
    fn details_group_subtasks_by_vertex() {
        let graph = JobGraphInfo {
            vertices: vec![VertexInfo {
                id: 0,
                name: "Source: s".into(),
                parallelism: 2,
                slot_sharing_group: "default".into(),
                operators: vec![],
            }],
            edges: vec![],
        };
        let ack = |subtask, size| CheckpointSubtaskRow {
            vertex: 0,
            subtask,
            ack_time_ms: 1050 + u64::from(subtask),
            start_delay_ms: 1,
            alignment_ms: 0,
            sync_ms: 2,
            async_ms: 3,
            state_size_bytes: size,
            key_group_first: 0,
            key_group_last: 63,
            file: format!("/cp/j/chk-1/0-{subtask}"),
        };
        let d = details(
            &row(1, checkpoint_status::COMPLETED, 30, 60),
            &graph,
            &[ack(0, 10), ack(1, 20)],
        );
        let v = &d.vertices[0];
        assert_eq!(
            (v.acknowledged, v.state_size_bytes, v.duration_ms),
            (2, 30, 51)
        );
        assert_eq!(v.subtasks[1].files, ["/cp/j/chk-1/0-1"]);
    }
}
