-- legacy group window: GROUP BY SESSION(date_time, gap 5 s), bidder with SESSION_START/SESSION_END
CREATE TABLE bid (
  auction   BIGINT,
  bidder    BIGINT,
  price     BIGINT,
  channel   STRING,
  url       STRING,
  date_time TIMESTAMP(3),
  WATERMARK FOR date_time AS date_time - INTERVAL '1' SECOND
) WITH (
  'connector' = 'filesystem',
  'path'      = '${INPUT}',
  'format'    = 'json'
);

CREATE TABLE sink (
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  bidder       BIGINT,
  cnt          BIGINT,
  sum_price    BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

INSERT INTO sink
SELECT SESSION_START(date_time, INTERVAL '5' SECOND) AS window_start,
  SESSION_END(date_time, INTERVAL '5' SECOND) AS window_end,
  bidder, COUNT(*) AS cnt, SUM(price) AS sum_price
FROM bid
GROUP BY SESSION(date_time, INTERVAL '5' SECOND), bidder;
