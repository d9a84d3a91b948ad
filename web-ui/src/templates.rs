//! Example scripts the new-job page offers as starting points (Flink SQL with the
//! connectors Eddy has: datagen, nexmark, print, blackhole).

/// One example script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// Stable id (the `data-template` attribute of its button).
    pub id: &'static str,
    pub title: &'static str,
    pub sql: &'static str,
}

pub const TEMPLATES: &[Template] = &[
    Template {
        id: "datagen-blackhole",
        title: "Generated rows → blackhole",
        sql: "-- Random rows at a fixed rate, filtered into a sink that discards them.
CREATE TABLE events (
  id BIGINT,
  v  INT
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '1000'
);

CREATE TABLE sink (
  id BIGINT,
  v  INT
) WITH ('connector' = 'blackhole');

INSERT INTO sink
SELECT id, v FROM events WHERE v <> 0;
",
    },
    Template {
        id: "rebalance",
        title: "Two sources rebalanced onto three sinks",
        sql: "-- Different parallelism on each side: the edge between them is REBALANCE.
CREATE TABLE src (
  id BIGINT,
  v  INT
) WITH (
  'connector' = 'datagen',
  'rows-per-second' = '2000',
  'scan.parallelism' = '2'
);

CREATE TABLE snk (
  id BIGINT,
  v  INT
) WITH (
  'connector' = 'blackhole',
  'sink.parallelism' = '3'
);

INSERT INTO snk
SELECT id, v FROM src WHERE v % 2 = 0;
",
    },
    Template {
        id: "nexmark-tumble",
        title: "Nexmark: bids per auction, 10 s tumbling windows",
        // The example job `make run` submits: one copy of it.
        sql: include_str!("../../examples/nexmark_auction_counts.sql"),
    },
    Template {
        id: "print",
        title: "Bounded datagen → print",
        sql: "-- A bounded source: the job FINISHES after 100 rows, printed by the worker.
CREATE TABLE numbers (
  n BIGINT,
  label STRING
) WITH (
  'connector' = 'datagen',
  'number-of-rows' = '100',
  'fields.n.kind' = 'sequence',
  'fields.n.start' = '1',
  'fields.n.end' = '100'
);

CREATE TABLE out (
  n BIGINT,
  squared BIGINT
) WITH ('connector' = 'print');

INSERT INTO out
SELECT n, n * n FROM numbers;
",
    },
];

/// The script the editor starts with.
pub fn default_template() -> &'static Template {
    &TEMPLATES[0]
}
