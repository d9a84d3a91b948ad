-- legacy group window: GROUP BY HOP(date_time, slide 2 s, size 10 s), auction with HOP_START/HOP_END
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
  auction      BIGINT,
  window_start TIMESTAMP(3),
  window_end   TIMESTAMP(3),
  cnt          BIGINT,
  max_price    BIGINT
) WITH (
  'connector' = 'filesystem',
  'path'      = '${OUTPUT}',
  'format'    = 'csv'
);

INSERT INTO sink
SELECT auction, HOP_START(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) AS window_start,
  HOP_END(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) AS window_end,
  COUNT(*) AS cnt, MAX(price) AS max_price
FROM bid
GROUP BY auction, HOP(date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND);
