-- Latency of a filter: each row is stamped (pt) when the source reads it; the sink
-- records now - pt. The source is throttled to ${RATE} rows/s.
CREATE TABLE bid (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  channel   STRING,
  url       STRING,
  date_time TIMESTAMP(3),
  pt AS PROCTIME()
) WITH (
  'connector' = 'filesystem',
  'path'      = '${INPUT}',
  'format'    = 'json',
  'scan.rows-per-second' = '${RATE}'
);

CREATE TABLE sink (
  auction BIGINT,
  price   BIGINT,
  pt      TIMESTAMP_LTZ(3)
) WITH (
  'connector'      = 'blackhole',
  'latency.column' = 'pt'
);

INSERT INTO sink
SELECT auction, price, pt FROM bid WHERE auction % 123 = 0;
