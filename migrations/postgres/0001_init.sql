-- Eddy's catalog and history (Postgres). Keep in step with migrations/sqlite: same
-- tables, same columns, same meaning.

-- Fencing: the highest Raft term a leader has written with. A write carrying a lower
-- term comes from a stale leader and is refused.
CREATE TABLE leader_fence (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    term BIGINT NOT NULL
);
INSERT INTO leader_fence (id, term) VALUES (1, 0);

-- Workers (Flink's TaskManagers) as registered with the master.
CREATE TABLE workers (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    slots BIGINT NOT NULL,
    managed_memory_bytes BIGINT NOT NULL,
    state TEXT NOT NULL,
    registered_at_ms BIGINT NOT NULL,
    last_heartbeat_ms BIGINT NOT NULL,
    written_term BIGINT NOT NULL
);

-- Cluster history: registrations, losses, leadership changes.
CREATE TABLE cluster_events (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    written_term BIGINT NOT NULL
);
