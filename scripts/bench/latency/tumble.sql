-- Latency of a processing-time tumbling aggregate: a window's result carries MAX(pt),
-- the stamp of its newest row, so the sink records how long after that row was read
-- the result came out (the window firing at its end, plus the pipeline). The source
-- is throttled to ${RATE} rows/s.
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
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  auction      BIGINT,
  cnt          BIGINT,
  pt           TIMESTAMP_LTZ(3)
) WITH (
  'connector'      = 'blackhole',
  'latency.column' = 'pt'
);

INSERT INTO sink
SELECT window_start, window_end, auction, COUNT(*) AS cnt, MAX(pt) AS pt
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(pt), INTERVAL '1' SECOND))
GROUP BY window_start, window_end, auction;
