-- A job's submission options and the exceptions of its attempts (postgres). Keep in step with
-- migrations/sqlite/0003_job_options_exceptions.sql.

-- The job request's options as JSON: checkpoint_interval_ms, state_backend, restart_strategy.
ALTER TABLE jobs ADD COLUMN options_json TEXT NOT NULL DEFAULT '{}';

CREATE TABLE job_exceptions (
    id BIGSERIAL PRIMARY KEY,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    attempt BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    message TEXT NOT NULL,
    -- Where it happened, when one task failed (NULL for e.g. a lost worker's whole share).
    worker_id TEXT,
    vertex BIGINT,
    subtask BIGINT,
    task TEXT,
    written_term BIGINT NOT NULL
);
CREATE INDEX job_exceptions_job ON job_exceptions (job_id, id);
