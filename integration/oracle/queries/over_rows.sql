-- OVER aggregate, ROWS frame: the last 3 bids of each (auction, bidder) in event time
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
  auction    BIGINT,
  bidder     BIGINT,
  price      BIGINT,
  date_time  TIMESTAMP(3),
  cnt        BIGINT,
  sum_price  BIGINT,
  min_price  BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

INSERT INTO sink
SELECT auction, bidder, price, date_time,
  COUNT(*) OVER (PARTITION BY auction, bidder ORDER BY date_time ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS cnt,
  SUM(price) OVER (PARTITION BY auction, bidder ORDER BY date_time ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS sum_price,
  MIN(price) OVER (PARTITION BY auction, bidder ORDER BY date_time ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS min_price
FROM bid;
