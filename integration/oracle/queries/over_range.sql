-- OVER aggregate, RANGE frame: each auction's bids in the 5 s up to each bid (event time)
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
  price      BIGINT,
  date_time  TIMESTAMP(3),
  cnt        BIGINT,
  sum_price  BIGINT,
  max_price  BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

INSERT INTO sink
SELECT auction, price, date_time,
  COUNT(*) OVER w AS cnt,
  SUM(price) OVER w AS sum_price,
  MAX(price) OVER w AS max_price
FROM bid
WINDOW w AS (PARTITION BY auction ORDER BY date_time RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW);
