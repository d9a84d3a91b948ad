-- Checkpoint statistics (sqlite), kept in the database so they survive a master failover.
-- Keep in step with migrations/postgres/0004_checkpoints.sql.

CREATE TABLE checkpoints (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    checkpoint_id BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    -- IN_PROGRESS, COMPLETED or FAILED.
    status TEXT NOT NULL,
    -- 1 for a savepoint, 0 for a checkpoint.
    is_savepoint BIGINT NOT NULL,
    trigger_time_ms BIGINT NOT NULL,
    end_time_ms BIGINT,
    state_size_bytes BIGINT NOT NULL,
    checkpointed_bytes BIGINT NOT NULL,
    -- The longest alignment of any subtask.
    alignment_ms BIGINT NOT NULL,
    -- The checkpoint's directory in the checkpoint storage.
    path TEXT NOT NULL,
    -- Why it failed ('' otherwise).
    failure TEXT NOT NULL,
    written_term BIGINT NOT NULL,
    PRIMARY KEY (job_id, checkpoint_id)
);

-- One acknowledged subtask of a checkpoint.
CREATE TABLE checkpoint_subtasks (
    job_id TEXT NOT NULL,
    checkpoint_id BIGINT NOT NULL,
    vertex BIGINT NOT NULL,
    subtask BIGINT NOT NULL,
    ack_time_ms BIGINT NOT NULL,
    start_delay_ms BIGINT NOT NULL,
    alignment_ms BIGINT NOT NULL,
    sync_ms BIGINT NOT NULL,
    async_ms BIGINT NOT NULL,
    state_size_bytes BIGINT NOT NULL,
    key_group_first BIGINT NOT NULL,
    key_group_last BIGINT NOT NULL,
    file TEXT NOT NULL,
    written_term BIGINT NOT NULL,
    PRIMARY KEY (job_id, checkpoint_id, vertex, subtask)
);
