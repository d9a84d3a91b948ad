-- Jobs (SQL scripts submitted to the cluster) and their status history (SQLite). Keep in
-- step with migrations/postgres/0002_jobs.sql.

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sql_text TEXT NOT NULL,
    parallelism BIGINT NOT NULL,
    -- Flink's job statuses: CREATED, SCHEDULED, RUNNING, FAILING, RESTARTING, CANCELLING,
    -- CANCELED, FINISHED, FAILED.
    status TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    -- The planned job graph (JSON, as GET /api/v1/jobs/{id} serves it).
    graph_json TEXT NOT NULL,
    start_time_ms BIGINT NOT NULL,
    end_time_ms BIGINT,
    written_term BIGINT NOT NULL
);

CREATE TABLE job_status_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs (id),
    status TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    -- Why (e.g. the reason a job waits in SCHEDULED, or a failure's message).
    detail TEXT NOT NULL,
    written_term BIGINT NOT NULL
);
CREATE INDEX job_status_history_job ON job_status_history (job_id, id);
