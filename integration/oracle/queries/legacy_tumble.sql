-- legacy group window: GROUP BY TUMBLE(date_time, 10 s), auction with TUMBLE_START/TUMBLE_END
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
  auction      BIGINT,
  cnt          BIGINT,
  sum_price    BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

INSERT INTO sink
SELECT TUMBLE_START(date_time, INTERVAL '10' SECOND) AS window_start,
  TUMBLE_END(date_time, INTERVAL '10' SECOND) AS window_end,
  auction, COUNT(*) AS cnt, SUM(price) AS sum_price
FROM bid
GROUP BY TUMBLE(date_time, INTERVAL '10' SECOND), auction;
