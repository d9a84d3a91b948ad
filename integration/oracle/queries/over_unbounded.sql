-- OVER aggregate, unbounded RANGE frame: each bidder's running count and max price (event time)
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
  bidder     BIGINT,
  price      BIGINT,
  date_time  TIMESTAMP(3),
  cnt        BIGINT,
  max_price  BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

INSERT INTO sink
SELECT bidder, price, date_time,
  COUNT(*) OVER (PARTITION BY bidder ORDER BY date_time RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cnt,
  MAX(price) OVER (PARTITION BY bidder ORDER BY date_time RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS max_price
FROM bid;
